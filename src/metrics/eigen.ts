// Symmetric eigenvalue tools for the theory checks (paper §4-5):
// - `jacobiEigen`: dense cyclic Jacobi in float64, the test oracle (O(n³) per sweep, small n only);
// - `tridiagonalEigen`: implicit QL with Wilkinson-type shifts on a symmetric tridiagonal matrix,
//   tracking the last row of the eigenvector matrix (what Lanczos needs for its residual bounds);
// - `lanczosGpu`: Lanczos with full reorthogonalization whose basis, matvec and reorthogonalization
//   all run on the engine (only α, β come back, at convergence checks);
// - `lanczosCpu`: the same iteration on float64 vectors for operators that live elsewhere
//   (finite-difference Hessian-vector products).
// No Node imports: runs in browsers too.
import { ConfigError, ShapeError } from '../errors.js';
import { Rng } from '../rng.js';
import { matmul } from '../ops/matmul.js';
import { div, sqrt, sub } from '../ops/elementwise.js';
import { sumSquares } from '../ops/reduce.js';
import { empty, fromData, type Tensor, tidy, viewOf } from '../tensor.js';

// ------------------------------------------------------------------ dense oracle

export interface DenseEigen {
  /** Ascending eigenvalues. */
  values: Float64Array;
  /** Column k (vectors[i·n + k], i = 0..n−1) is the unit eigenvector of values[k]. */
  vectors: Float64Array;
}

