// --linearized: K₀ in blocks against K₀ in one piece and against J·Jᵀ from float64 per-sample
// gradients; the predicted curve against a float64 CPU reference; Lanczos quadrature against a
// dense eigendecomposition; the kernel regime with width (MNIST, deviation shrinks with width,
// a narrow net with a large step leaves it); training rows untouched by the flag; the memory
// fallback to a stratified subset; t*, the width verdict and the fig3 refusal.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { jacobiEigen } from '../src/metrics/eigen.js';
import { blockedNtk, lanczosQuadrature, largestFittingSamples, linearizedMemory, mlpDims, quadratureCurve, spectralAccount } from '../src/metrics/linearized.js';
import { DEFAULT_THRESHOLDS } from '../harness/analysis/verdicts.js';
import { deviationStats, kernelGradNormSq, linearizedWidthVerdict, summarizeLinearized, tStarSentence } from '../harness/analysis/linearized-summary.js';
import { mlpNtk } from '../src/metrics/ntk.js';
import type { EpochRow, MetricRow } from '../src/metrics/schema.js';
import { Linear, type Sequential } from '../src/nn/layers.js';
import { Rng } from '../src/rng.js';
import { fromData } from '../src/tensor.js';
import { parseArgs } from '../harness/options/args.js';
import { binaryMnist, loadMnist } from '../harness/data/mnist.js';
import { linearizedMeasure, linearizedRows, stratifiedSampleSubset } from '../harness/experiments/linearized.js';
import { MLP_OPTIONS, resolveMlpConfig, type MlpRunConfig } from '../harness/experiments/mlp-config.js';
import { createMlpState, disposeMlpState, trainMlp, type MlpData } from '../harness/experiments/mlp-train.js';
import { EXPERIMENTS } from '../harness/experiments/registry.js';
import { mnistProvider } from '../harness/web/data-sources.js';
import { experimentOptions, findWebExperiment } from '../harness/web/experiments.js';
import { Lab } from '../harness/web/lab.js';
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

/** K = J·Jᵀ and f from float64 per-sample gradients of the reference MLP (no engine code). */
function refKernel(layers: RefLayer[], x: Float32Array, n: number, d: number): { k: Float64Array; f: Float64Array } {
  const rows: Float64Array[] = [];
  const f = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const xi = refArray([1, d], x.subarray(i * d, (i + 1) * d));
    f[i] = mlpForward(layers, xi).output.data[0];
    // With target f − 1 the residual is 1, so the loss gradient is ∇f.
    const { grads } = mlpLossAndGrads(layers, xi, refArray([1, 1], [f[i] - 1]));
    rows.push(Float64Array.from(grads.flatMap((g) => [...g.weight.data, ...g.bias.data])));
  }
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) k[i * n + j] = rows[i].reduce((s, v, p) => s + v * rows[j][p], 0);
  return { k, f };
}

function randomData(n: number, d: number, seed: number): MlpData {
  const rng = new Rng(seed, 'linearized-test');
  return { x: rng.normals(n * d), y: Float32Array.from(rng.uniforms(n), (u) => (u < 0.5 ? 0 : 1)), n, d };
}

function config(over: Partial<MlpRunConfig>): MlpRunConfig {
  return { kind: 'mlp', preset: 'test', width: 8, depth: 3, epochs: 10, lr: 0.01, loss: 'mse', init: 'he', digits: [0, 1], subset: null, seed: 0, ntkEvery: 0, ntkSamples: 2, ...over };
}

const BIG_BUDGET = 2 ** 31;

