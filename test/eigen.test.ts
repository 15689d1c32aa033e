// Eigen tools: the Jacobi oracle against defining properties, the tridiagonal QL against the
// oracle, and both Lanczos variants against the oracle on random SPD matrices with known
// spectra, including nearly singular and clustered ones.
import { describe, expect, it } from 'vitest';
import { jacobiEigen, lanczosCpu, lanczosGpu, tridiagonalEigen } from '../src/metrics/eigen.js';
import { matmul } from '../src/ops/matmul.js';
import { Rng } from '../src/rng.js';
import { fromData } from '../src/tensor.js';
import { useGpu } from './helpers/gpu.js';

/** A random orthogonal n×n matrix (row-major) by modified Gram-Schmidt on Gaussian columns. */
function randomOrthogonal(n: number, rng: Rng): Float64Array {
  const cols: Float64Array[] = [];
  while (cols.length < n) {
    const c = Float64Array.from({ length: n }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (const q of cols) {
        let h = 0;
        for (let i = 0; i < n; i++) h += q[i] * c[i];
        for (let i = 0; i < n; i++) c[i] -= h * q[i];
      }
    }
    const norm = Math.hypot(...c);
    cols.push(c.map((x) => x / norm));
  }
  const q = new Float64Array(n * n);
  cols.forEach((c, k) => c.forEach((x, i) => (q[i * n + k] = x)));
  return q;
}

/** Q·diag(λ)·Qᵀ, row-major. */
function withSpectrum(lambda: number[], rng: Rng): Float64Array {
  const n = lambda.length;
  const q = randomOrthogonal(n, rng);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k] * lambda[k] * q[j * n + k];
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return a;
}

function matvec(a: Float64Array, v: Float64Array): Float64Array {
  const n = v.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[i * n + j] * v[j];
    out[i] = s;
  }
  return out;
}

const N = 96;
const rngSpectra = new Rng(11, 'spectra');
const SPECTRA: Record<string, number[]> = {
  'well conditioned': Array.from({ length: N }, (_, i) => 1 + i / 10),
  'nearly singular (λ_min = 1e-7)': Array.from({ length: N }, (_, i) => (i === 0 ? 1e-7 : i === 1 ? 3e-6 : 10 ** (-4 + (4 * i) / N))),
  'clustered low end': Array.from({ length: N }, (_, i) => (i < 40 ? 1e-3 * (1 + 1e-4 * i) : 0.5 + rngSpectra.uniform())),
  'few distinct values (breakdown)': Array.from({ length: N }, (_, i) => [0.01, 1, 2][i % 3]),
};

describe('jacobiEigen (oracle)', () => {
  it('satisfies A·v = λ·v with orthonormal vectors and the trace', () => {
    const rng = new Rng(1, 'jac');
    const n = 20;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rng.normal();
    const { values, vectors } = jacobiEigen(a, n);
    let trace = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i];
    expect(values.reduce((s, x) => s + x, 0)).toBeCloseTo(trace, 10);
    for (let k = 0; k < n; k++) {
      const v = Float64Array.from({ length: n }, (_, i) => vectors[i * n + k]);
      const av = matvec(a, v);
      for (let i = 0; i < n; i++) expect(Math.abs(av[i] - values[k] * v[i])).toBeLessThan(1e-10);
      expect(v.reduce((s, x) => s + x * x, 0)).toBeCloseTo(1, 12);
    }
    for (let k = 1; k < n; k++) expect(values[k]).toBeGreaterThanOrEqual(values[k - 1]);
  });

  it('recovers a planted spectrum', () => {
    const lambda = SPECTRA['nearly singular (λ_min = 1e-7)'].slice(0, 30);
    const { values } = jacobiEigen(withSpectrum(lambda, new Rng(2, 'plant')), 30);
    const sorted = [...lambda].sort((x, y) => x - y);
    sorted.forEach((l, i) => expect(Math.abs(values[i] - l)).toBeLessThan(1e-13));
  });
});

