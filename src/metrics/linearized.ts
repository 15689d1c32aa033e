// The linearized (kernel-regime) model of a full-batch GD run. With the loss ½·mean(r²) and
// K₀ = J₀J₀ᵀ the empirical NTK at θ₀ on the n training samples, the linearized network's
// residual follows r_{t+1} = (I − (η/n)·K₀)·r_t. This module
// - builds K₀ layerwise (as mlpNtk does, no Jacobian) as a grid of row×column blocks that each
//   fit one storage binding, so that n² floats never have to sit in one buffer;
// - iterates the recursion on the engine (one blockwise n×n matrix-vector product per epoch);
// - runs Lanczos on K₀/n started at r₀ (matrix-vector products on the engine, basis and
//   reorthogonalization in float64 on the CPU), whose Gauss quadrature gives the spectral
//   measure of K₀/n weighted by r₀: with it, every ‖p(K₀/n)·r₀‖² for a polynomial p of degree
//   ≤ 2m−1 is exact, the loss curve included while E < m;
// - compares the predicted and observed curves (t*, deviations) and judges fig5's width trend.
// No Node imports: the page runs this too.
import { ConfigError, LimitError, ShapeError } from '../errors.js';
import { noGrad } from '../autograd/tape.js';
import type { Sequential } from '../nn/layers.js';
import { activation, activationBackward } from '../ops/activation.js';
import { accumulateInto, add, addScalar, copy, full, mul, mulScalar, sub } from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { sumSquares } from '../ops/reduce.js';
import { empty, fromData, type Tensor, tidy } from '../tensor.js';
import { tridiagonalEigen } from './eigen.js';
import { mlpStages } from './ntk.js';

// ------------------------------------------------------------------ blocks and memory

/** A contiguous range of samples: one block row (and column) of K₀. */
export interface SampleBlock {
  start: number;
  rows: number;
}

/**
 * Rows per block: a block's layer activations [R, fan] and its K₀ block [R, R] must each fit
 * one storage binding (`limitBytes`), and `maxRows` can lower it further (tests, memory).
 */
export function blockRowsFor(n: number, maxFan: number, limitBytes: number, maxRows = Infinity): number {
  const byFan = Math.floor(limitBytes / (4 * maxFan));
  const bySquare = Math.floor(Math.sqrt(limitBytes / 4));
  const rows = Math.min(n, byFan, bySquare, maxRows);
  if (!(rows >= 1)) throw new LimitError(`One sample's activations (${maxFan} values) exceed this adapter's storage binding limit of ${limitBytes} bytes.`);
  return rows;
}

export function sampleBlocks(n: number, rows: number): SampleBlock[] {
  const out: SampleBlock[] = [];
  for (let s = 0; s < n; s += rows) out.push({ start: s, rows: Math.min(rows, n - s) });
  return out;
}

/** Layer sizes of an MLP: [d, W, ..., W, 1]. */
export function mlpDims(d: number, width: number, depth: number): number[] {
  return [d, ...Array.from({ length: depth - 1 }, () => width), 1];
}

export interface LinearizedMemory {
  /** K₀ itself: n² floats. */
  kernelBytes: number;
  /** Held while K₀ is built: every layer's input A_{l−1} and backprop signal Δ_l for all n samples. */
  factorBytes: number;
  /** Transient per block: one block's pre-activations and four [R, R] temporaries. */
  transientBytes: number;
  /** The three together: the peak the build needs. */
  totalBytes: number;
  blockRows: number;
  blocks: number;
}