describe('K₀ in blocks', () => {
  const gpu = useGpu();

  it('equals K₀ built in one piece and mlpNtk, and J·Jᵀ from float64 gradients (odd sizes)', async () => {
    const rt = gpu.rt();
    const data = randomData(37, 9, 1);
    const s = createMlpState(rt, { width: 13, depth: 3, epochs: 1, lr: 0.01, loss: 'mse', init: 'he', seed: 3 }, data);
    try {
      const blocked = blockedNtk(s.model, s.x, { blockRows: 10 });
      const whole = blockedNtk(s.model, s.x);
      const ref = mlpNtk(s.model, s.x);
      expect(blocked.kernel.ranges.map((r) => r.rows)).toEqual([10, 10, 10, 7]);
      expect(whole.kernel.ranges.length).toBe(1);
      const kb = await blocked.kernel.read();
      const kw = await whole.kernel.read();
      const km = await ref.kernel.read();
      const { k: k64 } = refKernel(await refLayers(s.model), data.x, data.n, data.d);
      const scale = Math.max(...Array.from(k64, Math.abs));
      for (let i = 0; i < kb.length; i++) {
        expect(Math.abs(kb[i] - kw[i])).toBeLessThanOrEqual(1e-6 * scale);
        expect(Math.abs(kb[i] - km[i])).toBeLessThanOrEqual(1e-6 * scale);
        expect(Math.abs(kb[i] - k64[i])).toBeLessThanOrEqual(2e-6 * scale);
      }
      // Outputs per block line up with the one-piece forward.
      const fb = (await Promise.all(blocked.outputs.map((o) => o.read()))).flatMap((a) => [...a]);
      const fw = await whole.outputs[0].read();
      fb.forEach((v, i) => expect(v).toBeCloseTo(fw[i], 5));
      for (const b of [blocked, whole]) {
        b.kernel.dispose();
        for (const o of b.outputs) o.dispose();
      }
      ref.kernel.dispose();
      ref.outputs.dispose();
    } finally {
      disposeMlpState(s);
    }
  });

  it('the memory plan counts K₀, every layer input and backprop signal, and block temporaries', () => {
    const dims = mlpDims(784, 256, 5);
    const m = linearizedMemory(2000, dims, 128 * 2 ** 20);
    expect(m.kernelBytes).toBe(4 * 2000 * 2000);
    // A_{l−1} + Δ_l per sample: (784 + 256) + 3·(256 + 256) + (256 + 1).
    expect(m.factorBytes).toBe(4 * 2000 * (784 + 256 + 3 * 512 + 257));
    expect(m.blocks).toBe(1);
    // The paper preset's K₀ (642 MB) is split so each block fits 128 MiB.
    const paper = linearizedMemory(12665, mlpDims(784, 2048, 5), 128 * 2 ** 20);
    expect(paper.blockRows * paper.blockRows * 4).toBeLessThanOrEqual(128 * 2 ** 20);
    expect(paper.blocks).toBeGreaterThan(1);
    const fit = largestFittingSamples(12665, mlpDims(784, 2048, 5), 128 * 2 ** 20, 1024 * 2 ** 20);
    expect(linearizedMemory(fit, mlpDims(784, 2048, 5), 128 * 2 ** 20).totalBytes).toBeLessThanOrEqual(1024 * 2 ** 20);
    expect(linearizedMemory(fit + 1, mlpDims(784, 2048, 5), 128 * 2 ** 20).totalBytes).toBeGreaterThan(1024 * 2 ** 20);
  });
});

describe('the predicted curve', () => {
  const gpu = useGpu();

  it('matches a float64 CPU reference (K₀ from per-sample gradients, recursion in float64) per epoch to 1e-5', async () => {
    const rt = gpu.rt();
    const data = randomData(24, 7, 2);
    const n = data.n;
    const epochs = 40;
    const base = { width: 11, depth: 3, epochs, loss: 'mse' as const, init: 'he' as const, seed: 5 };
    const s = createMlpState(rt, { ...base, lr: 0.01 }, data);
    try {
      const { k, f } = refKernel(await refLayers(s.model), data.x, n, data.d);
      const eig = jacobiEigen(Float64Array.from(k, (v) => v / n), n);
      // A step that makes the top direction contract fast: ηλ_max = 1.2.
      const lr = 1.2 / eig.values[n - 1];
      const rows = await linearizedRows(s, { lr, epochs, seed: 0, budgetBytes: BIG_BUDGET, blockRows: 10 });
      const predicted = rows.filter((r) => r.kind === 'linearized').map((r) => (r as { loss: number }).loss);
      expect(predicted.length).toBe(epochs + 1);
      let r = Float64Array.from(f, (v, i) => v - data.y[i]);
      const ref: number[] = [];
      for (let t = 0; t <= epochs; t++) {
        ref.push(r.reduce((a, v) => a + v * v, 0) / (2 * n));
        const kr = new Float64Array(n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) kr[i] += k[i * n + j] * r[j];
        r = r.map((v, i) => v - (lr / n) * kr[i]);
      }
      // The curve really moves (so a constant prediction would fail).
      expect(ref[epochs]).toBeLessThan(0.5 * ref[0]);
      for (let t = 0; t <= epochs; t++) expect(Math.abs(predicted[t] - ref[t]) / ref[t]).toBeLessThanOrEqual(1e-5);
      // The info row's spectral account agrees with the dense float64 reference.
      const info = rows.find((x) => x.kind === 'linearized-info')! as Record<string, number>;
      expect(info.etaLambdaMax).toBeCloseTo(1.2, 4);
      expect(info.quadratureMaxRelDiff).toBeLessThan(1e-4);
    } finally {
      disposeMlpState(s);
    }
  });
});

