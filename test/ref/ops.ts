// The float64 reference for every engine op: forward functions and their vector-Jacobian
// products (VJPs), written as plain loops straight from the definitions. The VJPs are
// checked against central finite differences (test/grad-ref.test.ts) before they are
// used to judge the GPU's backward rules.
import {
  type RefArray,
  broadcastOffset,
  broadcastShape,
  map,
  refArray,
  sizeOf,
  sumToShape,
  unravel,
  zipBroadcast,
} from './array.js';

// ------------------------------------------------------------ special functions

/**
 * erf to ~1e-15: a positive-term series (no cancellation) below 3, the Laplace continued
 * fraction for erfc above.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    // erf(x) = 2/√π · e^{−x²} · Σ (2x²)^n x / (1·3·…·(2n+1))
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (2 * ax * ax) / (2 * n + 1);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum;
  } else {
    // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))
    let f = ax;
    for (let n = 80; n >= 1; n--) f = ax + n / 2 / f;
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

// ------------------------------------------------------------ unary

export const UNARY_OPS = ['neg', 'exp', 'log', 'sqrt', 'abs', 'square', 'reciprocal', 'sign'] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

const unaryF: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  abs: Math.abs,
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  sign: Math.sign,
};

const unaryD: Record<UnaryOp, (x: number) => number> = {
  neg: () => -1,
  exp: Math.exp,
  log: (x) => 1 / x,
  sqrt: (x) => 0.5 / Math.sqrt(x),
  abs: Math.sign,
  square: (x) => 2 * x,
  reciprocal: (x) => -1 / (x * x),
  sign: () => 0,
};

export function unary(op: UnaryOp, x: RefArray): RefArray {
  return map(x, unaryF[op]);
}
export function unaryVjp(op: UnaryOp, x: RefArray, g: RefArray): RefArray {
  return map(x, (v, i) => g.data[i] * unaryD[op](v));
}

// ------------------------------------------------------------ scalar

export type ScalarOp = 'addScalar' | 'mulScalar' | 'affine' | 'powScalar' | 'clamp';

export function scalarOp(op: ScalarOp, x: RefArray, s0: number, s1 = 0): RefArray {
  switch (op) {
    case 'addScalar':
      return map(x, (v) => v + s0);
    case 'mulScalar':
      return map(x, (v) => v * s0);
    case 'affine':
      return map(x, (v) => v * s0 + s1);
    case 'powScalar':
      return map(x, (v) => v ** s0);
    case 'clamp':
      return map(x, (v) => Math.min(Math.max(v, s0), s1));
  }
}
export function scalarOpVjp(op: ScalarOp, x: RefArray, g: RefArray, s0: number, s1 = 0): RefArray {
  switch (op) {
    case 'addScalar':
      return map(x, (_, i) => g.data[i]);
    case 'mulScalar':
    case 'affine':
      return map(x, (_, i) => g.data[i] * s0);
    case 'powScalar':
      return map(x, (v, i) => g.data[i] * s0 * v ** (s0 - 1));
    case 'clamp':
      // PyTorch's convention: gradient 1 on the closed interval.
      return map(x, (v, i) => (v >= s0 && v <= s1 ? g.data[i] : 0));
  }
}

// ------------------------------------------------------------ binary (broadcasting)

export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow', 'greater', 'equal'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

const binaryF: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: Math.max,
  minimum: Math.min,
  pow: (a, b) => a ** b,
  greater: (a, b) => (a > b ? 1 : 0),
  equal: (a, b) => (a === b ? 1 : 0),
};

/** ∂f/∂a and ∂f/∂b (maximum/minimum: ties go to a; inputs in tests avoid ties). */
const binaryD: Record<BinaryOp, (a: number, b: number) => [number, number]> = {
  add: () => [1, 1],
  sub: () => [1, -1],
  mul: (a, b) => [b, a],
  div: (a, b) => [1 / b, -a / (b * b)],
  maximum: (a, b) => (a >= b ? [1, 0] : [0, 1]),
  minimum: (a, b) => (a <= b ? [1, 0] : [0, 1]),
  pow: (a, b) => [b * a ** (b - 1), a ** b * Math.log(a)],
  greater: () => [0, 0],
  equal: () => [0, 0],
};

