// Float64 reference implementations for the convolution-stack tests (conv, pooling,
// batch norm, residual block), written from the definitions with plain loops and
// independent of the GPU code, plus finite differences and comparison helpers.

export type F64 = Float64Array;

/** Deterministic uniform values in [lo, hi) (mulberry32). */
export function randomValues(n: number, seed: number, lo = -1, hi = 1): F64 {
  let a = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = lo + (hi - lo) * u;
  }
  return out;
}

/** Round to float32 (what the GPU sees), kept as float64 for the reference. */
export function f32(values: F64): F64 {
  return Float64Array.from(Float32Array.from(values));
}

export interface ConvShape {
  batch: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
}

export function convOut(s: ConvShape): { ho: number; wo: number } {
  return { ho: Math.floor((s.h + 2 * s.pad - s.kh) / s.stride) + 1, wo: Math.floor((s.w + 2 * s.pad - s.kw) / s.stride) + 1 };
}

/** y[b, co, oh, ow] = Σ_{ci, ky, kx} x[b, ci, oh·s − p + ky, ow·s − p + kx] · w[co, ci, ky, kx] + bias[co]. */
export function conv2dRef(x: F64, w: F64, bias: F64 | undefined, s: ConvShape): F64 {
  const { ho, wo } = convOut(s);
  const y = new Float64Array(s.batch * s.cout * ho * wo);
  for (let b = 0; b < s.batch; b++)
    for (let co = 0; co < s.cout; co++)
      for (let oh = 0; oh < ho; oh++)
        for (let ow = 0; ow < wo; ow++) {
          let acc = bias ? bias[co] : 0;
          for (let ci = 0; ci < s.cin; ci++)
            for (let ky = 0; ky < s.kh; ky++) {
              const ih = oh * s.stride - s.pad + ky;
              if (ih < 0 || ih >= s.h) continue;
              for (let kx = 0; kx < s.kw; kx++) {
                const iw = ow * s.stride - s.pad + kx;
                if (iw < 0 || iw >= s.w) continue;
                acc += x[((b * s.cin + ci) * s.h + ih) * s.w + iw] * w[((co * s.cin + ci) * s.kh + ky) * s.kw + kx];
              }
            }
          y[((b * s.cout + co) * ho + oh) * wo + ow] = acc;
        }
  return y;
}

