// The layerwise NTK against K = J·Jᵀ built from float64 per-sample gradients of the reference
// MLP (test/ref, no engine code), the identity ‖∇L‖² = rᵀKr/n² at a random θ, and the PL bound
// on a linear model with n < d: always ≥ λ_min/n, and equal to it when r is the bottom eigenvector.
import { describe, expect, it } from 'vitest';
import { jacobiEigen } from '../src/metrics/eigen.js';
import { mlpNtk, ntkCheck, ntkIdentity, ntkSubset, quadraticForm } from '../src/metrics/ntk.js';
import { Linear, mlp, Sequential } from '../src/nn/layers.js';
import { build } from '../src/nn/module.js';
import { Rng } from '../src/rng.js';
import { fromData } from '../src/tensor.js';
import { refArray } from './ref/array.js';
import { mlpForward, mlpLossAndGrads, type RefLayer } from './ref/mlp.js';
import { useGpu } from './helpers/gpu.js';

async function refLayers(model: Sequential): Promise<RefLayer[]> {
  const out: RefLayer[] = [];
  for (const layer of model.layers) {
    if (!(layer instanceof Linear)) continue;
    const w = layer.p(layer.weight);
    const b = layer.p(layer.bias!);
    out.push({ weight: refArray(w.shape, await w.read()), bias: refArray(b.shape, await b.read()) });
  }
  return out;
}

/** Row i of J: ∂f(x_i)/∂θ from the reference backward (residual 1 makes the loss gradient ∇f). */
function refJacobian(layers: RefLayer[], x: Float32Array, n: number, d: number): Float64Array[] {
  const rows: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const xi = refArray([1, d], x.subarray(i * d, (i + 1) * d));
    const f = mlpForward(layers, xi).output.data[0];
    const { grads } = mlpLossAndGrads(layers, xi, refArray([1, 1], [f - 1]));
    rows.push(Float64Array.from(grads.flatMap((g) => [...g.weight.data, ...g.bias.data])));
  }
  return rows;
}

function randomData(n: number, d: number, seed: number) {
  const rng = new Rng(seed, 'ntk-test');
  return { x: rng.normals(n * d), y: rng.uniforms(n) };
}

describe('layerwise NTK', () => {
  const gpu = useGpu();

  it('equals J·Jᵀ from float64 per-sample gradients (tiny MLP with biases)', async () => {
    const rt = gpu.rt();
    const n = 11;
    const d = 5;
    const model = mlp({ inputs: d, width: 7, depth: 3, outputs: 1 });
    const set = build(model, { scheme: 'he', seed: 4, rt });
    const { x } = randomData(n, d, 1);
    const X = fromData(x, [n, d], rt);
    try {
      const { kernel, outputs } = mlpNtk(model, X);
      const k = await kernel.read();
      const f = await outputs.read();
      const layers = await refLayers(model);
      const J = refJacobian(layers, x, n, d);
      let scale = 0;
      const ref = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          ref[i * n + j] = J[i].reduce((s, v, p) => s + v * J[j][p], 0);
          scale = Math.max(scale, Math.abs(ref[i * n + j]));
        }
      }
      for (let i = 0; i < n * n; i++) expect(Math.abs(k[i] - ref[i])).toBeLessThanOrEqual(2e-6 * scale);
      const fRef = mlpForward(layers, refArray([n, d], x)).output.data;
      for (let i = 0; i < n; i++) expect(f[i]).toBeCloseTo(fRef[i], 5);
      kernel.dispose();
      outputs.dispose();
    } finally {
      X.dispose();
      set.dispose();
    }
  });

  it('cross-checks against backprop: |‖∇L‖² − rᵀKr/n²| / ‖∇L‖² ≤ 1e-4 at a random θ', async () => {
    const rt = gpu.rt();
    const n = 48;
    const d = 9;
    const model = mlp({ inputs: d, width: 16, depth: 4, outputs: 1 });
    const set = build(model, { scheme: 'he', seed: 8, rt });
    const { x, y } = randomData(n, d, 2);
    const X = fromData(x, [n, d], rt);
    const Y = fromData(y, [n, 1], rt);
    try {
      const check = await ntkCheck(model, set, X, Y);
      expect(check.identity.relError).toBeLessThanOrEqual(1e-4);
      // The backprop side against the float64 reference gradient (independent of the engine).
      const layers = await refLayers(model);
      const ref = mlpLossAndGrads(layers, refArray([n, d], x), refArray([n, 1], y));
      const refSq = ref.grads.reduce((s, g) => s + [...g.weight.data, ...g.bias.data].reduce((a, v) => a + v * v, 0), 0);
      expect(check.identity.gradNormSq / refSq).toBeCloseTo(1, 4);
      expect(check.loss / ref.loss).toBeCloseTo(1, 5);
      // The bound itself: the measured PL ratio is never below λ_min/n.
      expect(check.plRatio).toBeGreaterThanOrEqual(check.muBound * (1 - 1e-5));
      expect(check.lambdaMin).toBeGreaterThan(0);
      expect(check.lambdaMax).toBeGreaterThan(check.lambdaMin);
    } finally {
      X.dispose();
      Y.dispose();
      set.dispose();
    }
  });

  it('a wrong kernel fails the identity check', () => {
    // K = I·2 but the "gradient" is that of K = I: the check must flag a factor of 2.
    const n = 4;
    const k = new Float64Array(n * n);
    for (let i = 0; i < n; i++) k[i * n + i] = 2;
    const r = [1, -2, 0.5, 3];
    const rr = r.reduce((s, v) => s + v * v, 0);
    expect(quadraticForm(k, r)).toBeCloseTo(2 * rr, 12);
    expect(ntkIdentity(k, r, rr / (n * n)).relError).toBeCloseTo(1, 12);
  });
});