/** All eigenpairs of a symmetric n×n matrix (row-major) by cyclic Jacobi rotations in float64. */
export function jacobiEigen(matrix: ArrayLike<number>, n: number, opts: { maxSweeps?: number } = {}): DenseEigen {
  if (matrix.length !== n * n) throw new ShapeError(`jacobiEigen: ${matrix.length} values for a ${n}×${n} matrix`);
  const a = Float64Array.from(matrix);
  // Symmetrize: callers pass f32 GPU results whose two triangles may differ in the last bit.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const m = 0.5 * (a[i * n + j] + a[j * n + i]);
      a[i * n + j] = m;
      a[j * n + i] = m;
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const maxSweeps = opts.maxSweeps ?? 60;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += a[i * n + i] * a[i * n + i];
      for (let j = i + 1; j < n; j++) off += a[i * n + j] * a[i * n + j];
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        // Rotation angle that zeroes a[p][q]: t = tan θ, the smaller root for stability.
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i * n + i] - a[j * n + j]);
  const values = Float64Array.from(order, (i) => a[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((src, k) => {
    for (let i = 0; i < n; i++) vectors[i * n + k] = v[i * n + src];
  });
  return { values, vectors };
}

// ------------------------------------------------------------------ tridiagonal

export interface TridiagonalEigen {
  /** Ascending eigenvalues of T. */
  values: Float64Array;
  /** Last component of each (unit) eigenvector, in the order of `values`. */
  lastRow: Float64Array;
}

/**
 * Eigenvalues of the symmetric tridiagonal T (diagonal `alpha`, off-diagonal `beta`, with
 * beta[i] = T[i][i+1]) by implicit QL, plus the last component of each eigenvector, which
 * gives the Lanczos residual bound |β_m · s_m|. O(m²): only one row of Q is accumulated.
 */
export function tridiagonalEigen(alpha: ArrayLike<number>, beta: ArrayLike<number>): TridiagonalEigen {
  const m = alpha.length;
  if (beta.length < m - 1) throw new ShapeError(`tridiagonalEigen: ${beta.length} off-diagonal values for order ${m}`);
  const d = Float64Array.from(alpha);
  const e = new Float64Array(m);
  for (let i = 0; i < m - 1; i++) e[i] = beta[i];
  // z holds the last row of the accumulated rotations (starts as the last row of I).
  const z = new Float64Array(m);
  if (m > 0) z[m - 1] = 1;
  const eps = 2 ** -52;
  for (let l = 0; l < m; l++) {
    for (let iter = 0; ; iter++) {
      let k = l;
      for (; k < m - 1; k++) {
        const dd = Math.abs(d[k]) + Math.abs(d[k + 1]);
        if (Math.abs(e[k]) <= eps * dd) break;
      }
      if (k === l) break;
      if (iter > 60) throw new ConfigError('tridiagonalEigen: QL iteration did not converge (non-finite input?).');
      // Shift from the leading 2×2 block's eigenvalue closer to d[l].
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[k] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = k - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // Deflation by underflow: recover and restart this l.
          d[i + 1] -= p;
          e[k] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        const zi1 = z[i + 1];
        z[i + 1] = s * z[i] + c * zi1;
        z[i] = c * z[i] - s * zi1;
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[k] = 0;
    }
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((i, j) => d[i] - d[j]);
  return { values: Float64Array.from(order, (i) => d[i]), lastRow: Float64Array.from(order, (i) => z[i]) };
}

// ------------------------------------------------------------------ Lanczos

export interface LanczosOptions {
  /** Largest Krylov dimension (default n: then the Ritz values are the exact spectrum). */
  maxIterations?: number;
  /** Stop when both extreme Ritz residuals |β_m s_m| are ≤ tol · |θ|max (default 1e-6). */
  tol?: number;
  /** Which extremes must converge before stopping (default both). */
  want?: 'both' | 'max' | 'min';
  /** Seed of the random start vector. */
  seed?: number;
  /** Iterations between convergence checks (each costs one readback on the GPU path). */
  checkEvery?: number;
}

export interface LanczosResult {
  /** Smallest and largest Ritz values: min ≥ λ_min(A), max ≤ λ_max(A). */
  min: number;
  max: number;
  /** Residual bounds: an eigenvalue of A lies within residualMin of `min` (and residualMax of `max`). */
  residualMin: number;
  residualMax: number;
  iterations: number;
  converged: boolean;
  /** Every Ritz value of the final T, ascending. */
  ritz: Float64Array;
}

interface Extremes {
  result: LanczosResult;
  done: boolean;
}

/** Ritz values and residual bounds of T_m; `betaLast` = β_m couples T_m to the next vector. */
function extremes(alpha: Float64Array, beta: Float64Array, m: number, betaLast: number, n: number, tol: number, want: LanczosOptions['want']): Extremes {
  const te = tridiagonalEigen(alpha.subarray(0, m), beta.subarray(0, m - 1));
  const lo = te.values[0];
  const hi = te.values[m - 1];
  const resMin = Math.abs(betaLast * te.lastRow[0]);
  const resMax = Math.abs(betaLast * te.lastRow[m - 1]);
  const scale = Math.max(Math.abs(lo), Math.abs(hi), Number.MIN_VALUE);
  const okMin = resMin <= tol * scale;
  const okMax = resMax <= tol * scale;
  const full = m >= n;
  const done = full || (want === 'max' ? okMax : want === 'min' ? okMin : okMin && okMax);
  return {
    result: {
      min: lo,
      max: hi,
      residualMin: full ? 0 : resMin,
      residualMax: full ? 0 : resMax,
      iterations: m,
      converged: done,
      ritz: te.values,
    },
    done,
  };
}

function resolveOptions(n: number, opts: LanczosOptions) {
  if (!(n >= 1)) throw new ShapeError(`Lanczos needs a dimension ≥ 1, got ${n}`);
  const maxIterations = Math.min(n, opts.maxIterations ?? n);
  if (!(maxIterations >= 1)) throw new ConfigError(`Lanczos maxIterations must be ≥ 1, got ${opts.maxIterations}`);
  return {
    maxIterations,
    tol: opts.tol ?? 1e-6,
    want: opts.want ?? 'both',
    seed: opts.seed ?? 0,
    checkEvery: Math.max(1, opts.checkEvery ?? Math.max(8, Math.ceil(maxIterations / 16))),
  };
}

/** Vector length above which lanczosCpu stores its basis in f32. */
const LARGE_BASIS = 1 << 21;

/** A breakdown is a β below this fraction of the largest |Ritz value| (an invariant subspace). */
const BREAKDOWN_REL = 1e-9;

function randomUnit(n: number, rng: Rng): Float64Array {
  const v = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    v[i] = rng.normal();
    s += v[i] * v[i];
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < n; i++) v[i] *= inv;
  return v;
}

/**
 * Extreme eigenvalues of a symmetric operator on the engine. `apply(v)` maps a row vector
 * [1, n] to (A·v)ᵀ ([1, n]); row vectors because a [1, n]·[n, m]ᵀ product is the engine's
 * fastest matrix-vector shape. The basis V [maxIterations, n] stays on the GPU and each new vector
 * is orthogonalized against all previous ones twice ("twice is enough"), so the f32 basis stays
 * orthonormal to about 1e-7 and Ritz values are accurate to that fraction of ‖A‖.
 */
export async function lanczosGpu(apply: (v: Tensor) => Tensor, n: number, rt: Tensor['rt'], opts: LanczosOptions = {}): Promise<LanczosResult> {
  const o = resolveOptions(n, opts);
  const mMax = o.maxIterations;
  const rng = new Rng(o.seed, 'lanczos');
  const V = empty([mMax, n], rt);
  // α is accumulated from both reorthogonalization passes: α_j = h1[j] + h2[j].
  const alpha1 = empty([mMax], rt);
  const alpha2 = empty([mMax], rt);
  const betas = empty([mMax], rt);
  const alpha = new Float64Array(mMax);
  const beta = new Float64Array(mMax);
  const copyElement = (src: Tensor, srcIndex: number, dst: Tensor, dstIndex: number) =>
    rt.copy(
      { buffer: src.storage.buffer, offset: src.storage.byteOffset + srcIndex * 4, size: 4 },
      { buffer: dst.storage.buffer, offset: dst.storage.byteOffset + dstIndex * 4, size: 4 },
    );
  const setRow = (row: number, vec: Tensor) =>
    rt.copy({ buffer: vec.storage.buffer, offset: vec.storage.byteOffset, size: n * 4 }, { buffer: V.storage.buffer, offset: V.storage.byteOffset + row * n * 4, size: n * 4 });
  /** w minus its components along the first `rows` basis vectors, twice; h[row] of each pass into `into`. */
  const orthogonalize = (w: Tensor, rows: number, into?: { index: number; parts: Tensor[] }): Tensor => {
    const basis = viewOf(V, [rows, n]);
    for (let pass = 0; pass < 2; pass++) {
      const h = matmul(w, basis, { transB: true });
      if (into) copyElement(h, into.index, into.parts[pass], into.index);
      w = sub(w, matmul(h, basis));
    }
    return w;
  };
  const randomStart = (rows: number): Tensor =>
    tidy(() => {
      let w: Tensor = fromData(Float32Array.from(randomUnit(n, rng)), [1, n], rt);
      if (rows > 0) w = orthogonalize(w, rows);
      return div(w, sqrt(sumSquares(w)));
    });
  let v = randomStart(0);
  try {
    let j = 0;
    let lastCheck = 0;
    let checkedUpTo = 0;
    let best: Extremes | undefined;
    while (j < mMax) {
      setRow(j, v);
      const next = tidy(() => {
        const w = apply(v);
        if (w.size !== n) throw new ShapeError(`lanczosGpu: the operator returned [${w.shape}] for a vector of ${n}`);
        const wOrth = orthogonalize(w.reshape([1, n]), j + 1, { index: j, parts: [alpha1, alpha2] });
        const norm = sqrt(sumSquares(wOrth));
        copyElement(norm, 0, betas, j);
        return div(wOrth, norm);
      });
      v.dispose();
      v = next;
      j++;
      if (j - lastCheck >= o.checkEvery || j === mMax) {
        lastCheck = j;
        const [a1, a2, b] = await Promise.all([alpha1.read(), alpha2.read(), betas.read()]);
        for (let k = 0; k < j; k++) {
          alpha[k] = a1[k] + a2[k];
          beta[k] = b[k];
        }
        // A tiny (or NaN) β means the Krylov space is invariant: keep T up to there and restart
        // with a random vector orthogonal to the basis, coupled by β = 0. Only the β's new since
        // the previous check are examined: earlier ones were validated or zeroed on purpose.
        const scale = Math.max(...Array.from(alpha.subarray(0, j), Math.abs), Number.MIN_VALUE);
        const fresh = Array.from(beta.subarray(checkedUpTo, j)).findIndex((x) => !(x > BREAKDOWN_REL * scale));
        const broke = fresh < 0 ? -1 : checkedUpTo + fresh;
        if (broke >= 0 && broke < mMax - 1) {
          j = broke + 1;
          beta[broke] = 0;
          rt.write(betas.storage.buffer, betas.storage.byteOffset + broke * 4, new Float32Array([0]));
          v.dispose();
          v = randomStart(j);
          lastCheck = j;
          checkedUpTo = j;
          continue;
        }
        checkedUpTo = j;
        best = extremes(alpha, beta, j, beta[j - 1], n, o.tol, o.want);
        if (best.done) break;
      }
    }
    if (!best) throw new ConfigError('lanczosGpu: no iteration ran');
    return best.result;
  } finally {
    v.dispose();
    V.dispose();
    alpha1.dispose();
    alpha2.dispose();
    betas.dispose();
  }
}

/**
 * The same Lanczos iteration on float64 vectors for an operator given as a function (e.g. a
 * finite-difference Hessian-vector product on the engine). Basis kept on the CPU.
 */
export async function lanczosCpu(
  apply: (v: Float64Array) => Float64Array | Promise<Float64Array>,
  n: number,
  opts: LanczosOptions = {},
): Promise<LanczosResult> {
  const o = resolveOptions(n, opts);
  const mMax = o.maxIterations;
  const rng = new Rng(o.seed, 'lanczos');
  // Very long vectors (a Hessian over millions of parameters) keep their basis in f32 to halve
  // the memory; dot products still accumulate in float64.
  const compact = n > LARGE_BASIS;
  const basis: (Float64Array | Float32Array)[] = [];
  const alpha = new Float64Array(mMax);
  const beta = new Float64Array(mMax);
  let v = randomUnit(n, rng);
  let best: Extremes | undefined;
  const orthogonalize = (w: Float64Array, coeffs?: Float64Array) => {
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < basis.length; k++) {
        const b = basis[k];
        let h = 0;
        for (let i = 0; i < n; i++) h += b[i] * w[i];
        if (coeffs) coeffs[k] += h;
        for (let i = 0; i < n; i++) w[i] -= h * b[i];
      }
    }
  };
  for (let j = 0; j < mMax; j++) {
    basis.push(compact ? Float32Array.from(v) : v);
    const w = Float64Array.from(await apply(v));
    if (w.length !== n) throw new ShapeError(`lanczosCpu: the operator returned ${w.length} values for a vector of ${n}`);
    const coeffs = new Float64Array(basis.length);
    orthogonalize(w, coeffs);
    alpha[j] = coeffs[j];
    let sq = 0;
    for (let i = 0; i < n; i++) sq += w[i] * w[i];
    const norm = Math.sqrt(sq);
    const scale = Math.max(...Array.from(alpha.subarray(0, j + 1), Math.abs), Number.MIN_VALUE);
    if (!(norm > BREAKDOWN_REL * scale) && j < mMax - 1) {
      beta[j] = 0;
      const r = randomUnit(n, rng);
      orthogonalize(r);
      let s = 0;
      for (let i = 0; i < n; i++) s += r[i] * r[i];
      const inv = 1 / Math.sqrt(s);
      v = r.map((x) => x * inv);
    } else {
      beta[j] = norm;
      v = w.map((x) => x / norm);
    }
    const m = j + 1;
    if (m % o.checkEvery === 0 || m === mMax) {
      best = extremes(alpha, beta, m, beta[j], n, o.tol, o.want);
      if (best.done) break;
    }
  }
  if (!best) throw new ConfigError('lanczosCpu: no iteration ran');
  return best.result;
}
