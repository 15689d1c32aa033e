// Mini-batch SGD on a CIFAR-style ResNet (paper §6.3, Figure 3), platform neutral: the Node
// runner (cifar-lab.ts) and the browser page both drive this. Data arrive as uint8 records;
// the normalisation and augmentation functions are passed in (harness/data/cifar.ts provides
// them), so this module imports nothing from Node.
//
// Rows, in the order they are produced (docs/metrics.md has the schema):
// - `fullgrad` (with --full-grad-every k, at epochs 0, k, 2k, … ≤ E, before that epoch's
//   steps): the loss and ‖∇L‖² of the whole training set at θ, accumulated over mini-batches
//   with batch norm in training mode, no update, no augmentation.
// - `step`: one per update, the mini-batch loss and ‖∇L‖² before it, the lr it uses.
// - `epoch` e (0-based, like the steps' `epoch`): means of the epoch's mini-batch values
//   (loss weighted by batch size, ‖∇L‖² per step), training accuracy on those mini-batches,
//   and the distance ‖θ − θ₀‖ after the epoch. Not a full-batch evaluation.
// - `eval` with epoch e+1: test loss and accuracy after e+1 epochs (batch norm in eval mode).
// - `ntk` (with --ntk-every k, at epochs 0, k, 2k, … and E, after any `fullgrad` row of that
//   epoch): the output NTK on a fixed seeded subset S with batch norm in eval mode
//   (src/metrics/ntk-cnn.ts). It reads θ and the buffers and leaves them, the optimizer and the
//   RNG streams as they were, so the other rows are the same bit for bit with or without it.
// Losses and gradients are of the training loss alone (--loss: cross-entropy by default, or
// ½·mean over samples of ‖logits − onehot‖²); weight decay enters only the update, and its term
// (wd/2)·‖θ‖² is logged separately as `weightDecayTerm`.
import { DivergenceError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { noGrad } from '../../src/autograd/tape.js';
import { backward } from '../../src/ops/backward.js';
import { arenaDistanceSq, arenaSumSquares, readScalars } from '../../src/metrics/norms.js';
import { ntkSubset } from '../../src/metrics/ntk.js';
import { classifierLoss, CnnNtkProbe, lossTargets, NtkSamples, type ClassifierLoss } from '../../src/metrics/ntk-cnn.js';
import { isStepRow, type EpochRow, type EvalRow, type FullGradRow, type MetricRow, type NtkRow, type StepRow } from '../../src/metrics/schema.js';
import { Arena, planArena } from '../../src/nn/arena.js';
import { resnet, type ResNet } from '../../src/nn/conv-layers.js';
import { build, loadParameters, type ParameterSet } from '../../src/nn/module.js';
import { add, equal, full, mulScalar } from '../../src/ops/elementwise.js';
import { argmax, sum } from '../../src/ops/reduce.js';
import { cosineLr } from '../../src/optim/schedule.js';
import { SGD } from '../../src/optim/sgd.js';
import { Rng, type RngState } from '../../src/rng.js';
import { fromData, type Tensor, tidy } from '../../src/tensor.js';
import type { ChannelStats, CifarData } from '../data/cifar.js';
import type { CifarRunConfig } from './cifar-config.js';

const SIDE = 32;
const PIXELS = 3 * SIDE * SIDE;

export type CifarTrainConfig = Pick<
  CifarRunConfig,
  'depth' | 'widths' | 'epochs' | 'batchSize' | 'lr' | 'warmupSteps' | 'momentum' | 'weightDecay' | 'nesterov' | 'augment' | 'init' | 'seed' | 'fullGradEvery' | 'evalBatchSize'
> &
  // Optional here (defaults: cross-entropy, no NTK checks, 16 samples) so older callers keep working.
  Partial<Pick<CifarRunConfig, 'loss' | 'ntkEvery' | 'ntkSamples'>>;

/** config.json's description of the rows (the CLI and the page write the same). */
export const CIFAR_ROWS_DESCRIPTION =
  'step: mini-batch loss and ‖∇L‖² before each update; epoch e: means over that epoch’s steps, drift after it; eval e: test set after e epochs; fullgrad e: whole training set at the start of epoch e; ' +
  'ntk e: output NTK on the fixed subset S at the start of epoch e, batch norm in eval mode. Losses exclude weight decay (weightDecayTerm).';

/** Default size of the NTK subset S when the config leaves it out. */
export const DEFAULT_NTK_SAMPLES = 16;

/** Normalisation and augmentation (harness/data/cifar.ts: normalizeCifar, augmentBatch). */
export interface CifarDataOps {
  normalize(images: Uint8Array, count: number, mean: readonly number[], std: readonly number[]): Float32Array;
  augment(x: Float32Array, count: number, rng: Rng): Float32Array;
}

/** What config.json says about a fig3 run's data (paths: files for the CLI, names or URLs in the page). */
export interface CifarDataInfo {
  trainFiles: { path: string; records: number }[];
  testFiles: { path: string; records: number }[];
  classes: { id: number; name: string; train: number; test: number }[];
  trainImages: number;
  testImages: number;
  mean: number[];
  std: number[];
}

export interface CifarTrainData {
  /** Training images of the selected classes, labels 0..classCount-1. */
  train: CifarData;
  test: CifarData;
  classCount: number;
  /** Per-channel mean/std of the training images (pixel/255), used for both splits. */
  stats: ChannelStats;
}

/** A step row of a CIFAR run always carries the weight-decay term. */
export type CifarStepRow = StepRow & { weightDecayTerm: number };

/** An epoch row of a CIFAR run: means over its `steps` mini-batch updates. */
export type CifarEpochRow = EpochRow & { weightDecayTerm: number; steps: number };

export type CifarRow = CifarStepRow | CifarEpochRow | EvalRow | FullGradRow | NtkRow;

/**
 * Where a run stands inside an epoch: its data order, the steps done, and the running sums of
 * the epoch row. A checkpoint taken between steps stores this, so that a resumed run finishes
 * the epoch exactly as an uninterrupted one.
 */
export interface EpochProgress {
  epoch: number;
  stepsDone: number;
  /** The epoch's permutation of the training images. */
  order: Uint32Array;
  lossSum: number;
  gradSum: number;
  correctSum: number;
  lastLr: number;
}

export interface CifarTrainHooks {
  /** Each row as soon as it is known (metrics stream to disk from here). */
  onRow(row: CifarRow): void | Promise<void>;
  /** After epoch `epochsDone` ends and its rows are out (checkpoints, yielding to the UI). */
  afterEpoch?(epochsDone: number, state: CifarTrainState): void | Promise<void>;
  /** Asked between two steps of an epoch: checkpoint now (time-based, or a stop was requested)? */
  midEpochDue?(): boolean;
  /** Called when midEpochDue() said yes, with no step in flight and every earlier row out. */
  midEpoch?(progress: EpochProgress, state: CifarTrainState): void | Promise<void>;
  /** Return true to stop before the next epoch (browser stop button). */
  shouldStop?(): boolean;
  /** Progress messages (the NTK checks say what they measured). */
  log?(message: string): void;
}

export interface CifarTrainState {
  rt: Runtime;
  config: CifarTrainConfig;
  data: CifarTrainData;
  ops: CifarDataOps;
  model: ResNet;
  set: ParameterSet;
  optimizer: SGD;
  /** θ₀, for the drift. */
  initial: Arena;
  /** Batch-norm running statistics in one arena (checkpoints; saved around the full-gradient pass). */
  bnState: Arena;
  /** The test set, normalised once. */
  testX: Float32Array;
  stepsPerEpoch: number;
  totalSteps: number;
  /** Epochs finished so far (the next epoch to run). */
  epochsDone: number;
  /** Set when resuming inside epoch `epochsDone` (from a checkpoint taken between steps). */
  resumeWithin?: EpochProgress;
  shuffleRng: Rng;
  augmentRng: Rng;
  /** The output-NTK checks (--ntk-every > 0), with S on the GPU. */
  ntk?: CnnNtkProbe;
}

/** The training loss of a config (cross-entropy unless --loss mse). */
function lossKind(config: CifarTrainConfig): ClassifierLoss {
  return config.loss ?? 'ce';
}

/** Multiply-accumulates of one forward pass of a CIFAR ResNet-(6n+2) on one 32×32 image. */
export function resnetForwardMacs(depth: number, widths: readonly number[], classes: number): number {
  const n = (depth - 2) / 6;
  let side = SIDE;
  let macs = 3 * widths[0] * 9 * side * side; // stem
  let planes = widths[0];
  widths.forEach((w, s) => {
    for (let b = 0; b < n; b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      const out = side / stride;
      macs += planes * w * 9 * out * out + w * w * 9 * out * out;
      if (stride !== 1 || planes !== w) macs += planes * w * out * out; // 1×1 projection
      planes = w;
      side = out;
    }
  });
  return macs + planes * classes;
}

/** Floating-point work of one training step (forward + both backward GEMMs ≈ 3 forwards). */
export function resnetStepFlops(depth: number, widths: readonly number[], classes: number, batch: number): number {
  return 2 * 3 * resnetForwardMacs(depth, widths, classes) * batch;
}

export function createCifarState(
  rt: Runtime,
  config: CifarTrainConfig,
  data: CifarTrainData,
  ops: CifarDataOps,
  opts: { initFrom?: { values: Map<string, { shape: number[]; data: Float32Array }>; source: string } } = {},
): CifarTrainState {
  const model = resnet({ depth: config.depth, widths: config.widths, classes: data.classCount });
  const set = build(model, { scheme: config.init, seed: config.seed, rt });
  // Given parameters replace the drawn ones before θ₀ is taken (drift is measured from them).
  if (opts.initFrom) loadParameters(set, opts.initFrom.values, opts.initFrom.source);
  const initial = new Arena(rt, set.params.layout, 'theta0');
  initial.copyFrom(set.params);
  const optimizer = new SGD(set, { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay, nesterov: config.nesterov });
  const buffers = model.namedBuffers();
  const bnState = new Arena(rt, planArena(buffers.map(([name, b]) => ({ name, shape: b.shape })), rt), 'bn-state');
  const stepsPerEpoch = Math.ceil(data.train.count / config.batchSize);
  let ntk: CnnNtkProbe | undefined;
  if ((config.ntkEvery ?? 0) > 0) {
    // S: a fixed seeded subset of the training images, normalised, never augmented.
    const idx = ntkSubset(data.train.count, config.ntkSamples ?? DEFAULT_NTK_SAMPLES, config.seed);
    const { images, labels } = gather(data.train, idx);
    const x = ops.normalize(images, idx.length, data.stats.mean, data.stats.std);
    const samples = new NtkSamples(rt, x, [idx.length, 3, SIDE, SIDE], labels, data.classCount, lossKind(config));
    ntk = new CnnNtkProbe(samples, { every: config.ntkEvery!, epochs: config.epochs, coversTrainingSet: idx.length === data.train.count });
  }
  return {
    rt,
    config,
    data,
    ops,
    model,
    set,
    optimizer,
    initial,
    bnState,
    testX: ops.normalize(data.test.images, data.test.count, data.stats.mean, data.stats.std),
    stepsPerEpoch,
    totalSteps: stepsPerEpoch * config.epochs,
    epochsDone: 0,
    shuffleRng: new Rng(config.seed, 'cifar-shuffle'),
    augmentRng: new Rng(config.seed, 'cifar-augment'),
    ntk,
  };
}

export function disposeCifarState(s: CifarTrainState): void {
  s.ntk?.dispose();
  s.initial.dispose();
  s.bnState.dispose();
  s.optimizer.dispose();
  s.set.dispose();
}

/** The learning rate of update `step`: cosine from the base lr to 0 at the end of the run. */
export function cifarLr(s: CifarTrainState, step: number): number {
  return cosineLr(step, s.totalSteps, s.config.lr, { warmupSteps: s.config.warmupSteps });
}

/** Copy the batch-norm buffers into bnState (before a checkpoint or the full-gradient pass). */
export function saveBnState(s: CifarTrainState): void {
  for (const [name, b] of s.model.namedBuffers()) s.rt.copy(b.tensor!.region(), s.bnState.view(name).region());
}

/** Copy bnState back into the batch-norm buffers (after a restore or the full-gradient pass). */
export function loadBnState(s: CifarTrainState): void {
  for (const [name, b] of s.model.namedBuffers()) s.rt.copy(s.bnState.view(name).region(), b.tensor!.region());
}

/** RNG streams at their current block boundary (what a checkpoint stores). */
export function rngStates(s: CifarTrainState): Record<string, RngState> {
  return { shuffle: s.shuffleRng.getState(), augment: s.augmentRng.getState() };
}

export function restoreRngStates(s: CifarTrainState, states: Record<string, RngState>): void {
  s.shuffleRng.setState(states.shuffle);
  s.augmentRng.setState(states.augment);
}

/** Gather records `indices` of a split into one uint8 block (CHW per image). */
function gather(split: CifarData, indices: ArrayLike<number>): { images: Uint8Array; labels: Float32Array } {
  const images = new Uint8Array(indices.length * PIXELS);
  const labels = new Float32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    images.set(split.images.subarray(r * PIXELS, (r + 1) * PIXELS), i * PIXELS);
    labels[i] = split.labels[r];
  }
  return { images, labels };
}