export function binary(op: BinaryOp, a: RefArray, b: RefArray): RefArray {
  return zipBroadcast(a, b, binaryF[op]);
}

export function binaryVjp(op: BinaryOp, a: RefArray, b: RefArray, g: RefArray): [RefArray, RefArray] {
  const shape = broadcastShape(a.shape, b.shape);
  const ga = refArray(shape);
  const gb = refArray(shape);
  for (let i = 0; i < g.data.length; i++) {
    const idx = unravel(i, shape);
    const [da, db] = binaryD[op](a.data[broadcastOffset(idx, a.shape)], b.data[broadcastOffset(idx, b.shape)]);
    ga.data[i] = g.data[i] * da;
    gb.data[i] = g.data[i] * db;
  }
  return [sumToShape(ga, a.shape), sumToShape(gb, b.shape)];
}

/** cond != 0 ? a : b, all three broadcast. */
export function where(cond: RefArray, a: RefArray, b: RefArray): RefArray {
  const shape = broadcastShape(broadcastShape(cond.shape, a.shape), b.shape);
  const out = refArray(shape);
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, shape);
    const c = cond.data[broadcastOffset(idx, cond.shape)];
    out.data[i] = c !== 0 ? a.data[broadcastOffset(idx, a.shape)] : b.data[broadcastOffset(idx, b.shape)];
  }
  return out;
}
export function whereVjp(cond: RefArray, a: RefArray, b: RefArray, g: RefArray): [RefArray, RefArray] {
  const shape = g.shape;
  const ga = refArray(shape);
  const gb = refArray(shape);
  for (let i = 0; i < g.data.length; i++) {
    const c = cond.data[broadcastOffset(unravel(i, shape), cond.shape)];
    if (c !== 0) ga.data[i] = g.data[i];
    else gb.data[i] = g.data[i];
  }
  return [sumToShape(ga, a.shape), sumToShape(gb, b.shape)];
}

// ------------------------------------------------------------ activations

export const ACTIVATION_NAMES = ['relu', 'leakyRelu', 'tanh', 'sigmoid', 'gelu', 'softplus'] as const;
export type ActivationName = (typeof ACTIVATION_NAMES)[number];

export function activationValue(name: ActivationName, x: number, alpha = 0.01): number {
  switch (name) {
    case 'relu':
      return Math.max(x, 0);
    case 'leakyRelu':
      return x > 0 ? x : alpha * x;
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return sigmoid(x);
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'softplus':
      return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
  }
}

export function activationDerivative(name: ActivationName, x: number, alpha = 0.01): number {
  switch (name) {
    case 'relu':
      return x > 0 ? 1 : 0;
    case 'leakyRelu':
      return x > 0 ? 1 : alpha;
    case 'tanh':
      return 1 - Math.tanh(x) ** 2;
    case 'sigmoid':
      return sigmoid(x) * (1 - sigmoid(x));
    case 'gelu':
      return 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
    case 'softplus':
      return sigmoid(x);
  }
}

export function activation(name: ActivationName, x: RefArray, alpha = 0.01): RefArray {
  return map(x, (v) => activationValue(name, v, alpha));
}
export function activationVjp(name: ActivationName, x: RefArray, g: RefArray, alpha = 0.01): RefArray {
  return map(x, (v, i) => g.data[i] * activationDerivative(name, v, alpha));
}

// ------------------------------------------------------------ reductions

export const REDUCE_OPS = ['sum', 'mean', 'max', 'min', 'sumSquares'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

function normAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
}