describe('Lanczos from r₀ and Gauss quadrature', () => {
  /** A random symmetric PSD n×n matrix with a spread-out spectrum, and r₀. */
  function problem(n: number, seed: number) {
    const rng = new Rng(seed, 'quadrature-test');
    const g = rng.normals(n * n);
    const a = new Float64Array(n * n);
    // A = G·diag(s)·Gᵀ/n with s spanning four decades: many small eigenvalues.
    const sc = Array.from({ length: n }, (_, i) => 10 ** (-3 + (4 * i) / (n - 1)));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let v = 0;
      for (let k = 0; k < n; k++) v += g[i * n + k] * sc[k] * g[j * n + k];
      a[i * n + j] = v / n;
    }
    const r0 = Float64Array.from(rng.normals(n));
    const apply = (v: Float64Array) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i] += a[i * n + j] * v[j];
      return out;
    };
    return { a, r0, apply };
  }

  function dense(a: Float64Array, r0: Float64Array, n: number) {
    const e = jacobiEigen(a, n);
    const rr = r0.reduce((s, v) => s + v * v, 0);
    const w = Array.from(e.values, (_, k) => {
      let c = 0;
      for (let i = 0; i < n; i++) c += e.vectors[i * n + k] * r0[i];
      return (c * c) / rr;
    });
    return { values: e.values, w, rr };
  }

  it('the full Krylov space gives the exact spectral measure: loss curve and the share that cannot converge', async () => {
    const n = 40;
    const { a, r0, apply } = problem(n, 1);
    const ref = dense(a, r0, n);
    const m = await lanczosQuadrature(apply, r0, n);
    expect(m.exhausted).toBe(true);
    const lr = 1.5 / ref.values[n - 1];
    const epochs = 60;
    const curve = quadratureCurve(m, lr, n, epochs);
    for (let t = 0; t <= epochs; t++) {
      const exact = (ref.rr / (2 * n)) * ref.values.reduce((s, l, k) => s + ref.w[k] * (1 - lr * l) ** (2 * t), 0);
      expect(Math.abs(curve[t] - exact) / exact).toBeLessThan(1e-9);
    }
    const acc = spectralAccount(m, lr, n, epochs);
    const slowExact = ref.values.reduce((s, l, k) => s + ((1 - lr * l) ** (2 * epochs) > 0.5 ? ref.w[k] : 0), 0);
    expect(acc.slowFraction).toBeCloseTo(slowExact, 9);
    // The spread spectrum leaves a real share behind and a real share converged.
    expect(slowExact).toBeGreaterThan(0.05);
    expect(slowExact).toBeLessThan(0.95);
    expect(acc.etaLambdaMax).toBeCloseTo(1.5, 9);
  });

  it('m < n steps are exact for the loss at every t < m (degree ≤ 2m − 1), and not far beyond', async () => {
    const n = 120;
    const { a, r0, apply } = problem(n, 2);
    const ref = dense(a, r0, n);
    const steps = 31;
    const m = await lanczosQuadrature(apply, r0, steps);
    expect(m.steps).toBe(steps);
    expect(m.exhausted).toBe(false);
    const lr = 1.0 / ref.values[n - 1];
    const curve = quadratureCurve(m, lr, n, steps - 1);
    for (let t = 0; t < steps; t++) {
      const exact = (ref.rr / (2 * n)) * ref.values.reduce((s, l, k) => s + ref.w[k] * (1 - lr * l) ** (2 * t), 0);
      expect(Math.abs(curve[t] - exact) / exact).toBeLessThan(1e-8);
    }
    // The largest node converges to λ_max(A) from r₀.
    expect(Math.max(...m.nodes)).toBeCloseTo(ref.values[n - 1], 6);
  });

  it('a zero residual is refused with the reason', async () => {
    await expect(lanczosQuadrature((v) => v, new Float64Array(4), 4)).rejects.toThrow(/initial residual is zero/);
  });
});