/** A normalised (optionally augmented) training batch. */
function trainBatch(s: CifarTrainState, indices: ArrayLike<number>, augment: boolean): { x: Float32Array; y: Float32Array } {
  const { images, labels } = gather(s.data.train, indices);
  const { mean, std } = s.data.stats;
  let x = s.ops.normalize(images, indices.length, mean, std);
  if (augment) x = s.ops.augment(x, indices.length, s.augmentRng);
  return { x, y: labels };
}

function range(start: number, count: number): Uint32Array {
  const r = new Uint32Array(count);
  for (let i = 0; i < count; i++) r[i] = start + i;
  return r;
}

/**
 * Encode one SGD step on records `indices` and start reading its scalars back; returns the
 * pending readback of [loss, ‖∇L‖², correct, ‖θ‖²] (all before the update). Exported for
 * `lplr profile fig3`, which times exactly the trainer's step.
 */
export function encodeStep(s: CifarTrainState, indices: ArrayLike<number>, lr: number): Promise<number[]> {
  const { x, y } = trainBatch(s, indices, s.config.augment);
  const count = indices.length;
  const scalars = tidy(() => {
    const xt = fromData(x, [count, 3, SIDE, SIDE], s.rt);
    const yt = fromData(y, [count], s.rt);
    const kind = lossKind(s.config);
    const targets = kind === 'ce' ? yt : lossTargets(kind, y, s.data.classCount, s.rt);
    s.set.zeroGrad();
    const logits = s.model.forward(xt);
    const loss = classifierLoss(kind, logits, targets);
    backward(loss);
    return noGrad(() => [loss, arenaSumSquares(s.set.grads), sum(equal(argmax(logits, 1).indices, yt)), arenaSumSquares(s.set.params)]);
  });
  s.optimizer.step(lr);
  // readScalars encodes its copies and submits synchronously, before its first await: the
  // scalar tensors can go now, and the GPU runs this step while the CPU prepares the next.
  const pending = readScalars(scalars);
  for (const t of scalars) t.dispose();
  return pending;
}