function keptShape(shape: readonly number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Reduce over `axes` (all by default); the result has the keepDims shape unless keepDims is false. */
export function reduce(op: ReduceOp, x: RefArray, axes?: number | readonly number[], keepDims = false): RefArray {
  const ax = normAxes(axes, x.shape.length);
  const kept = keptShape(x.shape, ax);
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  const out = refArray(kept);
  const init = op === 'max' ? -Infinity : op === 'min' ? Infinity : 0;
  out.data.fill(init);
  for (let i = 0; i < x.data.length; i++) {
    const o = broadcastOffset(unravel(i, x.shape), kept);
    const v = x.data[i];
    if (op === 'max') out.data[o] = Math.max(out.data[o], v);
    else if (op === 'min') out.data[o] = Math.min(out.data[o], v);
    else out.data[o] += op === 'sumSquares' ? v * v : v;
  }
  if (op === 'mean') for (let i = 0; i < out.data.length; i++) out.data[i] /= count;
  const shape = keepDims ? kept : x.shape.filter((_, i) => !ax.includes(i));
  return { shape, data: out.data };
}

/** VJP of reduce; `g` has the reduced shape (with or without kept dims). max/min split ties evenly. */
export function reduceVjp(op: ReduceOp, x: RefArray, g: RefArray, axes?: number | readonly number[]): RefArray {
  const ax = normAxes(axes, x.shape.length);
  const kept = keptShape(x.shape, ax);
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  const out = refArray(x.shape);
  let extreme: RefArray | undefined;
  let ties: RefArray | undefined;
  if (op === 'max' || op === 'min') {
    extreme = reduce(op, x, ax, true);
    ties = refArray(kept);
    for (let i = 0; i < x.data.length; i++) {
      const o = broadcastOffset(unravel(i, x.shape), kept);
      if (x.data[i] === extreme.data[o]) ties.data[o]++;
    }
  }
  for (let i = 0; i < x.data.length; i++) {
    const o = broadcastOffset(unravel(i, x.shape), kept);
    const go = g.data[o];
    switch (op) {
      case 'sum':
        out.data[i] = go;
        break;
      case 'mean':
        out.data[i] = go / count;
        break;
      case 'sumSquares':
        out.data[i] = 2 * x.data[i] * go;
        break;
      default:
        out.data[i] = x.data[i] === extreme!.data[o] ? go / ties!.data[o] : 0;
    }
  }
  return out;
}

/** Max along one axis and its first index. */
export function argmax(x: RefArray, axis: number): { values: RefArray; indices: RefArray } {
  const ax = axis < 0 ? axis + x.shape.length : axis;
  const outer = sizeOf(x.shape.slice(0, ax));
  const R = x.shape[ax];
  const inner = sizeOf(x.shape.slice(ax + 1));
  const shape = x.shape.filter((_, i) => i !== ax);
  const values = refArray(shape);
  const indices = refArray(shape);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = -Infinity;
      let bestIdx = -1;
      for (let r = 0; r < R; r++) {
        const v = x.data[(o * R + r) * inner + i];
        if (bestIdx < 0 || v > best) {
          best = v;
          bestIdx = r;
        }
      }
      values.data[o * inner + i] = best;
      indices.data[o * inner + i] = bestIdx;
    }
  }
  return { values, indices };
}

// ------------------------------------------------------------ matmul

export interface RefMatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: RefArray;
  relu?: boolean;
}

interface MatmulGeometry {
  M: number;
  N: number;
  K: number;
  batch: number;
  batchA: number;
  batchB: number;
  outShape: number[];
}

function matmulGeometry(a: RefArray, b: RefArray, transA: boolean, transB: boolean): MatmulGeometry {
  const [aR, aC] = a.shape.slice(-2);
  const [bR, bC] = b.shape.slice(-2);
  const M = transA ? aC : aR;
  const K = transA ? aR : aC;
  const N = transB ? bR : bC;
  if ((transB ? bC : bR) !== K) throw new Error('ref matmul: inner dimensions differ');
  const batchA = a.shape.length === 3 ? a.shape[0] : 1;
  const batchB = b.shape.length === 3 ? b.shape[0] : 1;
  const batch = Math.max(batchA, batchB);
  const outShape = a.shape.length === 3 || b.shape.length === 3 ? [batch, M, N] : [M, N];
  return { M, N, K, batch, batchA, batchB, outShape };
}

/** Flat index of op(X)[r, c] for a (possibly transposed) [rows, cols] slice at `base`. */
function at(base: number, r: number, c: number, rows: number, cols: number, trans: boolean): number {
  return trans ? base + c * rows + r : base + r * cols + c;
}