describe('PL bound on a linear model, n < d', () => {
  const gpu = useGpu();

  it('ratio ≥ λ_min/n for a random residual and = λ_min/n (1e-5) along the bottom eigenvector', async () => {
    const rt = gpu.rt();
    const n = 6;
    const d = 10;
    const model = new Sequential([new Linear(d, 1)]);
    const set = build(model, { scheme: 'he', seed: 5, rt });
    const { x } = randomData(n, d, 3);
    const X = fromData(x, [n, d], rt);
    try {
      // K = X·Xᵀ + 1 for a linear model with bias, in float64 from the data: the oracle.
      const kRef = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = 1;
          for (let c = 0; c < d; c++) s += x[i * d + c] * x[j * d + c];
          kRef[i * n + j] = s;
        }
      }
      const oracle = jacobiEigen(kRef, n);
      const lambdaMin = oracle.values[0];
      const { outputs, kernel } = mlpNtk(model, X);
      const f = await outputs.read();
      kernel.dispose();
      outputs.dispose();

      // Targets y = f − c·u_min: the residual is exactly along the bottom eigenvector.
      const c = 0.7;
      const yTight = Float32Array.from(f, (fi, i) => fi - c * oracle.vectors[i * n + 0]);
      const Yt = fromData(yTight, [n, 1], rt);
      const tight = await ntkCheck(model, set, X, Yt);
      Yt.dispose();
      expect(Math.abs(tight.lambdaMin - lambdaMin)).toBeLessThanOrEqual(1e-5 * oracle.values[n - 1]);
      expect(Math.abs(tight.plRatio - lambdaMin / n)).toBeLessThanOrEqual(1e-5 * (lambdaMin / n));

      // A generic residual: strictly above the bound.
      const yLoose = Float32Array.from(f, (fi, i) => fi - Math.sin(i + 1));
      const Yl = fromData(yLoose, [n, 1], rt);
      const loose = await ntkCheck(model, set, X, Yl);
      Yl.dispose();
      expect(loose.plRatio).toBeGreaterThan(1.5 * (lambdaMin / n));
      expect(loose.rayleighOverMin).toBeGreaterThan(1.5);
    } finally {
      X.dispose();
      set.dispose();
    }
  });
});

describe('ntkSubset', () => {
  it('is seeded, sorted, distinct and capped at n', () => {
    const a = ntkSubset(1000, 64, 3);
    expect(Array.from(a)).toEqual(Array.from(ntkSubset(1000, 64, 3)));
    expect(new Set(a).size).toBe(64);
    for (let i = 1; i < a.length; i++) expect(a[i]).toBeGreaterThan(a[i - 1]);
    expect(Array.from(ntkSubset(1000, 64, 4))).not.toEqual(Array.from(a));
    expect(Array.from(ntkSubset(5, 1024, 0))).toEqual([0, 1, 2, 3, 4]);
  });
});
