// The autograd tape. Ops call `record(output, inputs, backward)`; `backward(loss)`
// walks the recorded nodes in reverse creation order, calling each node's rule with
// the gradient of its output, and accumulates into leaves' `.grad`.
import { LplrError, ShapeError } from '../errors.js';
import { installViewOp, Tensor, tidy, viewOf } from '../tensor.js';

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

/**
 * Hooks the tape needs from the op library (set by src/ops/index.ts): in-place
 * accumulation into a leaf gradient and a copy. Kept as hooks so that this module has
 * no dependency on the kernels.
 */
export interface GradKernels {
  accumulateInto(target: Tensor, g: Tensor): void;
  copy(g: Tensor): Tensor;
  ones(shape: readonly number[]): Tensor;
}
let kernels: GradKernels | undefined;
export function installGradKernels(k: GradKernels): void {
  kernels = k;
}

/** Leaf gradient buffers preallocated by the caller (e.g. a gradient arena) are accumulated into. */
export function backward(loss: Tensor, gradOutput?: Tensor): void {
  if (!kernels) throw new LplrError('autograd kernels are not installed (import lplr ops)');
  const k = kernels;
  if (!loss.requiresGrad) throw new LplrError('backward(): the tensor does not depend on anything that requires a gradient.');
  if (!gradOutput && loss.size !== 1) {
    throw new ShapeError(`backward() without a gradient needs a scalar, got shape [${loss.shape}]`);
  }
  // Collect the graph reachable from the loss.
  const nodes: Tensor[] = [];
  const seen = new Set<number>();
  const stack: Tensor[] = [loss];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t.id) || !t.node) continue;
    seen.add(t.id);
    nodes.push(t);
    for (const inp of t.node.inputs) if (inp.requiresGrad && inp.node && !seen.has(inp.id)) stack.push(inp);
  }
  // Ids grow with creation time, so descending id is a reverse topological order.
  nodes.sort((a, b) => b.id - a.id);

  tidy(() => {
    const grads = new Map<number, Tensor>();
    grads.set(loss.id, gradOutput ?? k.ones(loss.shape));
    for (const t of nodes) {
      const g = grads.get(t.id);
      if (!g) continue;
      grads.delete(t.id);
      const node = t.node!;
      // Rules run untaped: no higher-order graphs are built.
      const inGrads = noGrad(() => node.backward(g));
      node.inputs.forEach((inp, i) => {
        const gi = inGrads[i];
        if (!gi || !inp.requiresGrad) return;
        if (gi.size !== inp.size) {
          throw new ShapeError(`backward of ${node.op}: gradient [${gi.shape}] does not match input [${inp.shape}]`);
        }
        if (!inp.node) {
          // Leaf: accumulate into .grad (allocated on first use, kept past this scope).
          if (inp.grad) k.accumulateInto(inp.grad, gi);
          else inp.grad = k.copy(gi).reshape(inp.shape).keep();
          return;
        }
        const prev = grads.get(inp.id);
        if (prev) {
          // Out of place: a rule may hand the same tensor to several inputs (add), so
          // accumulating into `prev` in place could change another input's gradient.
          const total = k.copy(prev);
          k.accumulateInto(total, gi);
          grads.set(inp.id, total);
        }
        else grads.set(inp.id, gi.shape.length === inp.shape.length && gi.shape.every((d, j) => d === inp.shape[j]) ? gi : gi.reshape(inp.shape));
      });
    }
    // Free the graph: saved tensors are released with the nodes.
    for (const t of nodes) t.node = undefined;
  });
}

// Reshape is a view, but its gradient must flow back through the original shape.
installViewOp((t, shape) => {
  const out = viewOf(t, shape);
  return record('reshape', out, [t], (g) => [viewOf(g, t.shape)]);
});
