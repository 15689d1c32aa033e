// The autograd tape. Ops call `record(output, inputs, backward)` to attach their backward rule;
// `backward(loss)` (src/ops/backward.ts, above the ops whose kernels it needs) walks the recorded
// nodes in reverse creation order.
import { installViewOp, Tensor, viewOf } from '../tensor.js';

import type { BackwardRule } from '../tensor.js';

// Declared beside Tensor (which holds its node), so that tensor.ts needs nothing from here.
export type { BackwardRule, TapeNode } from '../tensor.js';

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run fn without recording anything on the tape. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function needsGrad(inputs: readonly Tensor[]): boolean {
  return gradEnabled && inputs.some((t) => t.requiresGrad);
}

/** Attach a backward rule to `output` when any input requires a gradient. */
export function record(op: string, output: Tensor, inputs: readonly Tensor[], backward: BackwardRule): Tensor {
  if (needsGrad(inputs)) {
    output.requiresGrad = true;
    output.node = { op, inputs, backward };
  }
  return output;
}

/**
 * Where a backward rule may accumulate an input's gradient itself (e.g. a matmul epilogue that
 * adds into its output): the existing gradient buffer of a leaf that requires one (a gradient
 * arena's slot, or an earlier backward's). The rule then returns null for that input. The
 * tape would have added the same values to the same buffer at the same point (right after the
 * rule), so the result is unchanged, one pass and one temporary fewer.
 */
export function leafGradTarget(t: Tensor): Tensor | undefined {
  return !t.node && t.requiresGrad && t.grad && t.grad.size === t.size ? t.grad : undefined;
}

// Reshape is a view, but its gradient must flow back through the original shape.
installViewOp((t, shape) => {
  const out = viewOf(t, shape);
  return record('reshape', out, [t], (g) => [viewOf(g, t.shape)]);
});
