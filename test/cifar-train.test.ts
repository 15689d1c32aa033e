// The fig3 trainer in process on synthetic images: the cosine schedule in the step rows, one
// readback per step, the weight-decay term and drift against float64 sums of the parameters,
// the full-gradient pass (equal to the step on the same single batch; measuring changes nothing).
import { describe, expect, it } from 'vitest';
import { augmentBatch, channelStats, normalizeCifar } from '../harness/data/cifar.js';
import {
  createCifarState,
  disposeCifarState,
  loadBnState,
  restoreRngStates,
  rngStates,
  saveBnState,
  trainCifar,
  type CifarRow,
  type CifarTrainConfig,
  type CifarTrainData,
  type EpochProgress,
} from '../harness/experiments/cifar-train.js';
import type { RngState } from '../src/rng.js';
import { Rng } from '../src/rng.js';
import { useGpu } from './helpers/gpu.js';

const gpu = useGpu();
const OPS = { normalize: normalizeCifar, augment: augmentBatch };

function syntheticData(train: number, test: number, classes: number, seed: number): CifarTrainData {
  const rng = new Rng(seed, 'test-images');
  const split = (count: number) => {
    const images = new Uint8Array(count * 3072);
    for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
    const labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) labels[i] = i % classes;
    // Class-dependent brightness, so that there is something to learn.
    for (let i = 0; i < count; i++) for (let p = 0; p < 3072; p += 2) images[i * 3072 + p] = Math.min(255, images[i * 3072 + p] * 0.5 + 40 * labels[i]);
    return { images, labels, count };
  };
  const tr = split(train);
  return { train: tr, test: split(test), classCount: classes, stats: channelStats(tr.images, tr.count) };
}

function config(patch: Partial<CifarTrainConfig> = {}): CifarTrainConfig {
  return {
    depth: 8,
    widths: [4, 8, 8],
    epochs: 2,
    batchSize: 8,
    lr: 0.05,
    warmupSteps: 0,
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: false,
    augment: false,
    init: 'he',
    seed: 3,
    fullGradEvery: 0,
    evalBatchSize: 5,
    ...patch,
  };
}

async function run(cfg: CifarTrainConfig, data: CifarTrainData, inspect?: (phase: 'before' | 'after', params: Float64Array) => void) {
  const s = createCifarState(gpu.rt(), cfg, data, OPS);
  const flat = async () => Float64Array.from([...(await s.set.params.readAll()).values()].flatMap((a) => [...a]));
  try {
    if (inspect) inspect('before', await flat());
    const rows: CifarRow[] = [];
    const before = gpu.rt().dispatchStats.readbacks;
    await trainCifar(s, { onRow: (r) => void rows.push(r) });
    const readbacks = gpu.rt().dispatchStats.readbacks - before;
    if (inspect) inspect('after', await flat());
    return { rows, readbacks, totalSteps: s.totalSteps };
  } finally {
    disposeCifarState(s);
  }
}

const withoutTime = (rows: CifarRow[]) => rows.map((r) => ({ ...r, timeMs: undefined }));