/** Test loss and accuracy (batch norm in eval mode), plus ‖θ − θ₀‖² and ‖θ‖², in one readback. */
async function evaluate(s: CifarTrainState): Promise<{ testLoss: number; testAcc: number; driftSq: number; paramNormSq: number }> {
  const { test } = s.data;
  const per = s.config.evalBatchSize;
  s.model.eval();
  let lossSum: Tensor | undefined;
  let correct: Tensor | undefined;
  try {
    for (let start = 0; start < test.count; start += per) {
      const count = Math.min(per, test.count - start);
      const [l, c] = tidy(() =>
        noGrad(() => {
          const labels = test.labels.subarray(start, start + count);
          const xt = fromData(s.testX.subarray(start * PIXELS, (start + count) * PIXELS), [count, 3, SIDE, SIDE], s.rt);
          const yt = fromData(labels, [count], s.rt);
          const kind = lossKind(s.config);
          const targets = kind === 'ce' ? yt : lossTargets(kind, labels, s.data.classCount, s.rt);
          const logits = s.model.forward(xt);
          return [mulScalar(classifierLoss(kind, logits, targets), count), sum(equal(argmax(logits, 1).indices, yt))];
        }),
      );
      lossSum = lossSum ? tidy(() => add(lossSum!, l)) : l;
      correct = correct ? tidy(() => add(correct!, c)) : c;
    }
  } finally {
    s.model.train();
  }
  const scalars = tidy(() => [lossSum!, correct!, arenaDistanceSq(s.set.params, s.initial), arenaSumSquares(s.set.params)]);
  const [lossTotal, correctTotal, driftSq, paramNormSq] = await readScalars(scalars);
  for (const t of scalars) t.dispose();
  return { testLoss: lossTotal / test.count, testAcc: correctTotal / test.count, driftSq, paramNormSq };
}