describe('t*, deviations and the width verdict', () => {
  it('t* is the last epoch of an unbroken run within 10 %; E when it holds throughout', () => {
    const epochs = [0, 1, 2, 3, 4];
    const observed = [1, 0.8, 0.5, 0.3, 0.2];
    expect(deviationStats(epochs, observed, [0, 0.05, 0.09, 0.2, 0.05])).toMatchObject({ tStar: 2, holdsThroughout: false, largestDeviation: 0.2, largestDeviationEpoch: 3, halvedAt: 2, deviationUntilHalved: 0.09 });
    expect(deviationStats(epochs, observed, [0, 0.01, 0.02, 0.03, 0.1])).toMatchObject({ tStar: 4, holdsThroughout: true });
    expect(deviationStats(epochs, observed, [0.5, 0, 0, 0, 0])).toMatchObject({ tStar: null, holdsThroughout: false });
    // A NaN (diverged) deviation breaks the run and counts as the largest.
    expect(deviationStats(epochs, observed, [0, NaN, 0, 0, 0])).toMatchObject({ tStar: 0, largestDeviation: Infinity });
    expect(tStarSentence({ tStar: 7, holdsThroughout: false, tolerance: 0.1, epochs: 9 })).toBe('The linearized prediction stays within 10 % of the observed loss until epoch 7.');
  });

  it('summarizeLinearized pairs predicted and observed losses by epoch', () => {
    const rows: MetricRow[] = [
      { kind: 'linearized-info', epoch: 0, samples: 10, trainingSamples: 20, lr: 0.1, epochs: 2, slowFraction: 0.25 },
      { kind: 'linearized-node', epoch: 0, index: 1, lambda: 2, weight: 0.75 },
      { kind: 'linearized-node', epoch: 0, index: 0, lambda: 1, weight: 0.25 },
      ...[1, 0.5, 0.2].map((loss, epoch) => ({ kind: 'linearized' as const, epoch, loss })),
      ...[1, 0.6, 0.2].map((loss, epoch): EpochRow => ({ kind: 'epoch', epoch, loss, gradNormSq: 1, drift: 0, acc: 1, lr: 0.1, timeMs: 0 })),
    ];
    const s = summarizeLinearized(rows)!;
    expect(s.subset).toBe(true);
    expect(s.curve.deviation[1]).toBeCloseTo(0.1 / 0.6, 12);
    expect(s.tStar).toBe(0);
    expect(s.predictedFinalLoss).toBe(0.2);
    expect(s.spectrum.lambda).toEqual([1, 2]);
    expect(summarizeLinearized(rows.filter((r) => r.kind === 'epoch'))).toBeUndefined();
  });

  it('width verdict: passes for deviations falling with width, fails for rising ones, none below 5 widths', () => {
    const widths = [64, 128, 256, 512, 1024];
    const falling = widths.map((width, i) => ({ width, largestDeviation: 0.5 / (i + 1), tStar: 10 }));
    const rising = widths.map((width, i) => ({ width, largestDeviation: 0.1 * (i + 1), tStar: 10 }));
    expect(linearizedWidthVerdict(falling).verdict?.passed).toBe(true);
    expect(linearizedWidthVerdict(rising).verdict?.passed).toBe(false);
    const few = linearizedWidthVerdict(falling.slice(0, 4));
    expect(few.verdict).toBeUndefined();
    expect(few.note).toMatch(/no verdict \(inconclusive\): 4 width/);
  });
});

