// Matrix products as recorded ops: geometry and the backward rule. The kernels, their
// chooser and matmulInto (one unrecorded product) are in src/kernels/matmul.ts.
import { ShapeError } from '../errors.js';
import { leafGradTarget, record } from '../autograd/tape.js';
import { empty, type Tensor } from '../tensor.js';
import { matmulGeometry, matmulInto, type MatmulOptions } from '../kernels/matmul.js';
import { reluMask } from './elementwise.js';
import { sum, sumToShape } from './reduce.js';

export * from '../kernels/matmul.js';

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const g = matmulGeometry(a, b, transA, transB);
  if (g.K === 0) throw new ShapeError('matmul with an empty inner dimension');
  const out = empty(g.outShape, a.rt);
  matmulInto(out, a, b, opts);
  const inputs = opts.bias ? [a, b, opts.bias] : [a, b];
  return record('matmul', out, inputs, (gOut) => {
    // ReLU epilogue: mask the incoming gradient by the saved output.
    const d = opts.activation === 'relu' ? reluMask(gOut, out) : gOut;
    let dA: Tensor | null = null;
    let dB: Tensor | null = null;
    if (a.requiresGrad) {
      dA = transA ? matmul(b, d, { transA: transB, transB: true }) : matmul(d, b, { transB: !transB });
      if (g.batchA === 1 && g.batch > 1) dA = sumToShape(dA, [1, ...dA.shape.slice(1)]);
    }
    if (b.requiresGrad) {
      // A weight's gradient goes straight into its gradient buffer (the arena) through the
      // ACCUMULATE epilogue, where nothing else needs it first (no batch sum, not also A's).
      const target = g.batch === 1 && b !== a && b !== opts.bias ? leafGradTarget(b) : undefined;
      if (target) {
        if (transB) matmulInto(target, d, a, { transA: true, transB: transA, accumulate: true });
        else matmulInto(target, a, d, { transA: !transA, accumulate: true });
      } else {
        dB = transB ? matmul(d, a, { transA: true, transB: transA }) : matmul(a, d, { transA: !transA });
        if (g.batchB === 1 && g.batch > 1) dB = sumToShape(dB, [1, ...dB.shape.slice(1)]);
      }
    }
    const dBias = opts.bias?.requiresGrad ? sum(d.reshape([g.batch * g.M, g.N]), 0) : null;
    return [dA, dB, dBias];
  });
}

/** y = x·Wᵀ + b with PyTorch's weight layout W [out, in]; optional fused ReLU. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor, activation: 'none' | 'relu' = 'none'): Tensor {
  if (x.rank !== 2) throw new ShapeError(`linear expects input [batch, features], got [${x.shape}]`);
  if (weight.rank !== 2 || weight.shape[1] !== x.shape[1]) {
    throw new ShapeError(`linear: input has ${x.shape[1]} features but the weight is [${weight.shape}] ([out, in])`);
  }
  return matmul(x, weight, { transB: true, bias, activation });
}
