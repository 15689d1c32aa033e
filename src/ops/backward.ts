// backward(loss): the tape's reverse pass. It walks the nodes that ops recorded (src/autograd/tape.ts)
// in reverse creation order, calls each node's rule with the gradient of its output, and
// accumulates into leaves' `.grad`. It lives above the ops because it needs their kernels (a
// copy, an in-place add, ones); the tape below them only records, so neither needs a hook.
import { LplrError, ShapeError } from '../errors.js';
import { noGrad } from '../autograd/tape.js';
import { runtime, tidy, type Tensor } from '../tensor.js';
import { accumulateInto, copy, full } from './elementwise.js';

/** Leaf gradient buffers preallocated by the caller (e.g. a gradient arena) are accumulated into. */
export function backward(loss: Tensor, gradOutput?: Tensor): void {
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
    grads.set(loss.id, gradOutput ?? full(loss.shape, 1, runtime()));
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
          if (inp.grad) accumulateInto(inp.grad, gi);
          else inp.grad = copy(gi).reshape(inp.shape).keep();
          return;
        }
        const prev = grads.get(inp.id);
        if (prev) {
          // Out of place: a rule may hand the same tensor to several inputs (add), so
          // accumulating into `prev` in place could change another input's gradient.
          const total = copy(prev);
          accumulateInto(total, gi);
          grads.set(inp.id, total);
        }
        else grads.set(inp.id, gi.shape.length === inp.shape.length && gi.shape.every((d, j) => d === inp.shape[j]) ? gi : gi.reshape(inp.shape));
      });
    }
    // Free the graph: saved tensors are released with the nodes.
    for (const t of nodes) t.node = undefined;
  });
}