describe('the rate rule on the kernel’s own ‖∇L‖²', () => {
  it('kernelGradNormSq is rᵀ(K/n)r / n of the iterated residual (dense eigendecomposition, n = 7)', () => {
    const n = 7;
    const rng = new Rng(11);
    const b = Array.from({ length: n * n }, () => rng.normal());
    // K = BBᵀ (symmetric positive semi-definite), its eigenpairs by Jacobi in float64.
    const k = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let m = 0; m < n; m++) k[i * n + j] += b[i * n + m] * b[j * n + m];
    const kn = k.map((v) => v / n);
    const { values, vectors } = jacobiEigen(kn, n);
    const r0 = Array.from({ length: n }, () => rng.normal());
    const norm2 = r0.reduce((a, v) => a + v * v, 0);
    const weight = Array.from(values, (_, i) => {
      let c = 0;
      for (let j = 0; j < n; j++) c += vectors[j * n + i] * r0[j];
      return (c * c) / norm2;
    });
    const lr = 0.5 / Math.max(...values);
    let r = [...r0];
    const epochs = [0, 1, 2, 3, 10, 40];
    const direct: number[] = [];
    for (let t = 0; t <= 40; t++) {
      const kr = r.map((_, i) => r.reduce((a, v, j) => a + kn[i * n + j] * v, 0));
      if (epochs.includes(t)) direct.push(r.reduce((a, v, i) => a + v * kr[i], 0) / n);
      r = r.map((v, i) => v - lr * kr[i]);
    }
    const loss0 = norm2 / (2 * n);
    const quad = kernelGradNormSq({ lambda: [...values], weight }, lr, loss0, epochs);
    quad.forEach((g, i) => expect(Math.abs(g - direct[i]) / direct[i]).toBeLessThan(1e-10));
  });

  /** Rows of a --linearized run whose K₀/n has these Gauss nodes; the loss rows follow the quadrature. */
  function kernelRows(lambda: number[], weight: number[], lr: number, epochs: number): MetricRow[] {
    const loss = (t: number) => lambda.reduce((a, l, i) => a + weight[i] * (1 - lr * l) ** (2 * t), 0);
    return [
      { kind: 'linearized-info', epoch: 0, samples: 100, trainingSamples: 100, lr, epochs },
      ...lambda.map((l, i) => ({ kind: 'linearized-node' as const, epoch: 0, index: i, lambda: l, weight: weight[i] })),
      ...Array.from({ length: epochs + 1 }, (_, epoch) => ({ kind: 'linearized' as const, epoch, loss: loss(epoch) })),
      ...Array.from({ length: epochs + 1 }, (_, epoch): EpochRow => ({ kind: 'epoch', epoch, loss: loss(epoch), gradNormSq: 1, drift: 0, acc: 1, lr, timeMs: 0 })),
    ];
  }
  const rule = { range: [5, 225] as [number, number], thresholds: { ...DEFAULT_THRESHOLDS } };

  it('one eigenvalue: an exponential, read as linear', () => {
    const s = summarizeLinearized(kernelRows([0.01], [1], 1, 250), rule)!;
    expect(s.kernelRate?.reading).toBe('linear');
    expect(s.kernelRate?.q).toBeCloseTo(1, 9);
  });

  it('a power-law spectrum (log-uniform nodes from 1e-5 to 1, weight ∝ λ^2.5): ‖∇L‖² ~ t^(−3.5), read as sublinear', () => {
    const lambda = Array.from({ length: 300 }, (_, i) => 10 ** (-5 + (5 * i) / 299));
    const raw = lambda.map((l) => l ** 2.5);
    const total = raw.reduce((a, v) => a + v, 0);
    const s = summarizeLinearized(kernelRows(lambda, raw.map((v) => v / total), 1, 250), rule)!;
    expect(s.kernelRate?.reading).toBe('sublinear');
    expect(s.kernelRate!.q).toBeGreaterThan(0.5);
    expect(s.kernelRate!.q).toBeLessThan(0.7);
    expect(s.kernelRate!.last.efolds).toBeGreaterThan(1);
  });

  it('no kernel reading without the run’s window', () => {
    expect(summarizeLinearized(kernelRows([0.01], [1], 1, 20))!.kernelRate).toBeUndefined();
  });
});

