// The output NTK of a CNN (src/metrics/ntk-cnn.ts) on a tiny conv net with odd sizes
// (conv → batch norm → ReLU → global average pool → linear), batch norm in eval mode with
// non-trivial running statistics: K against J·Jᵀ from float64 central differences of an
// independent CPU forward (test/conv-reference.ts), symmetry and PSD, λ_min/λ_max against the
// dense Jacobi oracle, the backprop identity for both losses, the PL bound for mse, the column
// plan (several passes give the same K), and that nothing about the model changes.
import { describe, expect, it } from 'vitest';
import { jacobiEigen } from '../src/metrics/eigen.js';
import { classifierLoss, cnnNtkCheck, CnnNtkProbe, lossAndDerivative, NtkSamples, oneHot, outputKernel, inEvalMode, planJacobian } from '../src/metrics/ntk-cnn.js';
import { Arena } from '../src/nn/arena.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool } from '../src/nn/conv-layers.js';
import { Linear, ReLU, Sequential } from '../src/nn/layers.js';
import { build, type ParameterSet } from '../src/nn/module.js';
import { fromData } from '../src/tensor.js';
import { bnApplyRef, conv2dRef, globalAvgPoolRef, randomValues, type ConvShape } from './conv-reference.js';
import { useGpu } from './helpers/gpu.js';

const N = 5; // samples
const CIN = 3;
const H = 5;
const W = 7;
const COUT = 5;
const CLASSES = 3;
const EPS = 1e-5;

function tinyNet(): Sequential {
  return new Sequential([new Conv2d(CIN, COUT, 3, { padding: 1 }), new BatchNorm2d(COUT, { eps: EPS }), new ReLU(), new GlobalAvgPool(), new Linear(COUT, CLASSES)]);
}

interface RefParams {
  convW: Float64Array;
  convB: Float64Array;
  gamma: Float64Array;
  beta: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
  fcW: Float64Array;
  fcB: Float64Array;
}

/** Random parameters and running statistics written into the GPU model; the same values (f32) returned. */
function randomize(model: Sequential, set: ParameterSet, seed: number): RefParams {
  const f32 = (a: Float64Array) => Float32Array.from(a);
  const p = {
    convW: randomValues(COUT * CIN * 9, seed, -0.5, 0.5),
    convB: randomValues(COUT, seed + 1, -0.2, 0.2),
    gamma: randomValues(COUT, seed + 2, 0.5, 1.5),
    beta: randomValues(COUT, seed + 3, -0.3, 0.3),
    mean: randomValues(COUT, seed + 4, -0.3, 0.3),
    variance: randomValues(COUT, seed + 5, 0.4, 1.6),
    fcW: randomValues(CLASSES * COUT, seed + 6, -1, 1),
    fcB: randomValues(CLASSES, seed + 7, -0.2, 0.2),
  };
  set.params.write('0.weight', f32(p.convW));
  set.params.write('0.bias', f32(p.convB));
  set.params.write('1.weight', f32(p.gamma));
  set.params.write('1.bias', f32(p.beta));
  set.params.write('4.weight', f32(p.fcW));
  set.params.write('4.bias', f32(p.fcB));
  const buffers = new Map(model.namedBuffers());
  const write = (name: string, values: Float64Array) => {
    const t = buffers.get(name)!.tensor!;
    set.rt.write(t.storage.buffer, t.storage.byteOffset, f32(values));
  };
  write('1.running_mean', p.mean);
  write('1.running_var', p.variance);
  const round = (a: Float64Array) => Float64Array.from(f32(a));
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, round(v)])) as unknown as RefParams;
}

/** Float64 forward of one image [CIN, H, W] in eval mode: the C logits. */
function refForward(p: RefParams, x: Float64Array): Float64Array {
  const shape: ConvShape = { batch: 1, cin: CIN, h: H, w: W, cout: COUT, kh: 3, kw: 3, stride: 1, pad: 1 };
  const z = conv2dRef(x, p.convW, p.convB, shape);
  const a = bnApplyRef(z, { batch: 1, c: COUT, hw: H * W }, p.mean, p.variance, p.gamma, p.beta, EPS).map((v) => Math.max(v, 0));
  const pooled = globalAvgPoolRef(a, COUT, H * W);
  const out = new Float64Array(CLASSES);
  for (let c = 0; c < CLASSES; c++) {
    let acc = p.fcB[c];
    for (let k = 0; k < COUT; k++) acc += p.fcW[c * COUT + k] * pooled[k];
    out[c] = acc;
  }
  return out;
}

