// Batch norm: training forward/backward against a float64 reference (and the reference
// against finite differences), running-statistic updates as in PyTorch, the train/eval
// switch, and variance stability for inputs with a large mean.
import { describe, expect, it } from 'vitest';
import { backward, fromData, mul, sum, tidy, type Tensor } from '../src/entry-node.js';
import { batchNorm2d } from '../src/ops/batchnorm.js';
import { useGpu } from './helpers/gpu.js';
import {
  bnApplyRef,
  bnStatsRef,
  bnTrainBackwardRef,
  bnTrainRef,
  dot,
  expectClose,
  f32,
  finiteDiff,
  randomValues,
  type BnShape,
} from './conv-reference.js';

const EPS = 1e-5;
const SHAPES: { name: string; shape: [number, number, number, number] }[] = [
  { name: 'b3 c5 4x3', shape: [3, 5, 4, 3] },
  { name: 'b1 c3 5x7', shape: [1, 3, 5, 7] },
  { name: 'b2 c6 1x1', shape: [2, 6, 1, 1] },
  { name: 'b4 c2 17x16 (more rows than a workgroup)', shape: [4, 2, 17, 16] },
  // Planes smaller than a workgroup's stride of 256 values, which the reductions' walk
  // crosses several images at a time with a carry: 7x7 (256 = 5·49 + 11) and 6x6 (vec4).
  { name: 'b13 c3 7x7 (walk carries across images)', shape: [13, 3, 7, 7] },
  { name: 'b9 c2 6x6 (vec4 apply, walk carries)', shape: [9, 2, 6, 6] },
];

function dims(shape: readonly number[]): BnShape {
  return { batch: shape[0], c: shape[1], hw: shape[2] * shape[3] };
}

describe('batch norm reference', () => {
  it('its training-mode gradients match float64 finite differences', () => {
    const s: BnShape = { batch: 3, c: 2, hw: 5 };
    const x = randomValues(30, 1, -2, 2);
    const gamma = randomValues(2, 2, 0.5, 1.5);
    const beta = randomValues(2, 3);
    const dy = randomValues(30, 4);
    const ref = bnTrainBackwardRef(x, dy, s, gamma, EPS);
    expectClose(ref.dx, finiteDiff((xv) => dot(bnTrainRef(xv, s, gamma, beta, EPS), dy), x), 'dx', 1e-6, 1e-5);
    expectClose(ref.dgamma, finiteDiff((gv) => dot(bnTrainRef(x, s, gv, beta, EPS), dy), gamma), 'dgamma', 1e-6, 1e-5);
    expectClose(ref.dbeta, finiteDiff((bv) => dot(bnTrainRef(x, s, gamma, bv, EPS), dy), beta), 'dbeta', 1e-6, 1e-5);
  });
});