describe('the kernel regime and width (MNIST 0/1, 32 samples, depth 3)', () => {
  const gpu = useGpu();
  const mnist = binaryMnist('train', { digits: [0, 1], subset: 32, seed: 0 });
  const data: MlpData = { x: mnist.x, y: mnist.y, n: mnist.n, d: mnist.d };

  /** Train with --linearized (stopping once the loss has halved when `untilHalved`) and return its summary. */
  async function run(width: number, lr: number, epochs: number, untilHalved: boolean) {
    const cfg = config({ width, depth: 3, lr, epochs, seed: 1, linearized: { memoryMiB: 512 } });
    const s = createMlpState(gpu.rt(), cfg, data);
    const rows: MetricRow[] = [];
    const measure = linearizedMeasure(cfg)!;
    let first = NaN;
    let halved = false;
    const onRow = (r: EpochRow) => {
      rows.push(r);
      if (r.epoch === 0) first = r.loss;
      halved ||= r.loss <= first / 2;
    };
    try {
      await trainMlp(s, { onRow, shouldStop: () => untilHalved && halved, measure: async (e, st) => void rows.push(...(await measure(e, st))) });
    } finally {
      disposeMlpState(s);
    }
    return summarizeLinearized(rows)!;
  }

  it('the deviation until the loss halves shrinks over widths 256, 1024, 4096 (< 1e-2 at 4096); width 16 at lr 0.05 leaves the kernel regime (> 10 %)', async () => {
    // lr ∝ 1/width keeps η·λ_max(K₀/n) about the same at every width (the NTK grows with width
    // under He init), so the widths differ in how far they are from their linearization only.
    // The wide runs stop once the loss has halved: the deviation is judged over those epochs.
    const wide = [];
    for (const width of [256, 1024, 4096]) wide.push(await run(width, 1.6 / width, 10, true));
    for (const s of wide) expect(s.halvedAt).not.toBeNull();
    const devs = wide.map((s) => s.deviationUntilHalved);
    expect(devs[1]).toBeLessThan(devs[0]);
    expect(devs[2]).toBeLessThan(devs[1]);
    expect(devs[2]).toBeLessThan(1e-2);
    const narrow = await run(16, 0.05, 10, false);
    expect(narrow.largestDeviation).toBeGreaterThan(0.1);
  }, 120_000);
});