/** J [N·C, P] by central differences over every parameter (batch-norm statistics are buffers, not parameters). */
function refJacobian(p: RefParams, x: Float64Array): Float64Array[] {
  const per = CIN * H * W;
  const images = Array.from({ length: N }, (_, i) => x.subarray(i * per, (i + 1) * per));
  const columns: Float64Array[] = [];
  const h = 1e-6;
  for (const key of ['convW', 'convB', 'gamma', 'beta', 'fcW', 'fcB'] as const) {
    const arr = p[key];
    for (let j = 0; j < arr.length; j++) {
      const keep = arr[j];
      arr[j] = keep + h;
      const plus = images.map((im) => refForward(p, im));
      arr[j] = keep - h;
      const minus = images.map((im) => refForward(p, im));
      arr[j] = keep;
      const col = new Float64Array(N * CLASSES);
      for (let i = 0; i < N; i++) for (let c = 0; c < CLASSES; c++) col[i * CLASSES + c] = (plus[i][c] - minus[i][c]) / (2 * h);
      columns.push(col);
    }
  }
  return columns;
}

function gram(columns: Float64Array[], rows: number): Float64Array {
  const k = new Float64Array(rows * rows);
  for (const col of columns) for (let a = 0; a < rows; a++) for (let b = 0; b < rows; b++) k[a * rows + b] += col[a] * col[b];
  return k;
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

const gpu = useGpu();

describe('output NTK of a CNN (batch norm in eval mode)', () => {
  const per = CIN * H * W;
  const x64 = randomValues(N * per, 11, -1.5, 1.5).map((v) => Math.fround(v));
  const x = Float32Array.from(x64);
  const labels = Float32Array.from([2, 0, 1, 1, 2]);

  async function setUp(loss: 'mse' | 'ce') {
    const rt = gpu.rt();
    const model = tinyNet();
    const set = build(model, { scheme: 'he', seed: 5, rt });
    const ref = randomize(model, set, 100);
    const samples = new NtkSamples(rt, x, [N, CIN, H, W], labels, CLASSES, loss);
    return { rt, model, set, ref, samples, dispose: () => (samples.dispose(), set.dispose()) };
  }

  it('K equals J·Jᵀ from float64 finite differences, is symmetric and PSD, and Lanczos matches the dense oracle', async () => {
    const { model, set, ref, samples, dispose } = await setUp('mse');
    try {
      const rows = N * CLASSES;
      const { kernel } = await inEvalMode(model, async () => outputKernel(model, set, samples));
      const k = await kernel.read();
      kernel.dispose();
      const kRef = gram(refJacobian(ref, x64), rows);
      const scale = maxAbs(kRef);
      expect(scale).toBeGreaterThan(0.1);
      for (let i = 0; i < rows * rows; i++) expect(Math.abs(k[i] - kRef[i])).toBeLessThanOrEqual(2e-5 * scale);
      for (let a = 0; a < rows; a++) for (let b = 0; b < a; b++) expect(Math.abs(k[a * rows + b] - k[b * rows + a])).toBeLessThanOrEqual(1e-6 * scale);
      const eig = jacobiEigen(k, rows).values;
      expect(eig[0]).toBeGreaterThan(-1e-6 * eig[rows - 1]);

      const refEig = jacobiEigen(kRef, rows).values;
      // P = 168 parameters > 15 outputs: K is positive definite, not just semidefinite.
      expect(refEig[0]).toBeGreaterThan(1e-4 * refEig[rows - 1]);
      const check = await cnnNtkCheck(model, set, samples);
      expect(Math.abs(check.lambdaMin - refEig[0])).toBeLessThanOrEqual(1e-5 * refEig[rows - 1]);
      expect(Math.abs(check.lambdaMax - refEig[rows - 1])).toBeLessThanOrEqual(1e-5 * refEig[rows - 1]);
    } finally {
      dispose();
    }
  });

  it('mse: L_S, the identity ‖∇L‖² = rᵀKr/|S|² and the PL bound λ_min(K)/|S| hold; the model is left as it was', async () => {
    const { model, set, ref, samples, dispose } = await setUp('mse');
    try {
      const before = await set.params.readAll();
      const bufferTensors = model.namedBuffers().map(([, b]) => b.tensor!);
      const buffersBefore = await Promise.all(bufferTensors.map((t) => t.read()));
      const check = await cnnNtkCheck(model, set, samples);
      // L_S = ½·mean over samples of ‖f − onehot‖², from the float64 reference forward.
      let lossRef = 0;
      for (let i = 0; i < N; i++) {
        const f = refForward(ref, x64.subarray(i * per, (i + 1) * per));
        for (let c = 0; c < CLASSES; c++) lossRef += 0.5 * (f[c] - (c === labels[i] ? 1 : 0)) ** 2;
      }
      lossRef /= N;
      expect(check.lossValue).toBeCloseTo(lossRef, 5);
      expect(check.identity.relError).toBeLessThanOrEqual(1e-4);
      expect(check.plRatio).toBeGreaterThanOrEqual(check.muBound * (1 - 1e-4));
      expect(check.muBound).toBeCloseTo(check.lambdaMin / N, 12);
      expect(check.rayleighOverMin).toBeGreaterThanOrEqual(1 - 1e-4);
      // Training mode everywhere again, parameters and running statistics untouched.
      expect(model.modules().every((m) => m.training)).toBe(true);
      const after = await set.params.readAll();
      for (const [name, v] of before) expect(after.get(name)).toEqual(v);
      const buffersAfter = await Promise.all(bufferTensors.map((t) => t.read()));
      expect(buffersAfter).toEqual(buffersBefore);
    } finally {
      dispose();
    }
  });

  it('ce: the identity holds with g = softmax − onehot; no PL numbers', async () => {
    const { model, set, samples, dispose } = await setUp('ce');
    try {
      const check = await cnnNtkCheck(model, set, samples);
      expect(check.identity.relError).toBeLessThanOrEqual(1e-4);
      expect(Number.isNaN(check.plRatio)).toBe(true);
      expect(Number.isNaN(check.muBound)).toBe(true);
      expect(check.lossValue).toBeGreaterThan(0);
    } finally {
      dispose();
    }
  });

  it('several column passes and blocks give the same K', async () => {
    const { model, set, samples, dispose } = await setUp('mse');
    try {
      const rows = N * CLASSES;
      const whole = await inEvalMode(model, async () => outputKernel(model, set, samples));
      // 120 columns per pass in blocks of 40: 168 parameters (plus alignment padding) take several passes.
      const split = await inEvalMode(model, async () => outputKernel(model, set, samples, { maxJacobianBytes: rows * 4 * 120, blockColumns: 40 }));
      expect(whole.passes).toBe(1);
      expect(split.passes).toBeGreaterThan(2);
      const a = await whole.kernel.read();
      const b = await split.kernel.read();
      whole.kernel.dispose();
      split.kernel.dispose();
      const scale = maxAbs(a);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-6 * scale);
    } finally {
      dispose();
    }
  });
});