describe('tridiagonalEigen', () => {
  it('matches the dense oracle, eigenvalues and last eigenvector components', () => {
    const rng = new Rng(3, 'tri');
    for (const m of [1, 2, 7, 40]) {
      const alpha = Array.from({ length: m }, () => rng.normal());
      const beta = Array.from({ length: m - 1 }, () => rng.normal());
      const dense = new Float64Array(m * m);
      for (let i = 0; i < m; i++) {
        dense[i * m + i] = alpha[i];
        if (i < m - 1) dense[i * m + i + 1] = dense[(i + 1) * m + i] = beta[i];
      }
      const oracle = jacobiEigen(dense, m);
      const got = tridiagonalEigen(alpha, beta);
      for (let k = 0; k < m; k++) {
        expect(Math.abs(got.values[k] - oracle.values[k])).toBeLessThan(1e-12);
        expect(Math.abs(Math.abs(got.lastRow[k]) - Math.abs(oracle.vectors[(m - 1) * m + k]))).toBeLessThan(1e-8);
      }
    }
  });
});

describe('Lanczos against the dense oracle', () => {
  const gpu = useGpu();

  for (const [name, lambda] of Object.entries(SPECTRA)) {
    it(`GPU, ${name}: |λ̂ − λ| ≤ 1e-5·λ_max`, async () => {
      const rt = gpu.rt();
      const a64 = withSpectrum(lambda, new Rng(5, name));
      // The engine sees the f32-rounded matrix; the oracle decomposes exactly that matrix.
      const a32 = Float32Array.from(a64);
      const oracle = jacobiEigen(a32, N);
      const lo = oracle.values[0];
      const hi = oracle.values[N - 1];
      const A = fromData(a32, [N, N], rt);
      try {
        const res = await lanczosGpu((v) => matmul(v, A, { transB: true }), N, rt, { seed: 9 });
        expect(Math.abs(res.min - lo)).toBeLessThanOrEqual(1e-5 * hi);
        expect(Math.abs(res.max - hi)).toBeLessThanOrEqual(1e-5 * hi);
        expect(res.converged).toBe(true);
      } finally {
        A.dispose();
      }
    });

    it(`CPU float64, ${name}: |λ̂ − λ| ≤ 1e-9·λ_max`, async () => {
      const a = withSpectrum(lambda, new Rng(5, name));
      const oracle = jacobiEigen(a, N);
      const res = await lanczosCpu((v) => matvec(a, v), N, { seed: 4, tol: 1e-12 });
      const hi = oracle.values[N - 1];
      expect(Math.abs(res.min - oracle.values[0])).toBeLessThanOrEqual(1e-9 * hi);
      expect(Math.abs(res.max - hi)).toBeLessThanOrEqual(1e-9 * hi);
    });
  }

  it('stops early on a well-separated top eigenvalue, with a valid residual bound', async () => {
    const n = 300;
    const lambda = Array.from({ length: n }, (_, i) => (i === n - 1 ? 50 : 1 + i / n));
    const a = withSpectrum(lambda, new Rng(6, 'sep'));
    const res = await lanczosCpu((v) => matvec(a, v), n, { want: 'max', tol: 1e-10, checkEvery: 2 });
    expect(res.iterations).toBeLessThan(40);
    expect(res.converged).toBe(true);
    expect(Math.abs(res.max - 50)).toBeLessThanOrEqual(Math.max(res.residualMax, 1e-9));
    // Ritz values interlace: never outside the spectrum.
    expect(res.min).toBeGreaterThanOrEqual(1 - 1e-9);
  });

  it('reports non-convergence when the iteration cap is too small', async () => {
    const n = 200;
    const lambda = Array.from({ length: n }, (_, i) => 1 + i / n);
    const a = withSpectrum(lambda, new Rng(7, 'cap'));
    const res = await lanczosCpu((v) => matvec(a, v), n, { maxIterations: 5, tol: 1e-12 });
    expect(res.converged).toBe(false);
    expect(res.iterations).toBe(5);
    expect(res.residualMin).toBeGreaterThan(0);
  });
});