describe('the flag leaves training alone', () => {
  const gpu = useGpu();

  it('epoch rows are bit-identical with and without --linearized', async () => {
    const data = randomData(40, 12, 7);
    const strip = (rows: EpochRow[]) => rows.map(({ timeMs: _t, ...rest }) => rest);
    const train = async (linearized: boolean) => {
      const cfg = config({ width: 16, depth: 3, lr: 0.05, epochs: 6, seed: 4, ...(linearized ? { linearized: { memoryMiB: 64 } } : {}) });
      const s = createMlpState(gpu.rt(), cfg, data);
      const extra: MetricRow[] = [];
      const measure = linearizedMeasure(cfg);
      try {
        const rows = await trainMlp(s, { onRow: () => undefined, measure: measure ? async (e, st) => void extra.push(...(await measure(e, st))) : undefined });
        return { rows, extra };
      } finally {
        disposeMlpState(s);
      }
    };
    const off = await train(false);
    const on = await train(true);
    expect(off.extra.length).toBe(0);
    expect(on.extra.filter((r) => r.kind === 'linearized').length).toBe(7);
    expect(strip(on.rows)).toEqual(strip(off.rows));
  });

  it('over the memory budget: one line says so and a stratified subset of the largest size that fits is used', async () => {
    const data = randomData(64, 10, 3);
    const dims = mlpDims(10, 16, 3);
    const limit = Math.min(gpu.rt().limits.maxStorageBufferBindingSize, gpu.rt().limits.maxBufferSize);
    const budget = linearizedMemory(25, dims, limit).totalBytes;
    const s = createMlpState(gpu.rt(), { width: 16, depth: 3, epochs: 3, lr: 0.01, loss: 'mse', init: 'he', seed: 0 }, data);
    const log: string[] = [];
    const pinned = [...gpu.rt().kernelChoices.keys()].sort();
    try {
      const rows = await linearizedRows(s, { lr: 0.01, epochs: 3, seed: 0, budgetBytes: budget, log: (m) => log.push(m) });
      // The build's shapes pin no kernel choice that training would then inherit.
      expect([...gpu.rt().kernelChoices.keys()].sort()).toEqual(pinned);
      const info = rows.find((r) => r.kind === 'linearized-info') as Record<string, number>;
      expect(info.samples).toBe(25);
      expect(info.trainingSamples).toBe(64);
      const notes = log.filter((m) => m.includes('n_used'));
      expect(notes.length).toBe(1);
      expect(notes[0]).toMatch(/above the --linearized-memory budget.*n_used = 25/);
    } finally {
      disposeMlpState(s);
    }
    const y = Float32Array.from({ length: 100 }, (_, i) => (i < 30 ? 1 : 0));
    const idx = stratifiedSampleSubset(y, 20, 1);
    expect(idx.length).toBe(20);
    expect([...idx].filter((i) => y[i] === 1).length).toBe(6);
    expect([...idx]).toEqual([...idx].sort((a, b) => a - b));
  });
});

describe('flags', () => {
  it('fig3 refuses --linearized with the reason', () => {
    const fig3 = EXPERIMENTS.find((e) => e.name === 'fig3')!;
    const args = parseArgs(['--linearized'], fig3.options);
    expect(() => fig3.prepare(args)).toThrow(ConfigError);
    expect(() => fig3.prepare(args)).toThrow(/not available for fig3: mini-batch SGD/);
  });

  it('--linearized-memory needs --linearized, and --linearized needs the squared loss', () => {
    expect(() => resolveMlpConfig(parseArgs(['--linearized-memory', '100'], MLP_OPTIONS))).toThrow(/add --linearized/);
    expect(() => resolveMlpConfig(parseArgs(['--linearized', '--loss', 'bce'], MLP_OPTIONS))).toThrow(/needs --loss mse/);
    expect(resolveMlpConfig(parseArgs(['--linearized'], MLP_OPTIONS)).linearized).toEqual({ memoryMiB: 4096 });
    expect(resolveMlpConfig(parseArgs([], MLP_OPTIONS)).linearized).toBeUndefined();
  });
});

describe('the page', () => {
  const gpu = useGpu();

  it('a Lab run with --linearized: stop after epoch 2 and resume gives every epoch once, and the live sections draw the prediction', async () => {
    const exp = findWebExperiment('fig1');
    const plan = exp.plan(parseArgs(['--preset', 'tiny', '--linearized=true'], experimentOptions(exp)));
    expect(plan[0].config.linearized).toEqual({ memoryMiB: 4096 });
    let stops = 0;
    const lab: Lab = new Lab({
      rt: gpu.rt(),
      plan,
      data: mnistProvider(loadMnist({ split: 'train' })),
      yieldToUi: async () => {},
      onUpdate: (l) => {
        if (l.runs[0].rows.filter((r) => r.kind === 'epoch').length === 3 && stops === 0) {
          stops++;
          void lab.stop();
        }
      },
    });
    await lab.run();
    expect(lab.status).toBe('stopped');
    await lab.run();
    expect(lab.status).toBe('done');
    const rows = lab.runs[0].rows as MetricRow[];
    expect(rows.filter((r) => r.kind === 'epoch').map((r) => r.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(rows.filter((r) => r.kind === 'linearized').map((r) => r.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const ids = exp.sections(lab.runs).map((sec) => sec.id);
    expect(ids).toContain('linearized');
  });
});