describe('CnnNtkProbe', () => {

  it('a probe whose first check comes later (a resume) measures K_0 at θ_0 and the initial buffers, then restores both', async () => {
    const rt = gpu.rt();
    const model = tinyNet();
    const set = build(model, { scheme: 'he', seed: 9, rt });
    const initial = new Arena(rt, set.params.layout, 'theta0');
    initial.copyFrom(set.params);
    const x = Float32Array.from(randomValues(4 * CIN * H * W, 21, -1, 1));
    const labels = Float32Array.from([0, 1, 2, 0]);
    const opts = { every: 2, epochs: 3, coversTrainingSet: false };
    const early = new CnnNtkProbe(new NtkSamples(rt, x, [4, CIN, H, W], labels, CLASSES, 'mse'), opts);
    const late = new CnnNtkProbe(new NtkSamples(rt, x, [4, CIN, H, W], labels, CLASSES, 'mse'), opts);
    try {
      expect([0, 1, 2, 3].map((e) => early.isCheckEpoch(e))).toEqual([true, false, true, true]);
      const row0 = await early.measure(0, model, set, initial);
      expect(row0.lambdaMinRatio).toBe(1);
      expect(row0.kernelDrift).toBe(0);
      expect(row0.drift).toBe(0);
      expect(row0.slack).toBeCloseTo(Number(row0.slackLocal), 12);
      // "Training" moved θ and the running statistics.
      randomize(model, set, 300);
      const theta = await set.params.readAll();
      const buffers = model.namedBuffers().map(([, b]) => b.tensor!);
      const buffersBefore = await Promise.all(buffers.map((t) => t.read()));
      const row2 = await late.measure(2, model, set, initial);
      expect(row2.lambdaMin0).toBe(row0.lambdaMin);
      expect(row2.muBound0).toBe(row0.muBound);
      expect(Number(row2.kernelDrift)).toBeGreaterThan(0.01);
      // The drift against the θ_0 read back before.
      const theta0 = await initial.readAll();
      let sq = 0;
      for (const [name, v] of theta) v.forEach((t, i) => (sq += (t - theta0.get(name)![i]) ** 2));
      expect(Number(row2.drift)).toBeCloseTo(Math.sqrt(sq), 4);
      const again = await early.measure(2, model, set, initial);
      expect(again.lambdaMin).toBe(row2.lambdaMin);
      expect(again.kernelDrift).toBe(row2.kernelDrift);
      for (const [name, v] of await set.params.readAll()) expect(v).toEqual(theta.get(name));
      expect(await Promise.all(buffers.map((t) => t.read()))).toEqual(buffersBefore);
    } finally {
      early.dispose();
      late.dispose();
      initial.dispose();
      set.dispose();
    }
  });
});