/**
 * Loss and ‖∇L‖² of the whole training set at the current θ: mini-batches of the training
 * batch size in data order, batch norm in training mode (as the steps see it), no
 * augmentation, no update. The batch-norm running statistics are restored afterwards, so
 * measuring does not change the run.
 */
export async function fullGradient(s: CifarTrainState): Promise<{ loss: number; gradNormSq: number }> {
  const n = s.data.train.count;
  const per = s.config.batchSize;
  saveBnState(s);
  s.set.zeroGrad();
  let total: Tensor | undefined;
  for (let start = 0; start < n; start += per) {
    const count = Math.min(per, n - start);
    const { x, y } = trainBatch(s, range(start, count), false);
    const weighted = tidy(() => {
      const xt = fromData(x, [count, 3, SIDE, SIDE], s.rt);
      const loss = classifierLoss(lossKind(s.config), s.model.forward(xt), lossTargets(lossKind(s.config), y, s.data.classCount, s.rt));
      // The full loss is the count-weighted mean of the batch means; so is its gradient.
      backward(loss, full([], count / n, s.rt));
      return noGrad(() => mulScalar(loss, count / n));
    });
    total = total ? tidy(() => add(total!, weighted)) : weighted;
  }
  loadBnState(s);
  const scalars = tidy(() => [total!, arenaSumSquares(s.set.grads)]);
  const [loss, gradNormSq] = await readScalars(scalars);
  for (const t of scalars) t.dispose();
  return { loss, gradNormSq };
}