describe('fig3 trainer', () => {
  const data = syntheticData(20, 9, 3, 1);

  it('steps through the cosine schedule with warmup, one readback per step, wd term and drift from the parameters', async () => {
    let theta0: Float64Array = new Float64Array();
    let thetaE: Float64Array = new Float64Array();
    const cfg = config({ warmupSteps: 2, epochs: 3 });
    const { rows, readbacks, totalSteps } = await run(cfg, data, (phase, p) => (phase === 'before' ? (theta0 = p) : (thetaE = p)));
    const steps = rows.filter((r) => r.kind === 'step');
    // 20 images in batches of 8: 3 steps per epoch (8, 8, 4), 3 epochs.
    expect(totalSteps).toBe(9);
    expect(steps.map((r) => [r.step, r.epoch])).toEqual([...Array(9).keys()].map((s) => [s, Math.floor(s / 3)]));
    const expectedLr = (s: number) => (s < 2 ? (0.05 * (s + 1)) / 2 : 0.025 * (1 + Math.cos((Math.PI * (s - 2)) / (9 - 2))));
    for (const r of steps) expect(r.lr).toBeCloseTo(expectedLr(r.step), 15);
    // One readback per step, one per epoch (test set, drift and ‖θ‖² together).
    expect(readbacks).toBe(9 + 3);

    const sumSq = (v: Float64Array) => v.reduce((a, x) => a + x * x, 0);
    expect(steps[0].weightDecayTerm).toBeCloseTo((5e-4 / 2) * sumSq(theta0), 6);
    const epochs = rows.filter((r) => r.kind === 'epoch');
    expect(epochs.map((r) => r.epoch)).toEqual([0, 1, 2]);
    const last = epochs[2];
    expect(last.weightDecayTerm).toBeCloseTo((5e-4 / 2) * sumSq(thetaE), 6);
    const drift = Math.sqrt(thetaE.reduce((a, x, i) => a + (x - theta0[i]) ** 2, 0));
    expect(last.drift).toBeCloseTo(drift, 5);
    expect(last.lr).toBe(steps[8].lr);
    // The epoch loss is the image-weighted mean of its steps' losses.
    const ep0 = steps.slice(0, 3);
    expect(epochs[0].loss).toBeCloseTo((8 * ep0[0].loss + 8 * ep0[1].loss + 4 * ep0[2].loss) / 20, 6);
    expect(epochs[0].gradNormSq).toBeCloseTo((ep0[0].gradNormSq + ep0[1].gradNormSq + ep0[2].gradNormSq) / 3, 6);

    const evals = rows.filter((r) => r.kind === 'eval');
    expect(evals.map((r) => r.epoch)).toEqual([1, 2, 3]);
    for (const e of evals) {
      expect(Number.isInteger(Math.round(e.testAcc * 9 * 1e4) / 1e4)).toBe(true);
      expect(e.testLoss).toBeGreaterThan(0);
    }
    for (const e of epochs) expect(Number.isInteger(Math.round(e.acc * 20 * 1e4) / 1e4)).toBe(true);
  });

  let plainRows: CifarRow[] = [];

  it('measuring the full gradient leaves the run unchanged (batch-norm statistics restored)', async () => {
    plainRows = (await run(config(), data)).rows;
    const measured = await run(config({ fullGradEvery: 1 }), data);
    const full = measured.rows.filter((r) => r.kind === 'fullgrad');
    expect(full.map((r) => r.epoch)).toEqual([0, 1, 2]);
    expect(withoutTime(measured.rows.filter((r) => r.kind !== 'fullgrad'))).toEqual(withoutTime(plainRows));
    expect(full[2].loss).toBeLessThan(full[0].loss);
  });

  it('the full gradient over one batch equals the first step’s gradient on that batch', async () => {
    // One batch holds the whole training set, so step 0 and the full pass see the same images
    // (in another order: the loss, batch norm and the summed gradient do not depend on it).
    const { rows } = await run(config({ batchSize: 32, epochs: 1, fullGradEvery: 1 }), data);
    const full = rows.find((r) => r.kind === 'fullgrad' && r.epoch === 0)!;
    const step = rows.find((r) => r.kind === 'step' && r.step === 0)!;
    expect(full.kind === 'fullgrad' && step.kind === 'step').toBe(true);
    if (full.kind !== 'fullgrad' || step.kind !== 'step') return;
    expect(Math.abs(full.loss - step.loss) / step.loss).toBeLessThan(1e-5);
    expect(Math.abs(full.gradNormSq - step.gradNormSq) / step.gradNormSq).toBeLessThan(1e-4);
  });

  let augmentedRows: CifarRow[] = [];

  it('augmentation changes the data seen, deterministically', async () => {
    // Batches of 6: 18 random words per batch, so batches end inside a Philox block.
    const a = await run(config({ augment: true, batchSize: 6 }), data);
    const b = await run(config({ augment: true, batchSize: 6 }), data);
    augmentedRows = a.rows;
    expect(withoutTime(a.rows)).toEqual(withoutTime(b.rows));
    // Step 0 sees the same images as the plain run's step 0 (same order), augmented.
    const firstLoss = (rows: CifarRow[]) => {
      const r = rows.find((x) => x.kind === 'step' && x.step === 0);
      return r?.kind === 'step' ? r.loss : NaN;
    };
    expect(firstLoss(plainRows)).toBeGreaterThan(0);
    expect(firstLoss(a.rows)).toBeGreaterThan(0);
    expect(firstLoss(a.rows)).not.toBe(firstLoss(plainRows));
  });

  it('a run stopped between two steps and restored finishes exactly as an uninterrupted one', async () => {
    const cfg = config({ augment: true, batchSize: 6 });
    expect(augmentedRows.length).toBeGreaterThan(0);
    const rt = gpu.rt();
    class Stop extends Error {}
    type Saved = { progress: EpochProgress; arenas: Map<string, Float32Array>[]; rng: Record<string, RngState>; steps: number };
    let saved: Saved | undefined;
    const first = createCifarState(rt, cfg, data, OPS);
    const rows: CifarRow[] = [];
    try {
      await trainCifar(first, {
        onRow: (r) => void rows.push(r),
        // Stop at the first step boundary inside epoch 1 (after step 1 of its 4).
        midEpochDue: () => first.epochsDone === 1,
        midEpoch: async (p, s) => {
          saveBnState(s);
          const arenas = [];
          for (const a of [s.set.params, s.optimizer.velocity!, s.bnState, s.initial]) arenas.push(await a.readAll());
          saved = { progress: { ...p, order: p.order.slice() }, arenas, rng: rngStates(s), steps: s.optimizer.stepCount };
          throw new Stop();
        },
      });
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    } finally {
      disposeCifarState(first);
    }
    expect(saved?.progress).toMatchObject({ epoch: 1, stepsDone: 1 });
    expect(rows.filter((r) => r.kind === 'step').map((r) => (r.kind === 'step' ? r.step : -1))).toEqual([0, 1, 2, 3, 4]);

    const second = createCifarState(rt, cfg, data, OPS);
    try {
      const targets = [second.set.params, second.optimizer.velocity!, second.bnState, second.initial];
      saved!.arenas.forEach((values, i) => {
        for (const [name, v] of values) targets[i].write(name, v);
      });
      loadBnState(second);
      second.optimizer.stepCount = saved!.steps;
      second.epochsDone = 1;
      second.resumeWithin = saved!.progress;
      restoreRngStates(second, saved!.rng);
      await trainCifar(second, { onRow: (r) => void rows.push(r) });
    } finally {
      disposeCifarState(second);
    }
    expect(withoutTime(rows)).toEqual(withoutTime(augmentedRows));
  });
});
