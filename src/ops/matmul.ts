// Matrix products: forward dispatch and backward rule side by side.
// Kernel family: shaders/matmul.wgsl (register-blocked, workgroup-tiled, naive entries).
// C = op(A)·op(B) (+ bias) (ReLU), batched over a leading axis with broadcasting.
import { ShapeError } from '../errors.js';
import type { Runtime } from '../gpu/runtime.js';
import { uniform } from '../gpu/uniform.js';
import { record } from '../autograd/tape.js';
import { empty, type Tensor } from '../tensor.js';
import { reluMask } from './elementwise.js';
import { sum, sumToShape } from './reduce.js';

export type MatmulVariant = 'register' | 'tiled' | 'naive';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['register', 'tiled', 'naive'];

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** [N], added to every row. */
  bias?: Tensor;
  activation?: 'none' | 'relu';
  /** Force a kernel variant (benchmarks, tests); otherwise the runtime's choice. */
  variant?: MatmulVariant;
}

/** Per-runtime variant choice; the autotuner (bench/tune) may overwrite it. */
const chosenVariant = new WeakMap<Runtime, MatmulVariant>();

export function defaultMatmulVariant(rt: Runtime): MatmulVariant {
  const chosen = chosenVariant.get(rt);
  if (chosen) return chosen;
  // Measured on llvmpipe: register-only blocking is about 2x the workgroup-tiled kernel
  // (its workgroup loads are scalar loops and barriers are costly); real GPUs reward tiles.
  return rt.ctx.info.isSoftware ? 'register' : 'tiled';
}

export function setMatmulVariant(rt: Runtime, variant: MatmulVariant): void {
  chosenVariant.set(rt, variant);
  rt.kernelChoices.set('matmul', variant);
}

interface Geometry {
  M: number;
  N: number;
  K: number;
  batch: number;
  batchA: number;
  batchB: number;
  outShape: number[];
}

function geometry(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Geometry {
  if (a.rank < 2 || b.rank < 2 || a.rank > 3 || b.rank > 3) {
    throw new ShapeError(`matmul takes rank-2 or rank-3 operands, got [${a.shape}] and [${b.shape}]`);
  }
  const [aR, aC] = a.shape.slice(-2);
  const [bR, bC] = b.shape.slice(-2);
  const M = transA ? aC : aR;
  const K = transA ? aR : aC;
  const Kb = transB ? bC : bR;
  const N = transB ? bR : bC;
  if (K !== Kb) {
    throw new ShapeError(
      `matmul: inner dimensions differ: op(A) is [${M}, ${K}] and op(B) is [${Kb}, ${N}] (A [${a.shape}]${transA ? 'ᵀ' : ''}, B [${b.shape}]${transB ? 'ᵀ' : ''})`,
    );
  }
  const batchA = a.rank === 3 ? a.shape[0] : 1;
  const batchB = b.rank === 3 ? b.shape[0] : 1;
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    throw new ShapeError(`matmul: batch sizes ${batchA} and ${batchB} do not broadcast`);
  }
  const batch = Math.max(batchA, batchB);
  const outShape = a.rank === 3 || b.rank === 3 ? [batch, M, N] : [M, N];
  return { M, N, K, batch, batchA, batchB, outShape };
}

/** Encode one matmul into `out` (which may be accumulated into). Not recorded on the tape. */
export function matmulInto(
  out: Tensor,
  a: Tensor,
  b: Tensor,
  opts: MatmulOptions & { accumulate?: boolean } = {},
): void {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const g = geometry(a, b, transA, transB);
  if (out.size !== g.batch * g.M * g.N) throw new ShapeError(`matmulInto: output [${out.shape}] is not [${g.outShape}]`);
  if (opts.bias && opts.bias.size !== g.N) throw new ShapeError(`matmul: bias has ${opts.bias.size} values for ${g.N} columns`);
  const rt = a.rt;
  const variant = opts.variant ?? defaultMatmulVariant(rt);
  const block = variant === 'naive' ? 8 : 32;
  const u = uniform()
    .u32(g.M)
    .u32(g.N)
    .u32(g.K)
    .u32(g.batch)
    .u32(g.batchA === 1 ? 0 : g.M * g.K)
    .u32(g.batchB === 1 ? 0 : g.K * g.N)
    .u32(g.M * g.N)
    .u32(0)
    .bytes();
  rt.dispatch(
    {
      shader: 'matmul',
      entry: `main_${variant}`,
      overrides: {
        TRANS_A: transA ? 1 : 0,
        TRANS_B: transB ? 1 : 0,
        HAS_BIAS: opts.bias ? 1 : 0,
        ACT: opts.activation === 'relu' ? 1 : 0,
        ACCUMULATE: opts.accumulate ? 1 : 0,
      },
    },
    u,
    [a.region(), b.region(), opts.bias ? opts.bias.region() : rt.dummyRegion(), out.region()],
    [Math.ceil(g.N / block), Math.ceil(g.M / block), g.batch],
  );
}

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const g = geometry(a, b, transA, transB);
  const out = empty(g.outShape, a.rt);
  if (g.K === 0) throw new ShapeError('matmul with an empty inner dimension');
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
      dB = transB ? matmul(d, a, { transA: true, transB: transA }) : matmul(a, d, { transA: !transA });
      if (g.batchB === 1 && g.batch > 1) dB = sumToShape(dB, [1, ...dB.shape.slice(1)]);
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