/** C = op(A)·op(B) (+ bias) (ReLU), batched with broadcasting of a batch of one. */
export function matmul(a: RefArray, b: RefArray, opts: RefMatmulOptions = {}): RefArray {
  const tA = opts.transA ?? false;
  const tB = opts.transB ?? false;
  const { M, N, K, batch, batchA, batchB, outShape } = matmulGeometry(a, b, tA, tB);
  const out = refArray(outShape);
  for (let bi = 0; bi < batch; bi++) {
    const aBase = batchA === 1 ? 0 : bi * M * K;
    const bBase = batchB === 1 ? 0 : bi * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = opts.bias ? opts.bias.data[n] : 0;
        for (let k = 0; k < K; k++) s += a.data[at(aBase, m, k, M, K, tA)] * b.data[at(bBase, k, n, K, N, tB)];
        out.data[bi * M * N + m * N + n] = opts.relu ? Math.max(s, 0) : s;
      }
    }
  }
  return out;
}

/** Gradients of Σ g·matmul(a, b, opts) with respect to a, b and the bias. */
export function matmulVjp(a: RefArray, b: RefArray, g: RefArray, opts: RefMatmulOptions = {}): { a: RefArray; b: RefArray; bias?: RefArray } {
  const tA = opts.transA ?? false;
  const tB = opts.transB ?? false;
  const { M, N, K, batch, batchA, batchB } = matmulGeometry(a, b, tA, tB);
  const out = opts.relu ? matmul(a, b, opts) : undefined;
  const ga = refArray(a.shape);
  const gb = refArray(b.shape);
  const gBias = opts.bias ? refArray(opts.bias.shape) : undefined;
  for (let bi = 0; bi < batch; bi++) {
    const aBase = batchA === 1 ? 0 : bi * M * K;
    const bBase = batchB === 1 ? 0 : bi * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        const o = bi * M * N + m * N + n;
        const d = out && out.data[o] <= 0 ? 0 : g.data[o];
        if (d === 0) continue;
        if (gBias) gBias.data[n] += d;
        for (let k = 0; k < K; k++) {
          const ia = at(aBase, m, k, M, K, tA);
          const ib = at(bBase, k, n, K, N, tB);
          ga.data[ia] += d * b.data[ib];
          gb.data[ib] += d * a.data[ia];
        }
      }
    }
  }
  return { a: ga, b: gb, bias: gBias };
}

// ------------------------------------------------------------ losses

/** ½·mean((p − t)²). */
export function mseLoss(pred: RefArray, target: RefArray): number {
  let s = 0;
  for (let i = 0; i < pred.data.length; i++) s += (pred.data[i] - target.data[i]) ** 2;
  return (0.5 * s) / pred.data.length;
}
export function mseLossVjp(pred: RefArray, target: RefArray, g = 1): RefArray {
  return map(pred, (p, i) => ((p - target.data[i]) * g) / pred.data.length);
}

/** mean of −[y·log σ(z) + (1 − y)·log(1 − σ(z))], evaluated stably. */
export function bceWithLogits(logits: RefArray, target: RefArray): number {
  let s = 0;
  for (let i = 0; i < logits.data.length; i++) {
    const z = logits.data[i];
    s += Math.max(z, 0) - z * target.data[i] + Math.log1p(Math.exp(-Math.abs(z)));
  }
  return s / logits.data.length;
}
export function bceWithLogitsVjp(logits: RefArray, target: RefArray, g = 1): RefArray {
  return map(logits, (z, i) => ((sigmoid(z) - target.data[i]) * g) / logits.data.length);
}

/** mean over rows of −log softmax(row)[label]. */
export function softmaxCrossEntropy(logits: RefArray, labels: RefArray): number {
  const [n, c] = logits.shape;
  let s = 0;
  for (let r = 0; r < n; r++) {
    const row = logits.data.subarray(r * c, (r + 1) * c);
    const m = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - m);
    s += m + Math.log(z) - row[labels.data[r]];
  }
  return s / n;
}
export function softmaxCrossEntropyVjp(logits: RefArray, labels: RefArray, g = 1): RefArray {
  const [n, c] = logits.shape;
  const out = refArray(logits.shape);
  for (let r = 0; r < n; r++) {
    const row = logits.data.subarray(r * c, (r + 1) * c);
    const m = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - m);
    for (let j = 0; j < c; j++) {
      const p = Math.exp(row[j] - m) / z;
      out.data[r * c + j] = ((p - (j === labels.data[r] ? 1 : 0)) * g) / n;
    }
  }
  return out;
}