/** What building K₀ on n samples holds on the device (bytes), for an MLP with layer sizes `dims`. */
export function linearizedMemory(n: number, dims: readonly number[], limitBytes: number, maxRows = Infinity): LinearizedMemory {
  const maxFan = Math.max(...dims);
  const blockRows = blockRowsFor(n, maxFan, limitBytes, maxRows);
  let perSample = 0;
  let preActivations = 0;
  for (let l = 1; l < dims.length; l++) {
    perSample += dims[l - 1] + dims[l];
    preActivations += dims[l];
  }
  const kernelBytes = 4 * n * n;
  const factorBytes = 4 * n * perSample;
  const transientBytes = 4 * blockRows * preActivations + 4 * 4 * blockRows * blockRows;
  return { kernelBytes, factorBytes, transientBytes, totalBytes: kernelBytes + factorBytes + transientBytes, blockRows, blocks: Math.ceil(n / blockRows) };
}

/** The largest sample count whose build fits `budgetBytes` (memory grows with n, so bisect). */
export function largestFittingSamples(n: number, dims: readonly number[], limitBytes: number, budgetBytes: number, maxRows = Infinity): number {
  const fits = (m: number) => linearizedMemory(m, dims, limitBytes, maxRows).totalBytes <= budgetBytes;
  if (fits(n)) return n;
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

// ------------------------------------------------------------------ K₀ in blocks

/** Rows [start, start+rows) of a row-major [n, cols] tensor, as a new tensor. */
function rowsOf(t: Tensor, start: number, rows: number, cols: number): Tensor {
  const out = empty([rows, cols], t.rt);
  const bytes = rows * cols * 4;
  t.rt.copy({ buffer: t.storage.buffer, offset: t.storage.byteOffset + start * cols * 4, size: bytes }, { ...out.region(), size: bytes });
  return out;
}

/**
 * K₀ as a grid of blocks: blocks[I][J] = K₀[rows of I, rows of J]. The caller owns it and
 * disposes it with dispose().
 */
export class NtkBlocks {
  constructor(
    readonly n: number,
    readonly ranges: readonly SampleBlock[],
    readonly blocks: Tensor[][],
  ) {}

  /** K₀·v for v given per block as row vectors [1, R_J]; returns (K₀·v)ᵀ per block [1, R_I]. */
  apply(v: readonly Tensor[]): Tensor[] {
    if (v.length !== this.ranges.length) throw new ShapeError(`NtkBlocks.apply: ${v.length} vector blocks for ${this.ranges.length} kernel blocks`);
    return this.blocks.map((row) => {
      let acc: Tensor | undefined;
      row.forEach((kij, j) => {
        // [1, R_J]·[R_I, R_J]ᵀ = [1, R_I] = (K_IJ·v_J)ᵀ, the engine's fast matrix-vector shape.
        const part = matmul(v[j], kij, { transB: true });
        acc = acc ? add(acc, part) : part;
      });
      return acc!;
    });
  }

  /** The whole n×n matrix on the CPU (tests and small n only). */
  async read(): Promise<Float32Array> {
    const out = new Float32Array(this.n * this.n);
    for (let i = 0; i < this.ranges.length; i++) {
      for (let j = 0; j < this.ranges.length; j++) {
        const b = await this.blocks[i][j].read();
        const ri = this.ranges[i];
        const rj = this.ranges[j];
        for (let r = 0; r < ri.rows; r++) out.set(b.subarray(r * rj.rows, (r + 1) * rj.rows), (ri.start + r) * this.n + rj.start);
      }
    }
    return out;
  }

  dispose(): void {
    for (const row of this.blocks) for (const b of row) b.dispose();
  }
}

export interface BlockedNtk {
  kernel: NtkBlocks;
  /** f(x_i) per block, [R_I, 1]. */
  outputs: Tensor[];
}

/**
 * The empirical NTK of `model` (at its current parameters) on the rows of `x` ([n, d]), built
 * block by block. For each block of samples a forward pass keeps every layer's input A_{l−1}
 * and a backward sweep of ∂f/∂z gives Δ_l (as in mlpNtk); the pre-activations are dropped
 * after the block. Then K₀[I, J] = Σ_l (Δ_l[I]·Δ_l[J]ᵀ) ⊙ (A_{l−1}[I]·A_{l−1}[J]ᵀ + 1).
 * Nothing is recorded on the tape and no parameter or gradient is written.
 */
export function blockedNtk(model: Sequential, x: Tensor, opts: { blockRows?: number } = {}): BlockedNtk {
  const stages = mlpStages(model);
  const d = stages[0].linear.inFeatures;
  if (x.rank !== 2 || x.shape[1] !== d) throw new ShapeError(`blockedNtk: input [${x.shape}] does not match the first layer's ${d} features`);
  const n = x.shape[0];
  const rt = x.rt;
  const limit = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
  const maxFan = Math.max(d, ...stages.map((s) => s.linear.outFeatures));
  const rowsPerBlock = blockRowsFor(n, maxFan, limit, opts.blockRows);
  const ranges = sampleBlocks(n, rowsPerBlock);
  return noGrad(() => {
    const inputs: Tensor[][] = [];
    const deltas: Tensor[][] = [];
    const outputs: Tensor[] = [];
    try {
      for (const { start, rows } of ranges) {
        const res = tidy(() => {
          const a0 = ranges.length === 1 ? x : rowsOf(x, start, rows, d);
          const ins: Tensor[] = [];
          const pre: Tensor[] = [];
          let a = a0;
          for (const s of stages) {
            ins.push(a);
            const w = s.linear.p(s.linear.weight);
            const b = s.linear.bias ? s.linear.p(s.linear.bias) : undefined;
            const z = matmul(a, w, { transB: true, bias: b });
            pre.push(z);
            a = s.activation ? activation(s.activation, z) : z;
          }
          const ds: Tensor[] = new Array(stages.length);
          let delta: Tensor = full([rows, 1], 1, rt);
          for (let l = stages.length - 1; l >= 0; l--) {
            ds[l] = delta;
            if (l > 0) {
              const g = matmul(delta, stages[l].linear.p(stages[l].linear.weight));
              const prevAct = stages[l - 1].activation;
              delta = prevAct ? activationBackward(prevAct, pre[l - 1], g) : g;
            }
          }
          // The caller's x is not ours to keep: the one-block case holds a copy.
          if (ins[0] === x) ins[0] = copy(x);
          return { ins: ins.map((t) => t.keep()), ds: ds.map((t) => t.keep()), out: pre[pre.length - 1].keep() };
        });
        inputs.push(res.ins);
        deltas.push(res.ds);
        outputs.push(res.out);
      }
      const blocks = ranges.map((ri, i) =>
        ranges.map((rj, j) =>
          tidy(() => {
            const k = full([ri.rows, rj.rows], 0, rt);
            for (let l = stages.length - 1; l >= 0; l--) {
              const gram = matmul(inputs[i][l], inputs[j][l], { transB: true });
              const deltaGram = matmul(deltas[i][l], deltas[j][l], { transB: true });
              accumulateInto(k, mul(deltaGram, stages[l].linear.bias ? addScalar(gram, 1) : gram));
            }
            return k.keep();
          }),
        ),
      );
      return { kernel: new NtkBlocks(n, ranges, blocks), outputs };
    } catch (e) {
      for (const o of outputs) o.dispose();
      throw e;
    } finally {
      for (const list of [...inputs, ...deltas]) for (const t of list) t.dispose();
    }
  });
}

/** Residuals r = f − y per block as row vectors [1, R_I] (y: [n] or [n, 1] on the device). */
export function blockResiduals(outputs: readonly Tensor[], y: Tensor, ranges: readonly SampleBlock[]): Tensor[] {
  return noGrad(() =>
    ranges.map((r, i) =>
      tidy(() => {
        const yi = ranges.length === 1 ? y.reshape([1, r.rows]) : rowsOf(y, r.start, r.rows, 1).reshape([1, r.rows]);
        return sub(outputs[i].reshape([1, r.rows]), yi).keep();
      }),
    ),
  );
}

// ------------------------------------------------------------------ the recursion on the engine

/**
 * ‖r_t‖²/(2n) for t = 0..epochs under r_{t+1} = r_t − (η/n)·K₀·r_t, iterated on the engine in
 * float32 (one blockwise matrix-vector product per epoch), read back once at the end.
 */
export async function iterateLinearized(kernel: NtkBlocks, r0: readonly Tensor[], lr: number, epochs: number): Promise<Float64Array> {
  if (!(Number.isInteger(epochs) && epochs >= 0)) throw new ConfigError(`iterateLinearized: epochs must be an integer ≥ 0, got ${epochs}`);
  const n = kernel.n;
  const rt = r0[0].rt;
  const sums = empty([epochs + 1], rt);
  let r = r0.map((t) => copy(t).keep());
  const step = lr / n;
  try {
    for (let t = 0; t <= epochs; t++) {
      const next = noGrad(() =>
        tidy(() => {
          const sq = r.map((ri) => sumSquares(ri)).reduce((a, b) => add(a, b));
          rt.copy({ ...sq.region(), size: 4 }, { buffer: sums.storage.buffer, offset: sums.storage.byteOffset + t * 4, size: 4 });
          if (t === epochs) return undefined;
          const kr = kernel.apply(r);
          return r.map((ri, i) => sub(ri, mulScalar(kr[i], step)).keep());
        }),
      );
      if (next) {
        for (const ri of r) ri.dispose();
        r = next;
      }
      // Bound the work queued between submissions on long horizons.
      if (t % 64 === 63) await rt.sync();
    }
    const s = await sums.read();
    return Float64Array.from(s, (v) => v / (2 * n));
  } finally {
    for (const ri of r) ri.dispose();
    sums.dispose();
  }
}

// ------------------------------------------------------------------ Lanczos from r₀ and Gauss quadrature

export interface SpectralMeasure {
  /** Gauss nodes: Ritz values of K₀/n (ascending). */
  nodes: Float64Array;
  /** Their weights: the share of ‖r₀‖² each node carries (sum 1). */
  weights: Float64Array;
  /** Lanczos steps taken (m); fewer than asked when r₀'s Krylov space closed (then exact). */
  steps: number;
  /** True when the Krylov space of r₀ closed (invariant): the quadrature is exact for every t. */
  exhausted: boolean;
  /** ‖r₀‖² (float64 from the read-back residual). */
  residualNormSq: number;
  /** Residual bound |β_m·s_m| of the largest node (an eigenvalue of K₀/n lies within it). */
  maxResidual: number;
}

/** β below this fraction of the largest |α| ends the iteration: r₀'s Krylov space is invariant. */
const BREAKDOWN_REL = 1e-10;

/**
 * Lanczos on A = K₀/n from q₁ = r₀/‖r₀‖ with `apply` computing A·v (float64 in and out, e.g.
 * by the engine), full reorthogonalization (twice) in float64. The eigen-decomposition
 * T_m = S·Θ·Sᵀ gives Gauss quadrature nodes θ_k and weights s_{1k}²:
 * r₀ᵀ g(A) r₀ ≈ ‖r₀‖²·Σ_k s_{1k}²·g(θ_k), exact for polynomials g of degree ≤ 2m − 1.
 */
export async function lanczosQuadrature(
  apply: (v: Float64Array) => Promise<Float64Array> | Float64Array,
  r0: ArrayLike<number>,
  steps: number,
): Promise<SpectralMeasure> {
  const n = r0.length;
  let rr = 0;
  for (let i = 0; i < n; i++) rr += r0[i] * r0[i];
  if (!(rr > 0)) throw new ConfigError('The initial residual is zero: every sample is fitted at θ₀, so there is no loss curve to predict.');
  const mMax = Math.max(1, Math.min(steps, n));
  const basis: Float64Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = [];
  let q = Float64Array.from(r0, (v) => v / Math.sqrt(rr));
  let exhausted = false;
  for (let j = 0; j < mMax; j++) {
    basis.push(q);
    const w = Float64Array.from(await apply(q));
    if (w.length !== n) throw new ShapeError(`lanczosQuadrature: the operator returned ${w.length} values for a vector of ${n}`);
    let a = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < basis.length; k++) {
        const b = basis[k];
        let h = 0;
        for (let i = 0; i < n; i++) h += b[i] * w[i];
        if (k === j) a += h;
        for (let i = 0; i < n; i++) w[i] -= h * b[i];
      }
    }
    alpha.push(a);
    let sq = 0;
    for (let i = 0; i < n; i++) sq += w[i] * w[i];
    const norm = Math.sqrt(sq);
    const scale = Math.max(...alpha.map(Math.abs), Number.MIN_VALUE);
    if (!(norm > BREAKDOWN_REL * scale)) {
      exhausted = true;
      beta.push(0);
      break;
    }
    beta.push(norm);
    if (j === mMax - 1) {
      if (mMax === n) exhausted = true;
      break;
    }
    q = w.map((v) => v / norm);
  }
  const m = alpha.length;
  // tridiagonalEigen tracks the last row of the eigenvectors; the first row (the Gauss weights)
  // is the last row of the reversed matrix, which has the same eigenvalues.
  const rev = tridiagonalEigen(alpha.slice().reverse(), beta.slice(0, m - 1).reverse());
  const fwd = tridiagonalEigen(alpha, beta.slice(0, m - 1));
  const weights = Float64Array.from(rev.lastRow, (s) => s * s);
  const total = weights.reduce((s, v) => s + v, 0);
  for (let k = 0; k < m; k++) weights[k] /= total;
  return {
    nodes: rev.values,
    weights,
    steps: m,
    exhausted,
    residualNormSq: rr,
    maxResidual: exhausted ? 0 : Math.abs(beta[m - 1] * fwd.lastRow[m - 1]),
  };
}