describe('batchNorm2d', () => {
  const gpu = useGpu();

  function tensors(shape: readonly number[], seed: number, offset = 0) {
    const rt = gpu.rt();
    const s = dims(shape);
    const x = f32(randomValues(s.batch * s.c * s.hw, seed, offset - 2, offset + 2));
    const gamma = f32(randomValues(s.c, seed + 1, 0.5, 1.5));
    const beta = f32(randomValues(s.c, seed + 2));
    const dy = f32(randomValues(x.length, seed + 3));
    const xT = fromData(Float32Array.from(x), shape, rt);
    const gT = fromData(Float32Array.from(gamma), [s.c], rt);
    const bT = fromData(Float32Array.from(beta), [s.c], rt);
    const rm = fromData(new Float32Array(s.c), [s.c], rt);
    const rv = fromData(new Float32Array(s.c).fill(1), [s.c], rt);
    const nbt = fromData([0], [], rt);
    return { s, x, gamma, beta, dy, xT, gT, bT, rm, rv, nbt };
  }

  function forwardBackward(xT: Tensor, gT: Tensor, bT: Tensor, dy: Float64Array, opts: Parameters<typeof batchNorm2d>[3]): Tensor {
    for (const t of [xT, gT, bT]) t.requiresGrad = true;
    return tidy(() => {
      const y = batchNorm2d(xT, gT, bT, opts);
      backward(sum(mul(y, fromData(Float32Array.from(dy), y.shape, xT.rt))));
      return y.keep();
    });
  }

  for (const { name, shape } of SHAPES) {
    it(`${name}: training forward and backward match the reference`, async () => {
      const { s, x, gamma, beta, dy, xT, gT, bT, rm, rv, nbt } = tensors(shape, 40 + shape[1]);
      const y = forwardBackward(xT, gT, bT, dy, { training: true, runningMean: rm, runningVar: rv, numBatchesTracked: nbt });
      expectClose(await y.read(), bnTrainRef(x, s, gamma, beta, EPS), `${name} y`, 2e-5, 1e-4);
      const ref = bnTrainBackwardRef(x, dy, s, gamma, EPS);
      const n = s.batch * s.hw;
      expectClose(await xT.grad!.read(), ref.dx, `${name} dx`, 1e-4, 1e-3);
      expectClose(await gT.grad!.read(), ref.dgamma, `${name} dgamma`, 1e-5 * Math.sqrt(n) * 4, 1e-4);
      expectClose(await bT.grad!.read(), ref.dbeta, `${name} dbeta`, 1e-5 * Math.sqrt(n) * 4, 1e-4);
      // One step from (0, 1) with momentum 0.1; running_var takes the unbiased variance.
      const st = bnStatsRef(x, s);
      expectClose(await rm.read(), st.mean.map((m) => 0.1 * m), `${name} running_mean`, 1e-6, 1e-5);
      expectClose(await rv.read(), st.varUnbiased.map((v) => 0.9 + 0.1 * v), `${name} running_var`, 1e-6, 1e-5);
      expect(await nbt.item()).toBe(1);
    });
  }

  it('the vec4 entries give the same bits as the scalar entries (forward and backward)', async () => {
    const shape = [5, 3, 4, 6];
    const results: Float32Array[][] = [];
    const entries: string[][] = [];
    const rt = gpu.rt();
    for (const vectorize of [true, false]) {
      const { dy, xT, gT, bT, rm, rv, nbt } = tensors(shape, 61);
      const seen: string[] = [];
      rt.dispatchListener = (name) => seen.push(name);
      try {
        const y = forwardBackward(xT, gT, bT, dy, { training: true, runningMean: rm, runningVar: rv, numBatchesTracked: nbt, vectorize });
        results.push([await y.read(), await xT.grad!.read(), await gT.grad!.read(), await bT.grad!.read()]);
      } finally {
        rt.dispatchListener = undefined;
      }
      entries.push(seen.filter((n) => /apply/.test(n)));
    }
    // Both paths really ran (otherwise the comparison below could not fail).
    expect(entries[0]).toEqual(['batchnorm:apply4', 'batchnorm:bwd_apply4']);
    expect(entries[1]).toEqual(['batchnorm:apply', 'batchnorm:bwd_apply']);
    const [vec, scalar] = results;
    for (let i = 0; i < vec.length; i++) expect(Array.from(vec[i])).toEqual(Array.from(scalar[i]));
  });

  it('running statistics follow PyTorch over several steps; eval mode uses them and leaves them alone', async () => {
    const shape = [3, 4, 3, 5];
    const { s, gamma, beta, gT, bT, rm, rv, nbt } = tensors(shape, 70);
    const momentum = 0.3;
    let expMean = new Float64Array(s.c);
    let expVar = new Float64Array(s.c).fill(1);
    for (let step = 0; step < 3; step++) {
      const x = f32(randomValues(s.batch * s.c * s.hw, 80 + step, -1 + step, 2 + step));
      tidy(() => batchNorm2d(fromData(Float32Array.from(x), shape, gT.rt), gT, bT, { training: true, runningMean: rm, runningVar: rv, numBatchesTracked: nbt, momentum }));
      const st = bnStatsRef(x, s);
      expMean = expMean.map((m, c) => (1 - momentum) * m + momentum * st.mean[c]);
      expVar = expVar.map((v, c) => (1 - momentum) * v + momentum * st.varUnbiased[c]);
    }
    expectClose(await rm.read(), expMean, 'running_mean', 1e-5, 1e-5);
    expectClose(await rv.read(), expVar, 'running_var', 1e-5, 1e-5);
    expect(await nbt.item()).toBe(3);

    // Eval: normalize with the running estimates; their gradient is that of an affine map.
    const x = f32(randomValues(s.batch * s.c * s.hw, 99));
    const dy = f32(randomValues(x.length, 98));
    const xT = fromData(Float32Array.from(x), shape, gT.rt);
    const rmBefore = await rm.read();
    const rvBefore = await rv.read();
    const y = forwardBackward(xT, gT, bT, dy, { training: false, runningMean: rm, runningVar: rv, numBatchesTracked: nbt, momentum });
    const rmv = Float64Array.from(rmBefore);
    const rvv = Float64Array.from(rvBefore);
    expectClose(await y.read(), bnApplyRef(x, s, rmv, rvv, gamma, beta, EPS), 'eval y', 1e-5, 1e-4);
    const evalLoss = (xv: Float64Array, gv: Float64Array, bv: Float64Array) => dot(bnApplyRef(xv, s, rmv, rvv, gv, bv, EPS), dy);
    expectClose(await xT.grad!.read(), finiteDiff((xv) => evalLoss(xv, gamma, beta), x), 'eval dx', 1e-5, 1e-4);
    expectClose(await gT.grad!.read(), finiteDiff((gv) => evalLoss(x, gv, beta), gamma), 'eval dgamma', 1e-4, 1e-4);
    expectClose(await bT.grad!.read(), finiteDiff((bv) => evalLoss(x, gamma, bv), beta), 'eval dbeta', 1e-4, 1e-4);
    expect(Array.from(await rm.read())).toEqual(Array.from(rmBefore));
    expect(Array.from(await rv.read())).toEqual(Array.from(rvBefore));
    expect(await nbt.item()).toBe(3);
  });

  it('computes the variance in two passes (inputs with mean 1000 and spread 0.1)', async () => {
    const shape = [4, 3, 6, 5];
    const s = dims(shape);
    const rt = gpu.rt();
    const x = f32(randomValues(s.batch * s.c * s.hw, 5, 1000 - 0.1, 1000 + 0.1));
    const rv = fromData(new Float32Array(s.c), [s.c], rt);
    const ones = fromData(new Float32Array(s.c).fill(1), [s.c], rt);
    const zeros = fromData(new Float32Array(s.c), [s.c], rt);
    const y = batchNorm2d(fromData(Float32Array.from(x), shape, rt), ones, zeros, { training: true, runningVar: rv, momentum: 1 });
    const st = bnStatsRef(x, s);
    // E[x²] − E[x]² in float32 would lose every digit here (1e6 − 1e6 for a variance of 3e-3).
    expectClose(await rv.read(), st.varUnbiased, 'batch variance', 0, 1e-3);
    expectClose(await y.read(), bnTrainRef(x, s, new Float64Array(s.c).fill(1), new Float64Array(s.c), EPS), 'normalized', 5e-3, 0);
  });

  it('names the problem for unusable inputs', () => {
    const rt = gpu.rt();
    const one = fromData([1], [1], rt);
    const zero = fromData([0], [1], rt);
    expect(() => batchNorm2d(fromData([3], [1, 1, 1, 1], rt), one, zero, { training: true })).toThrow(/more than one value per channel/);
    expect(() => batchNorm2d(fromData([3, 4], [2, 1, 1, 1], rt), one, zero, { training: false })).toThrow(/runningMean and runningVar/);
    expect(() => batchNorm2d(fromData([3, 4], [1, 2, 1, 1], rt), one, zero, { training: true })).toThrow(/2 channels/);
  });
});