function fullGradDue(config: CifarTrainConfig, epoch: number): boolean {
  return config.fullGradEvery > 0 && epoch % config.fullGradEvery === 0;
}

/** The output-NTK row of epoch `epoch` (θ after that many epochs), when a check is due. */
async function ntkRow(s: CifarTrainState, epoch: number, hooks: CifarTrainHooks): Promise<void> {
  if (!s.ntk?.isCheckEpoch(epoch)) return;
  const row = await s.ntk.measure(epoch, s.model, s.set, s.initial);
  await hooks.onRow(row);
  const n = Number(row.samples);
  const pl = row.lossKind === 'mse' ? `, PL ratio ${Number(row.plRatio).toExponential(3)} vs bound λ_min/|S| ${Number(row.muBound).toExponential(3)}` : ' (cross-entropy: diagnostic only)';
  hooks.log?.(
    `NTK @ epoch ${epoch} (|S| ${n}, batch norm in eval mode): λ_min(K) ${Number(row.lambdaMin).toExponential(3)}, λ_max(K) ${Number(row.lambdaMax).toExponential(3)}${pl}; ` +
      `identity err ${Number(row.identityRelErr).toExponential(1)}; ${(Number(row.timeMs) / 1000).toFixed(1)} s`,
  );
}

/**
 * Train from epoch s.epochsDone to config.epochs, streaming rows through hooks.onRow. Each
 * step's scalars come back in one readback, awaited only after the next step is encoded, so
 * the GPU never waits for the CPU between steps.
 */