/** Gradients of Σ y·dy by the chain rule through the same loops (scatter form). */
export function conv2dBackwardRef(x: F64, w: F64, dy: F64, s: ConvShape): { dx: F64; dw: F64; db: F64 } {
  const { ho, wo } = convOut(s);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(s.cout);
  for (let b = 0; b < s.batch; b++)
    for (let co = 0; co < s.cout; co++)
      for (let oh = 0; oh < ho; oh++)
        for (let ow = 0; ow < wo; ow++) {
          const g = dy[((b * s.cout + co) * ho + oh) * wo + ow];
          db[co] += g;
          for (let ci = 0; ci < s.cin; ci++)
            for (let ky = 0; ky < s.kh; ky++) {
              const ih = oh * s.stride - s.pad + ky;
              if (ih < 0 || ih >= s.h) continue;
              for (let kx = 0; kx < s.kw; kx++) {
                const iw = ow * s.stride - s.pad + kx;
                if (iw < 0 || iw >= s.w) continue;
                const xi = ((b * s.cin + ci) * s.h + ih) * s.w + iw;
                const wi = ((co * s.cin + ci) * s.kh + ky) * s.kw + kx;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
            }
        }
  return { dx, dw, db };
}

export interface PoolShape {
  batch: number;
  c: number;
  h: number;
  w: number;
  k: number;
  stride: number;
  pad: number;
}

export function poolOut(s: PoolShape): { ho: number; wo: number } {
  return { ho: Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1, wo: Math.floor((s.w + 2 * s.pad - s.k) / s.stride) + 1 };
}

/** Max pool; `arg` holds the flat input index of each window's first maximum. */
export function maxPoolRef(x: F64, s: PoolShape): { y: F64; arg: Int32Array } {
  const { ho, wo } = poolOut(s);
  const y = new Float64Array(s.batch * s.c * ho * wo);
  const arg = new Int32Array(y.length);
  for (let pl = 0; pl < s.batch * s.c; pl++)
    for (let oh = 0; oh < ho; oh++)
      for (let ow = 0; ow < wo; ow++) {
        let best = -Infinity;
        let bi = -1;
        for (let ky = 0; ky < s.k; ky++)
          for (let kx = 0; kx < s.k; kx++) {
            const ih = oh * s.stride - s.pad + ky;
            const iw = ow * s.stride - s.pad + kx;
            if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
            const i = (pl * s.h + ih) * s.w + iw;
            if (bi < 0 || x[i] > best) {
              best = x[i];
              bi = i;
            }
          }
        const o = (pl * ho + oh) * wo + ow;
        y[o] = best;
        arg[o] = bi;
      }
  return { y, arg };
}

export function maxPoolBackwardRef(xLength: number, arg: Int32Array, dy: F64): F64 {
  const dx = new Float64Array(xLength);
  arg.forEach((i, o) => (dx[i] += dy[o]));
  return dx;
}

/** Average pool; the divisor is the full window (count_include_pad) or its valid part. */
export function avgPoolRef(x: F64, s: PoolShape, countPad: boolean): F64 {
  const { ho, wo } = poolOut(s);
  const y = new Float64Array(s.batch * s.c * ho * wo);
  for (let pl = 0; pl < s.batch * s.c; pl++)
    for (let oh = 0; oh < ho; oh++)
      for (let ow = 0; ow < wo; ow++) {
        let acc = 0;
        let n = 0;
        for (let ky = 0; ky < s.k; ky++)
          for (let kx = 0; kx < s.k; kx++) {
            const ih = oh * s.stride - s.pad + ky;
            const iw = ow * s.stride - s.pad + kx;
            if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
            acc += x[(pl * s.h + ih) * s.w + iw];
            n++;
          }
        y[(pl * ho + oh) * wo + ow] = acc / (countPad ? s.k * s.k : n);
      }
  return y;
}

export function avgPoolBackwardRef(dy: F64, s: PoolShape, countPad: boolean): F64 {
  const { ho, wo } = poolOut(s);
  const dx = new Float64Array(s.batch * s.c * s.h * s.w);
  for (let pl = 0; pl < s.batch * s.c; pl++)
    for (let oh = 0; oh < ho; oh++)
      for (let ow = 0; ow < wo; ow++) {
        const cells: number[] = [];
        for (let ky = 0; ky < s.k; ky++)
          for (let kx = 0; kx < s.k; kx++) {
            const ih = oh * s.stride - s.pad + ky;
            const iw = ow * s.stride - s.pad + kx;
            if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w) cells.push((pl * s.h + ih) * s.w + iw);
          }
        const share = dy[(pl * ho + oh) * wo + ow] / (countPad ? s.k * s.k : cells.length);
        for (const i of cells) dx[i] += share;
      }
  return dx;
}

/** Mean over each H·W plane: [B, C, H, W] → [B, C]. */
export function globalAvgPoolRef(x: F64, planes: number, hw: number): F64 {
  const y = new Float64Array(planes);
  for (let pl = 0; pl < planes; pl++) {
    let acc = 0;
    for (let i = 0; i < hw; i++) acc += x[pl * hw + i];
    y[pl] = acc / hw;
  }
  return y;
}

export function globalAvgPoolBackwardRef(dy: F64, hw: number): F64 {
  const dx = new Float64Array(dy.length * hw);
  for (let i = 0; i < dx.length; i++) dx[i] = dy[Math.floor(i / hw)] / hw;
  return dx;
}

export interface BnShape {
  batch: number;
  c: number;
  hw: number;
}