/** L_t = ‖r₀‖²/(2n)·Σ_k w_k (1 − ηθ_k)^{2t}, t = 0..epochs, from the quadrature. */
export function quadratureCurve(s: SpectralMeasure, lr: number, n: number, epochs: number): Float64Array {
  const out = new Float64Array(epochs + 1);
  const l0 = s.residualNormSq / (2 * n);
  const factors = Array.from(s.nodes, (th) => (1 - lr * th) ** 2);
  const terms = Float64Array.from(s.weights);
  for (let t = 0; t <= epochs; t++) {
    let sum = 0;
    for (let k = 0; k < terms.length; k++) {
      sum += terms[k];
      terms[k] *= factors[k];
    }
    out[t] = l0 * sum;
  }
  return out;
}

export interface SpectralAccount {
  /** η·λ_max(K₀/n) from the largest node (< 2 for stable GD). */
  etaLambdaMax: number;
  lambdaMax: number;
  /** λ below which (1 − ηλ)^{2E} > ½: such directions cannot converge within E epochs. */
  lambdaHalf: number;
  /** Share of the initial loss in those directions. */
  slowFraction: number;
  /** The quadrature's loss at E. */
  finalLoss: number;
  /** The quadrature's L_{E+1}/L_E: the predicted local rate per epoch at the end. */
  rateAtEnd: number;
}

/** What the spectral measure says about a horizon of E epochs at learning rate η. */
export function spectralAccount(s: SpectralMeasure, lr: number, n: number, epochs: number): SpectralAccount {
  const lambdaMax = Math.max(...s.nodes);
  const curve = quadratureCurve(s, lr, n, epochs + 1);
  let slow = 0;
  for (let k = 0; k < s.nodes.length; k++) if ((1 - lr * s.nodes[k]) ** (2 * epochs) > 0.5) slow += s.weights[k];
  return {
    etaLambdaMax: lr * lambdaMax,
    lambdaMax,
    lambdaHalf: epochs > 0 ? (1 - 2 ** (-1 / (2 * epochs))) / lr : Infinity,
    slowFraction: slow,
    finalLoss: curve[epochs],
    rateAtEnd: curve[epochs + 1] / curve[epochs],
  };
}