export async function trainCifar(
  s: CifarTrainState,
  hooks: CifarTrainHooks,
  opts: { startTimeMs?: number; continueOnNonFinite?: boolean } = {},
): Promise<void> {
  const { config } = s;
  const n = s.data.train.count;
  const t0 = performance.now() - (opts.startTimeMs ?? 0);
  const elapsed = () => Math.round(performance.now() - t0);
  const halfWd = config.weightDecay / 2;

  const fullGradRow = async (epoch: number) => {
    const { loss, gradNormSq } = await fullGradient(s);
    await hooks.onRow({ kind: 'fullgrad', epoch, loss, gradNormSq });
  };

  for (let e = s.epochsDone; e < config.epochs; e++) {
    if (hooks.shouldStop?.()) return;
    let p: EpochProgress;
    if (s.resumeWithin?.epoch === e) {
      p = s.resumeWithin;
      s.resumeWithin = undefined;
    } else {
      if (fullGradDue(config, e)) await fullGradRow(e);
      await ntkRow(s, e, hooks);
      // Drop any partly used Philox block, so that the state a checkpoint stores continues
      // exactly as an uninterrupted run does.
      s.shuffleRng.setState(s.shuffleRng.getState());
      p = { epoch: e, stepsDone: 0, order: s.shuffleRng.permutation(n), lossSum: 0, gradSum: 0, correctSum: 0, lastLr: 0 };
    }

    let pending: { promise: Promise<number[]>; step: number; count: number; lr: number } | undefined;
    const finish = async (q: NonNullable<typeof pending>) => {
      const [loss, gradNormSq, correct, paramNormSq] = await q.promise;
      p.lossSum += loss * q.count;
      p.gradSum += gradNormSq;
      p.correctSum += correct;
      await hooks.onRow({ kind: 'step', step: q.step, epoch: e, loss, gradNormSq, lr: q.lr, timeMs: elapsed(), weightDecayTerm: halfWd * paramNormSq });
      if (!opts.continueOnNonFinite && (!Number.isFinite(loss) || !Number.isFinite(gradNormSq))) {
        throw new DivergenceError(`Training diverged at step ${q.step} (epoch ${e}): loss ${loss}, ‖∇L‖² ${gradNormSq}. Lower --lr or check the data.`, e);
      }
    };
    const firstStep = p.stepsDone;
    for (let b = firstStep; b < s.stepsPerEpoch; b++) {
      if (b > firstStep && hooks.midEpochDue?.()) {
        if (pending) await finish(pending);
        pending = undefined;
        p.stepsDone = b;
        await hooks.midEpoch?.(p, s);
      }
      // Realigned before every batch for the same reason as the shuffle stream.
      s.augmentRng.setState(s.augmentRng.getState());
      const step = e * s.stepsPerEpoch + b;
      const indices = p.order.subarray(b * config.batchSize, Math.min(n, (b + 1) * config.batchSize));
      const lr = cifarLr(s, step);
      const current = { promise: encodeStep(s, indices, lr), step, count: indices.length, lr };
      if (pending) await finish(pending);
      pending = current;
      p.lastLr = lr;
    }
    if (pending) await finish(pending);

    const ev = await evaluate(s);
    await hooks.onRow({
      kind: 'epoch',
      epoch: e,
      loss: p.lossSum / n,
      gradNormSq: p.gradSum / s.stepsPerEpoch,
      drift: Math.sqrt(Math.max(ev.driftSq, 0)),
      acc: p.correctSum / n,
      lr: p.lastLr,
      timeMs: elapsed(),
      weightDecayTerm: halfWd * ev.paramNormSq,
      steps: s.stepsPerEpoch,
    });
    await hooks.onRow({ kind: 'eval', epoch: e + 1, testLoss: ev.testLoss, testAcc: ev.testAcc });
    s.epochsDone = e + 1;
    await hooks.afterEpoch?.(e + 1, s);
  }
  if (s.epochsDone === config.epochs) {
    if (fullGradDue(config, config.epochs)) await fullGradRow(config.epochs);
    await ntkRow(s, config.epochs, hooks);
  }
}

export interface CifarTiming {
  /** Mean wall time per step inside epochs (steady state: pipelined steps, no evaluation), ms. */
  msPerStep: number;
  imagesPerSecond: number;
  /** Step intervals averaged (step 0, which compiles the pipelines, is left out). */
  intervals: number;
  wallSeconds: number;
}

/**
 * Throughput from the step rows' clocks: per epoch, the time from its first to its last step
 * row over the steps between them, so evaluation and full-gradient passes (between epochs)
 * are left out. A mean over spans rather than a median of intervals: readbacks that resolve
 * together give intervals of 0 and 2T.
 */
export function cifarTiming(rows: readonly MetricRow[], batchSize: number): CifarTiming {
  const byEpoch = new Map<number, number[]>();
  for (const r of rows.filter(isStepRow).sort((a, b) => a.step - b.step)) {
    if (r.step === 0) continue;
    const list = byEpoch.get(r.epoch) ?? [];
    list.push(r.timeMs);
    byEpoch.set(r.epoch, list);
  }
  let spanMs = 0;
  let intervals = 0;
  for (const times of byEpoch.values()) {
    if (times.length < 2) continue;
    spanMs += times[times.length - 1] - times[0];
    intervals += times.length - 1;
  }
  const ms = intervals > 0 ? spanMs / intervals : NaN;
  // The run's clock; an `ntk` row's timeMs is the check's own duration, not a clock reading.
  const last = rows.reduce((m, r) => (r.kind === 'ntk' ? m : Math.max(m, typeof (r as { timeMs?: unknown }).timeMs === 'number' ? (r as { timeMs: number }).timeMs : 0)), 0);
  return { msPerStep: ms, imagesPerSecond: ms > 0 ? (1000 * batchSize) / ms : NaN, intervals, wallSeconds: last / 1000 };
}
