// Hessian estimates: Lanczos on central-difference Hessian-vector products recovers a quadratic's
// known spectrum, and on an MLP at a zero-residual point (targets = outputs) the Hessian equals
// the Gauss-Newton matrix JᵀJ/n, whose top eigenvalue is λ_max(K)/n from the dense oracle.
import { describe, expect, it } from 'vitest';
import { jacobiEigen } from '../src/metrics/eigen.js';
import { centralDifferenceHvp, defaultHvpStep, hessianExtremes, parameterGradientOracle } from '../src/metrics/hessian.js';
import { mlpNtk } from '../src/metrics/ntk.js';
import { mlp } from '../src/nn/layers.js';
import { build } from '../src/nn/module.js';
import { mseLoss } from '../src/ops/loss.js';
import { Rng } from '../src/rng.js';
import { fromData } from '../src/tensor.js';
import { useGpu } from './helpers/gpu.js';

/** Gradient of ½θᵀAθ − bᵀθ with A = Q diag(λ) Qᵀ (Q from Householder reflections of random vectors). */
function quadratic(lambda: number[], seed: number) {
  const n = lambda.length;
  const rng = new Rng(seed, 'quad');
  // Q = H1·H2 with Householder reflectors: orthogonal, cheap to apply, unrelated to Lanczos.
  const u1 = Float64Array.from({ length: n }, () => rng.normal());
  const u2 = Float64Array.from({ length: n }, () => rng.normal());
  const reflect = (u: Float64Array, v: Float64Array) => {
    const uu = u.reduce((s, x) => s + x * x, 0);
    const uv = u.reduce((s, x, i) => s + x * v[i], 0);
    return v.map((x, i) => x - (2 * uv * u[i]) / uu);
  };
  const q = (v: Float64Array) => reflect(u1, reflect(u2, v));
  const qt = (v: Float64Array) => reflect(u2, reflect(u1, v));
  const b = Float64Array.from({ length: n }, () => rng.normal());
  return (theta: Float64Array) => {
    const w = qt(theta).map((x, i) => x * lambda[i]);
    return q(w).map((x, i) => x - b[i]);
  };
}

describe('Hessian by Lanczos on finite-difference HVPs', () => {
  it('recovers the top eigenvalue of a quadratic with known spectrum (≤ 20 iterations)', async () => {
    const n = 500;
    // Indefinite spectrum with a clear top: λ_max = 7, then 5.5, bulk in [−1, 3].
    const lambda = Array.from({ length: n }, (_, i) => (i === 0 ? 7 : i === 1 ? 5.5 : -1 + (4 * i) / n));
    const grad = quadratic(lambda, 1);
    const theta = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
    const est = await hessianExtremes(centralDifferenceHvp(grad, theta, 1e-2), n, { tol: 1e-10 });
    expect(est.iterations).toBeLessThanOrEqual(20);
    expect(Math.abs(est.max - 7)).toBeLessThanOrEqual(1e-6 * 7);
    // Ritz values lie inside the spectrum.
    expect(est.minRitz).toBeGreaterThanOrEqual(-1 - 1e-9);
  });

  it('refuses more than 20 iterations', async () => {
    await expect(hessianExtremes((v) => v, 30, { iterations: 21 })).rejects.toThrow(/1\.\.20/);
  });

  describe('on an MLP', () => {
    const gpu = useGpu();

    it('agrees with Gauss-Newton λ_max(K)/n at a zero-residual point', async () => {
      const rt = gpu.rt();
      const n = 24;
      const d = 6;
      const model = mlp({ inputs: d, width: 12, depth: 3, outputs: 1 });
      const set = build(model, { scheme: 'he', seed: 2, rt });
      const rng = new Rng(9, 'hess-data');
      const X = fromData(rng.normals(n * d), [n, d], rt);
      try {
        const { kernel, outputs } = mlpNtk(model, X);
        const k = await kernel.read();
        // Targets = the network's own outputs: zero residual, so H = JᵀJ/n exactly.
        const Y = outputs;
        kernel.dispose();
        const gnMax = jacobiEigen(k, n).values[n - 1] / n;
        const oracle = await parameterGradientOracle(set, () => mseLoss(model.forward(X), Y));
        try {
          const est = await hessianExtremes(centralDifferenceHvp((p) => oracle.gradientAt(p), oracle.theta, defaultHvpStep(oracle.theta)), oracle.theta.length, { tol: 1e-6 });
          expect(Math.abs(est.max / gnMax - 1)).toBeLessThan(1e-2);
          // PSD at a zero-residual point: no Ritz value noticeably below 0.
          expect(est.minRitz).toBeGreaterThan(-1e-3 * gnMax);
        } finally {
          oracle.restore();
        }
        // restore() puts θ back bit for bit.
        const after = await set.params.readAll();
        let o = 0;
        for (const name of set.names) {
          const v = after.get(name)!;
          for (let i = 0; i < v.length; i++) expect(v[i]).toBe(Math.fround(oracle.theta[o + i]));
          o += v.length;
        }
        Y.dispose();
      } finally {
        X.dispose();
        set.dispose();
      }
    });

    it('differs from Gauss-Newton away from zero residual (the residual term matters)', async () => {
      const rt = gpu.rt();
      const n = 24;
      const d = 6;
      const model = mlp({ inputs: d, width: 12, depth: 3, outputs: 1 });
      const set = build(model, { scheme: 'he', seed: 2, rt });
      const rng = new Rng(9, 'hess-data');
      const X = fromData(rng.normals(n * d), [n, d], rt);
      // Large residuals: targets far from the outputs.
      const Y = fromData(Float32Array.from({ length: n }, (_, i) => 20 * Math.sin(3 * i)), [n, 1], rt);
      try {
        const { kernel, outputs } = mlpNtk(model, X);
        const gnMax = jacobiEigen(await kernel.read(), n).values[n - 1] / n;
        kernel.dispose();
        outputs.dispose();
        const oracle = await parameterGradientOracle(set, () => mseLoss(model.forward(X), Y));
        try {
          const est = await hessianExtremes(centralDifferenceHvp((p) => oracle.gradientAt(p), oracle.theta, defaultHvpStep(oracle.theta)), oracle.theta.length);
          expect(Math.abs(est.max / gnMax - 1)).toBeGreaterThan(1e-2);
        } finally {
          oracle.restore();
        }
      } finally {
        X.dispose();
        Y.dispose();
        set.dispose();
      }
    });
  });
});