describe('ntk-cnn helpers', () => {

  it('planJacobian covers every column once, within the binding and the pass budget', () => {
    const chunks = [1000, 37, 4096];
    const rows = 12;
    const passes = planJacobian(chunks, rows, rows * 4 * 300, rows * 4 * 700);
    const covered = chunks.map((n) => new Uint8Array(n));
    for (const pass of passes) {
      expect(pass.reduce((s, b) => s + b.count, 0)).toBeLessThanOrEqual(700);
      for (const b of pass) {
        expect(b.count).toBeGreaterThan(0);
        expect(b.count).toBeLessThanOrEqual(300);
        for (let i = b.start; i < b.start + b.count; i++) covered[b.chunk][i]++;
      }
    }
    for (const c of covered) expect(c.every((v) => v === 1)).toBe(true);
    expect(passes.length).toBe(Math.ceil(5133 / 700));
    const narrow = planJacobian(chunks, rows, rows * 4 * 300, rows * 4 * 700, 64);
    expect(narrow.flat().every((b) => b.count <= 64)).toBe(true);
    expect(narrow.flat().reduce((s, b) => s + b.count, 0)).toBe(5133);
    expect(() => planJacobian([10], 1000, 100, 100)).toThrow(/Lower --ntk-samples/);
  });

  it('lossAndDerivative matches the engine losses; mse is ½·mean over samples of ‖f − onehot‖²', async () => {
    const rt = gpu.rt();
    const n = 4;
    const C = 3;
    const logits = Float32Array.from(randomValues(n * C, 3, -2, 2));
    const labels = Float32Array.from([0, 2, 1, 2]);
    const lt = fromData(logits, [n, C], rt);
    const y = fromData(labels, [n], rt);
    const onehot = fromData(oneHot(labels, C), [n, C], rt);
    try {
      const mse = await classifierLoss('mse', lt, onehot).item();
      const ce = await classifierLoss('ce', lt, y).item();
      const m = lossAndDerivative('mse', logits, labels, C);
      const c = lossAndDerivative('ce', logits, labels, C);
      let direct = 0;
      for (let i = 0; i < n; i++) for (let k = 0; k < C; k++) direct += (logits[i * C + k] - (k === labels[i] ? 1 : 0)) ** 2;
      expect(m.loss).toBeCloseTo(direct / (2 * n), 12);
      expect(mse).toBeCloseTo(m.loss, 5);
      expect(ce).toBeCloseTo(c.loss, 5);
      // g rows of cross-entropy sum to 0 (softmax − onehot).
      for (let i = 0; i < n; i++) expect(c.g[i * C] + c.g[i * C + 1] + c.g[i * C + 2]).toBeCloseTo(0, 12);
    } finally {
      for (const t of [lt, y, onehot]) t.dispose();
    }
  });
});