/** Per-channel mean and biased/unbiased variance over (B, H, W). */
export function bnStatsRef(x: F64, s: BnShape): { mean: F64; varBiased: F64; varUnbiased: F64 } {
  const n = s.batch * s.hw;
  const mean = new Float64Array(s.c);
  const varBiased = new Float64Array(s.c);
  const varUnbiased = new Float64Array(s.c);
  for (let c = 0; c < s.c; c++) {
    let acc = 0;
    for (let b = 0; b < s.batch; b++) for (let i = 0; i < s.hw; i++) acc += x[(b * s.c + c) * s.hw + i];
    const m = acc / n;
    let sq = 0;
    for (let b = 0; b < s.batch; b++) for (let i = 0; i < s.hw; i++) sq += (x[(b * s.c + c) * s.hw + i] - m) ** 2;
    mean[c] = m;
    varBiased[c] = sq / n;
    varUnbiased[c] = sq / (n - 1);
  }
  return { mean, varBiased, varUnbiased };
}

/** y = (x − mean)/sqrt(var + eps)·gamma + beta with the given per-channel statistics. */
export function bnApplyRef(x: F64, s: BnShape, mean: F64, variance: F64, gamma: F64, beta: F64, eps: number): F64 {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / s.hw) % s.c;
    y[i] = ((x[i] - mean[c]) / Math.sqrt(variance[c] + eps)) * gamma[c] + beta[c];
  }
  return y;
}

export function bnTrainRef(x: F64, s: BnShape, gamma: F64, beta: F64, eps: number): F64 {
  const st = bnStatsRef(x, s);
  return bnApplyRef(x, s, st.mean, st.varBiased, gamma, beta, eps);
}

/**
 * Training-mode backward (batch statistics depend on x):
 * dx = gamma·invstd/N · (N·dy − Σdy − x̂·Σ(dy·x̂)), dgamma = Σ dy·x̂, dbeta = Σ dy.
 */
export function bnTrainBackwardRef(x: F64, dy: F64, s: BnShape, gamma: F64, eps: number): { dx: F64; dgamma: F64; dbeta: F64 } {
  const n = s.batch * s.hw;
  const { mean, varBiased } = bnStatsRef(x, s);
  const dgamma = new Float64Array(s.c);
  const dbeta = new Float64Array(s.c);
  const xhat = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / s.hw) % s.c;
    xhat[i] = (x[i] - mean[c]) / Math.sqrt(varBiased[c] + eps);
    dgamma[c] += dy[i] * xhat[i];
    dbeta[c] += dy[i];
  }
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / s.hw) % s.c;
    const invstd = 1 / Math.sqrt(varBiased[c] + eps);
    dx[i] = ((gamma[c] * invstd) / n) * (n * dy[i] - dbeta[c] - xhat[i] * dgamma[c]);
  }
  return { dx, dgamma, dbeta };
}

// ------------------------------------------------------------------ checks

/** Central differences of a scalar function of `x` (float64). */
export function finiteDiff(f: (x: F64) => number, x: F64, h = 1e-6): F64 {
  const g = new Float64Array(x.length);
  const xp = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    xp[i] = x[i] + h;
    const up = f(xp);
    xp[i] = x[i] - h;
    const down = f(xp);
    xp[i] = x[i];
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Largest |a − b| / (atol + rtol·|b|); ≤ 1 means every entry is within tolerance. */
export function worstError(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): { ratio: number; index: number } {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs expected ${expected.length}`);
  let ratio = 0;
  let index = -1;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    // diff === 0 keeps exact matches exact when both tolerances are 0.
    const r = diff === 0 ? 0 : diff / (atol + rtol * Math.abs(expected[i]));
    if (!(r <= ratio)) {
      ratio = r;
      index = i;
    }
  }
  return { ratio, index };
}

/** Throws with the worst entry when `actual` is not close to `expected`. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol = 1e-4, rtol = 1e-4): void {
  const { ratio, index } = worstError(actual, expected, atol, rtol);
  if (!(ratio <= 1)) {
    throw new Error(`${what}: entry ${index} is ${actual[index]}, expected ${expected[index]} (error ${ratio.toFixed(2)}x the tolerance ${atol} + ${rtol}·|expected|)`);
  }
}

/** Tolerance scale for sums of n float32 products of values of magnitude ~1. */
export function sumTolerance(n: number): number {
  return 2e-6 * Math.max(8, Math.sqrt(n) * 4);
}
