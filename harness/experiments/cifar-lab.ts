// Node runner for the ResNet / mini-batch SGD experiment on 5-class CIFAR-10 (paper §6.3,
// Figure 3): data from CIFAR-10 binary batches, model and training (cifar-train.ts), streamed
// metrics, checkpoints (at epoch ends, and between steps when --checkpoint-minutes have passed
// or a stop was requested), summary and report in a run directory; and the `fig3` experiment of
// `lplr run`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DataError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { fitLogLog } from '../../src/metrics/fit.js';
import { isEvalRow, isFullGradRow, isStepRow, type MetricRow, type NtkRow } from '../../src/metrics/schema.js';
import { summarizeRun, type RunSummary } from '../analysis/summary.js';
import { summarizeTheory } from '../analysis/theory.js';
import type { Verdict } from '../analysis/verdicts.js';
import type { RngState } from '../../src/rng.js';
import { augmentBatch, channelStats, CIFAR_CLASSES, loadCifar, normalizeCifar, selectClasses, type CifarData } from '../data/cifar.js';
import type { ChartSeries, ReportSection } from '../report/model.js';
import { fmtNumber } from '../report/sections.js';
import { CheckpointPolicy, checkpointConfigMismatch, explainRunFailure, hasCheckpoint, readCheckpoint, removeCheckpoints, restoreArenas, saveCheckpoint } from '../run/checkpoint.js';
import type { Progress, ResumedWork } from '../run/progress.js';
import { applyKernelChoices } from '../web/kernel-choices.js';
import { registerSingleRunSections, writeMlpReport } from '../run/reports.js';
import { MetricsWriter, configHash, describeRun, readMetrics, writeJsonAtomic } from '../run/run-dir.js';
import { knownThroughput, recordThroughput, workloadKey } from '../run/throughput.js';
import { CIFAR_OPTIONS, checkWarmup, cifarIdentity, resolveCifarConfig, type CifarRunConfig } from './cifar-config.js';
import {
  CIFAR_ROWS_DESCRIPTION,
  createCifarState,
  disposeCifarState,
  loadBnState,
  resnetStepFlops,
  restoreRngStates,
  rngStates,
  saveBnState,
  trainCifar,
  type CifarRow,
  type CifarTrainData,
  type EpochProgress,
  type CifarTrainState,
  type CifarDataInfo,
} from './cifar-train.js';
import { RunStopped } from './mlp-lab.js';
import { theorySection } from './ntk.js';
import type { Experiment, ExperimentContext, ExperimentResult } from './experiment.js';
import { cifarParamsFile, readCifarInit, type CifarInitValues } from './cifar-init.js';
import { FIG3 } from './figures.js';

export type { CifarDataInfo };

function countPerClass(d: CifarData, k: number): number[] {
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < d.count; i++) counts[d.labels[i]]++;
  return counts;
}

/**
 * The run's training and test images: the chosen batch files (or every one present), the
 * chosen classes relabelled 0..k-1, per-channel statistics of the training images. A missing
 * or damaged file is a DataError that says how to get the data; nothing else is substituted.
 */
export function loadCifarRunData(config: Pick<CifarRunConfig, 'dataDir' | 'trainBatches' | 'classes'>): { data: CifarTrainData; info: CifarDataInfo } {
  const train = loadCifar({ dataDir: config.dataDir, split: 'train', batches: config.trainBatches ?? undefined });
  const test = loadCifar({ dataDir: config.dataDir, split: 'test' });
  const trainSel = selectClasses(train, config.classes);
  const testSel = selectClasses(test, config.classes);
  const names = config.classes.map((c) => CIFAR_CLASSES[c]).join(', ');
  if (trainSel.count < 2) {
    throw new DataError(`The training files (${train.files.map((f) => f.path).join(', ')}) hold ${trainSel.count} images of classes ${names}; training needs at least 2. Choose other --classes or --train-batches.`);
  }
  if (testSel.count < 1) {
    throw new DataError(`The test file ${test.files[0].path} holds no images of classes ${names}. Re-download it with 'npx lplr data fetch cifar10'.`);
  }
  const stats = channelStats(trainSel.images, trainSel.count);
  const k = config.classes.length;
  const trainCounts = countPerClass(trainSel, k);
  const testCounts = countPerClass(testSel, k);
  return {
    data: { train: trainSel, test: testSel, classCount: k, stats },
    info: {
      trainFiles: train.files,
      testFiles: test.files,
      classes: config.classes.map((id, i) => ({ id, name: CIFAR_CLASSES[id], train: trainCounts[i], test: testCounts[i] })),
      trainImages: trainSel.count,
      testImages: testSel.count,
      mean: [...stats.mean],
      std: [...stats.std],
    },
  };
}

import { cifarTiming, type CifarTiming } from './cifar-train.js';

export { cifarTiming, type CifarTiming };

export interface CifarRunSummary extends RunSummary {
  timing: CifarTiming;
}

export interface CifarRunResult {
  dir: string;
  config: CifarRunConfig;
  rows: MetricRow[];
  summary: CifarRunSummary;
}

export interface RunCifarOptions {
  checkpointEvery?: number;
  checkpointMinutes?: number;
  continueOnNonFinite?: boolean;
  /** Write the final parameters and batch-norm buffers to params.safetensors (PyTorch names). */
  saveParams?: boolean;
  /** Keep checkpoints/ when the run finishes, with a checkpoint of the final state (otherwise it is removed then). */
  keepCheckpoint?: boolean;
  /** Continue from dir/checkpoints instead of starting fresh. */
  resume?: boolean;
  /** --init-from's parameters (read and checked by readCifarInit). */
  initFrom?: CifarInitValues;
}

/** What a checkpoint taken between two steps adds to the record (JSON: the order as a list). */
interface MidEpochRecord {
  stepsDone: number;
  order: number[];
  lossSum: number;
  gradSum: number;
  correctSum: number;
  lastLr: number;
}

/**
 * Train one configuration into `dir` (empty, or holding a checkpoint when resuming) and write
 * config.json, metrics.jsonl (streamed), summary.json and report.html. Checkpoints are taken
 * every --checkpoint-every epochs at the epoch's end, between steps once --checkpoint-minutes
 * have passed, and after the current step on SIGINT/SIGTERM.
 */
export async function runCifar(
  rt: Runtime,
  config: CifarRunConfig,
  loaded: { data: CifarTrainData; info: CifarDataInfo },
  dir: string,
  progress: Progress,
  opts: RunCifarOptions = {},
): Promise<CifarRunResult> {
  const { data, info } = loaded;
  const hash = configHash(cifarIdentity(config));
  const state = createCifarState(rt, config, data, { normalize: normalizeCifar, augment: augmentBatch }, { initFrom: opts.initFrom });
  checkWarmup(config, state.totalSteps);
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const policy = new CheckpointPolicy(opts.checkpointEvery ?? 25, opts.checkpointMinutes ?? 5);
  const arenas = () => ({ params: state.set.params, velocity: state.optimizer.velocity, theta0: state.initial, bn: state.bnState });
  const stepFlops = resnetStepFlops(config.depth, config.widths, data.classCount, config.batchSize);
  let lastCheckpoint: string | undefined;
  try {
    let startTimeMs = 0;
    let resumedWork: ResumedWork | undefined;
    let writer: MetricsWriter;
    const rows: MetricRow[] = [];
    progress.log(
      `data: ${info.trainFiles.map((f) => `${f.path} (${f.records} records)`).join(', ')}; test ${info.testFiles.map((f) => `${f.path} (${f.records} records)`).join(', ')}`,
    );
    progress.log(`classes ${info.classes.map((c) => `${c.id} ${c.name}`).join(', ')}: ${info.trainImages} training, ${info.testImages} test images; ${state.stepsPerEpoch} steps per epoch`);
    if (opts.resume) {
      const { record, tensors } = readCheckpoint(dir);
      if (record.configHash !== hash) {
        throw checkpointConfigMismatch(dir, record.configHash, hash, config, cifarIdentity);
      }
      const extra = (record.extra ?? {}) as { trainImages?: number; midEpoch?: MidEpochRecord };
      if (extra.trainImages !== info.trainImages) {
        throw new ConfigError(`The checkpoint in ${dir} was trained on ${extra.trainImages} images, the data folder now gives ${info.trainImages}. Resume with the same data files.`);
      }
      restoreArenas(tensors, arenas(), path.join(dir, 'checkpoints'));
      // Same kernels as before the interruption (a tuning run in between cannot change them),
      // so the resumed run is bitwise identical.
      applyKernelChoices(rt, record.kernelChoices ?? {});
      loadBnState(state);
      state.optimizer.stepCount = record.optimizerSteps;
      state.epochsDone = record.nextEpoch;
      if (extra.midEpoch) {
        const m = extra.midEpoch;
        state.resumeWithin = { epoch: record.nextEpoch, stepsDone: m.stepsDone, order: Uint32Array.from(m.order), lossSum: m.lossSum, gradSum: m.gradSum, correctSum: m.correctSum, lastLr: m.lastLr };
      }
      restoreRngStates(state, record.rng as Record<string, RngState>);
      startTimeMs = record.elapsedMs;
      // The run's own rate so far (evaluation included) sizes the ETA of what is left.
      resumedWork = {
        doneTicks: record.nextEpoch + (extra.midEpoch?.stepsDone ?? 0) / state.stepsPerEpoch,
        gflops: record.elapsedMs > 0 ? (stepFlops * record.optimizerSteps) / (record.elapsedMs * 1e6) : undefined,
      };
      // Rows after the checkpoint are recomputed: cut them (and any torn line) away.
      writer = new MetricsWriter(metricsFile, record.metricsBytes);
      rows.push(...(readMetrics(metricsFile) as MetricRow[]));
      lastCheckpoint = path.join(dir, 'checkpoints', 'checkpoint.json');
      progress.log(`resuming at epoch ${state.epochsDone} from ${lastCheckpoint}`);
    } else {
      writeJsonAtomic(path.join(dir, 'config.json'), describeRun(rt, 'fig3', config, hash, {
        data: info,
        parameters: state.set.count(),
        stepsPerEpoch: state.stepsPerEpoch,
        totalSteps: state.totalSteps,
        gflopPerStep: stepFlops / 1e9,
        rows: CIFAR_ROWS_DESCRIPTION,
      }));
      writer = new MetricsWriter(metricsFile, 0);
    }
    if (config.ntkEvery > 0 && config.loss === 'ce') {
      progress.log('NTK checks with --loss ce are a diagnostic only: the PL bound λ_min(K)/|S| is for the squared loss (use --loss mse for it).');
    }
    progress.start(config.epochs, stepFlops * state.stepsPerEpoch, knownThroughput(rt.ctx.info, workloadKey('resnet', stepFlops * state.stepsPerEpoch)), resumedWork);
    policy.installSignalHandlers();
    let lastLog = performance.now();
    let lastSave = performance.now();
    // The clock of the last timed row (eval and fullgrad rows carry none): resumed rows continue it.
    let elapsedMs = startTimeMs;
    const save = async (s: CifarTrainState, nextEpoch: number, within?: EpochProgress) => {
      writer.sync();
      saveBnState(s);
      const midEpoch: MidEpochRecord | undefined = within && {
        stepsDone: within.stepsDone,
        order: Array.from(within.order),
        lossSum: within.lossSum,
        gradSum: within.gradSum,
        correctSum: within.correctSum,
        lastLr: within.lastLr,
      };
      lastCheckpoint = await saveCheckpoint(dir, arenas(), {
        nextEpoch,
        optimizerSteps: s.optimizer.stepCount,
        metricsBytes: writer.byteLength,
        elapsedMs,
        configHash: hash,
        kernelChoices: Object.fromEntries(rt.kernelChoices),
        // The data order of later epochs follows from the shuffle stream's state; inside an
        // epoch the order itself is stored.
        rng: rngStates(s),
        extra: { trainImages: info.trainImages, ...(midEpoch ? { midEpoch } : {}) },
      });
      policy.saved();
      lastSave = performance.now();
      if (policy.stopRequested) {
        const where = within ? `after step ${within.stepsDone} of epoch ${within.epoch}` : `after epoch ${nextEpoch - 1}`;
        throw new RunStopped(`Stopped ${where}; the checkpoint is ${lastCheckpoint}. Continue with 'lplr resume ${dir}'.`);
      }
    };
    const minutes = opts.checkpointMinutes ?? 5;
    try {
      await trainCifar(
        state,
        {
          onRow: (row: CifarRow) => {
            writer.write(row);
            rows.push(row as MetricRow);
            // An ntk row's timeMs is the check's duration, not the run's clock.
            if (row.kind !== 'ntk' && 'timeMs' in row) elapsedMs = row.timeMs;
            if (row.kind === 'epoch') {
              progress.tick(row.epoch + 1, `mean loss ${row.loss.toExponential(4)}  train acc ${(row.acc * 100).toFixed(2)}%`);
            } else if (row.kind === 'eval') {
              progress.log(`after epoch ${row.epoch}: test loss ${row.testLoss.toFixed(4)}, test acc ${(row.testAcc * 100).toFixed(2)}%`);
            } else if (row.kind === 'step' && performance.now() - lastLog > 30_000) {
              lastLog = performance.now();
              progress.log(`step ${row.step + 1}/${state.totalSteps}  loss ${row.loss.toFixed(4)}  lr ${row.lr.toExponential(3)}`);
            }
          },
          afterEpoch: async (epochsDone, s: CifarTrainState) => {
            if (epochsDone < config.epochs && policy.due(epochsDone)) await save(s, epochsDone);
          },
          midEpochDue: () => policy.stopRequested || (minutes > 0 && (performance.now() - lastSave) / 60000 >= minutes),
          midEpoch: (p, s) => save(s, p.epoch, p),
          log: (message) => progress.log(message),
        },
        { startTimeMs, continueOnNonFinite: opts.continueOnNonFinite },
      );
      // The final state (after the last epoch), for whoever continues from it.
      if (opts.keepCheckpoint) await save(state, config.epochs);
    } catch (e) {
      throw explainRunFailure(e, dir, lastCheckpoint, metricsFile);
    } finally {
      policy.removeSignalHandlers();
      writer.close();
    }
    progress.done();
    const measured = progress.gflops();
    if (measured) recordThroughput(rt.ctx.info, workloadKey('resnet', stepFlops * state.stepsPerEpoch), measured);
    if (opts.saveParams) fs.writeFileSync(path.join(dir, 'params.safetensors'), await cifarParamsFile(state.set, config));
    const summary = summarizeCifarRun(rows, config);
    writeJsonAtomic(path.join(dir, 'summary.json'), summary);
    // Finished: checkpoints only served a resume (summary.json now marks the run complete).
    if (!opts.keepCheckpoint) removeCheckpoints(dir);
    return { dir, config, rows, summary };
  } finally {
    disposeCifarState(state);
  }
}

/**
 * A fig3 run's summary from its rows: the smoothed fits with the run's EMA β, plus throughput.
 * A run with fewer epoch rows than it planned (interrupted, or a partial record) says so first
 * among its warnings: its numbers and verdicts cover only the epochs that exist.
 */
export function summarizeCifarRun(
  rows: readonly MetricRow[],
  config: Pick<CifarRunConfig, 'fitWindow' | 'emaBeta' | 'batchSize'> & Partial<Pick<CifarRunConfig, 'epochs'>>,
  fitWindow = config.fitWindow,
): CifarRunSummary {
  const summary: CifarRunSummary = { ...summarizeRun(rows as MetricRow[], { fitWindow, emaBeta: config.emaBeta }), timing: cifarTiming(rows as MetricRow[], config.batchSize) };
  const partial = partialRunNote(rows, config.epochs);
  if (partial) summary.warnings.unshift(partial);
  return summary;
}

/** "Partial run: …" when the rows end before the planned epochs, else undefined. */
export function partialRunNote(rows: readonly MetricRow[], plannedEpochs: number | undefined): string | undefined {
  if (plannedEpochs === undefined || !(plannedEpochs > 0)) return undefined;
  const epochsDone = rows.filter((r) => r.kind === 'epoch').reduce((n, r) => Math.max(n, (r as { epoch: number }).epoch + 1), 0);
  if (epochsDone >= plannedEpochs) return undefined;
  const steps = rows.filter(isStepRow);
  const lastStep = steps.length > 0 ? Math.max(...steps.map((r) => r.step)) : undefined;
  const stepsText = lastStep === undefined ? 'no step rows' : `step rows up to step ${lastStep}`;
  return `Partial run: ${epochsDone} of ${plannedEpochs} epochs finished (${stepsText}). The numbers and verdicts cover only these; 'lplr resume DIR' continues the run from its checkpoint.`;
}

/** The title of a fig3 run's report (the CLI's and `lplr report`'s). */
export const FIG3_REPORT_TITLE = FIG3.title;

// ------------------------------------------------------------------ report sections

/**
 * Extra report sections for mini-batch runs: test accuracy per epoch, throughput, and the
 * full-gradient points beside the smoothed ones on the PL plot. Registered for every single-run
 * report, so `lplr report RUN_DIR` rebuilds them too; runs without `step` rows get none.
 */
export function cifarSections(rows: readonly MetricRow[], summary: RunSummary, config: unknown): ReportSection[] {
  const steps = rows.filter(isStepRow);
  if (steps.length === 0) return [];
  const sections: ReportSection[] = [];
  const evals = rows.filter(isEvalRow).sort((a, b) => a.epoch - b.epoch);
  const batchSize = (config as { batchSize?: number } | undefined)?.batchSize;
  const timing = cifarTiming(rows, batchSize ?? NaN);
  const epochs = summary.epochs;
  const trainAcc = rows.filter((r): r is Extract<MetricRow, { kind: 'epoch' }> => r.kind === 'epoch').sort((a, b) => a.epoch - b.epoch);
  sections.push({
    id: 'cifar-accuracy',
    title: 'Accuracy and throughput',
    paragraphs: [
      'Training accuracy of epoch e is measured on its mini-batches before each update (batch norm in training mode); test accuracy is measured after e + 1 epochs with batch norm in eval mode, so both are plotted at the end of their epoch.',
      `Epoch rows hold means of the mini-batch values, not full-batch measurements${epochs.length ? '' : ' (none recorded)'}; the fits of Figures 1 and 2 on them, and their verdicts, describe epoch-averaged mini-batch losses. Figure 3 is the paper’s view.`,
    ],
    charts: [
      {
        id: 'cifar-acc',
        title: 'Accuracy vs epoch',
        x: { label: 'epochs done', scale: 'linear' },
        y: { label: 'accuracy', scale: 'linear' },
        series: [
          { label: 'training (mini-batches)', x: trainAcc.map((r) => r.epoch + 1), y: trainAcc.map((r) => r.acc), markers: true },
          { label: 'test', x: evals.map((r) => r.epoch), y: evals.map((r) => r.testAcc), markers: true },
        ],
      },
    ],
    tables: [
      {
        id: 'cifar-timing',
        columns: ['quantity', 'value'],
        rows: [
          ['final test accuracy', evals.length ? evals[evals.length - 1].testAcc : null],
          ['final test loss', evals.length ? evals[evals.length - 1].testLoss : null],
          ['steps', steps.length],
          ['time per step (ms, mean inside epochs)', timing.msPerStep],
          ['images per second', timing.imagesPerSecond],
          ['wall time (s)', timing.wallSeconds],
        ],
      },
    ],
  });

  const full = rows.filter(isFullGradRow).sort((a, b) => a.epoch - b.epoch);
  const sm = summary.smoothed;
  if (full.length > 0 && sm) {
    const lStarFull = Math.min(...full.map((r) => r.loss).filter((l) => Number.isFinite(l)));
    const gaps = full.map((r) => r.loss - lStarFull);
    const fit = fitLogLog(full.map((r) => r.epoch), gaps, full.map((r) => r.gradNormSq));
    const a = sm.lStar.min;
    const inWindow = sm.steps.map((st, i) => i).filter((i) => sm.steps[i] >= sm.window.startStep && sm.steps[i] <= sm.window.endStep);
    const series: ChartSeries[] = [
      { label: `smoothed steps in window (L* = min smoothed loss ${fmtNumber(a.lStar)})`, x: inWindow.map((i) => a.gap[i]), y: inWindow.map((i) => sm.gradNormSq[i]), style: 'points', color: '#1f77b4' },
      { label: `full training set (L* = min full loss ${fmtNumber(lStarFull)})`, x: gaps, y: full.map((r) => r.gradNormSq), style: 'points', color: '#d62728' },
    ];
    const positive = gaps.filter((g) => g > 0 && Number.isFinite(g));
    if (positive.length >= 2 && Number.isFinite(fit.slope)) {
      const lo = Math.log(Math.min(...positive));
      const hi = Math.log(Math.max(...positive));
      const xs = Array.from({ length: 24 }, (_, i) => Math.exp(lo + ((hi - lo) * i) / 23));
      series.push({ label: `fit, full set: slope ${fmtNumber(fit.slope)}, R² = ${fmtNumber(fit.r2)}`, x: xs, y: xs.map((g) => Math.exp(fit.intercept) * g ** fit.slope), style: 'fit', color: '#d62728' });
    }
    sections.push({
      id: 'cifar-fullgrad',
      title: 'PL check with full-training-set gradients',
      paragraphs: [
        'Red: loss and ‖∇L‖² of the whole training set (no augmentation, batch norm in training mode over mini-batches of the training size, no update), at the start of the listed epochs. Their gap uses the smallest full-set loss as L*, so that point has gap 0 and is not drawn. Blue: the smoothed mini-batch points of Figure 3.',
        `Full-set log-log fit: slope ${fmtNumber(fit.slope)}, R² ${fmtNumber(fit.r2)} over ${fit.n} points (${fit.skipped} left out).`,
      ],
      charts: [{ id: 'cifar-fullgrad-pl', title: '‖∇L‖² vs gap: full training set and smoothed mini-batches', x: { label: 'L − L*', scale: 'log' }, y: { label: '‖∇L‖²', scale: 'log' }, series }],
      tables: [{ id: 'cifar-fullgrad-table', columns: ['epoch', 'full loss', 'full ‖∇L‖²', 'gap'], rows: full.map((r, i) => [r.epoch, r.loss, r.gradNormSq, gaps[i]]) }],
    });
  }
  sections.push(...cifarTheorySections(rows));
  return sections;
}

/** The `ntk` rows written by the CNN probe (src/metrics/ntk-cnn.ts), by epoch. */
function cnnNtkRows(rows: readonly MetricRow[]): NtkRow[] {
  return rows.filter((r): r is NtkRow => r.kind === 'ntk' && r.model === 'cnn').sort((a, b) => a.epoch - b.epoch);
}

function num(row: NtkRow, field: string): number {
  const v = row[field];
  return typeof v === 'number' ? v : NaN;
}

/**
 * fig3's "theory check": the output NTK of the ResNet along the run. With --loss mse the
 * MLP lab's theory section (Theorem 5.1 on S: PL ratio against λ_min(K)/|S|, stability, drift);
 * with cross-entropy the spectrum and drift only, and the section says the PL link does not apply.
 */
export function cifarTheorySections(rows: readonly MetricRow[]): ReportSection[] {
  const ntk = cnnNtkRows(rows);
  if (ntk.length === 0) return [];
  const first = ntk[0];
  const n = num(first, 'samples');
  const C = num(first, 'outputs');
  const lossKind = String(first.lossKind);
  const setup =
    `Output NTK of the ResNet: K = J·Jᵀ with J the Jacobian of the ${C} logits of each of the |S| = ${n} images of a fixed seeded training subset ` +
    `with respect to all ${num(first, 'parameters')} parameters (K is ${n * C} × ${n * C}), materialized on the engine with one backward pass per output, ` +
    `at the start of epochs ${ntk.map((r) => r.epoch).join(', ')}. Batch norm is in evaluation mode (running statistics) for K, the loss L_S and its gradient on S, ` +
    'so each image’s outputs depend on that image alone; the training steps normalize with mini-batch statistics, so K describes the evaluation-mode network, not exactly the function SGD takes steps on. ' +
    initialStatsCaveat(ntk);
  if (lossKind === 'mse') {
    const theory = summarizeTheory(ntk);
    if (!theory) return [];
    const section = theorySection(theory, 'cifar-');
    section.title = 'Theory check: output NTK and the PL bound (squared loss, batch norm in eval mode)';
    section.paragraphs = [
      setup,
      'Loss: L_S = ½·mean over S of ‖logits − onehot‖², so ∇L_S = Jᵀr/|S| and ‖∇L_S‖²/(2L_S) ≥ λ_min(K)/|S| (Theorem 5.1 with n = |S|). ' +
        'Mini-batch SGD with momentum and a cosine schedule is not the gradient descent of Theorem 5.4, so no rate is predicted here.',
      // theorySection's first paragraph describes the MLP setting (replaced above); no Hessian
      // rows here, so the summary's remark about a rate comparison does not apply either.
      ...(section.paragraphs ?? []).slice(1).filter((p) => !p.includes('rate comparison')),
    ];
    return [section];
  }
  return [ceDiagnosticSection(ntk, setup)];
}

/**
 * K_0 is measured with the batch-norm running statistics at their initial values (mean 0,
 * variance 1), not statistics of the data: the evaluation-mode network at θ_0 is not the one the
 * first steps train, and comparisons with K_0 inherit that. Says so, with L_S at the first two checks.
 */
function initialStatsCaveat(ntk: NtkRow[]): string {
  const text =
    'At epoch 0 the running statistics still hold their initial values (mean 0, variance 1) rather than statistics of the data, so the evaluation-mode network at θ_0 is not the normalized one the first steps train; ' +
    'K_0 and everything measured against it (slack vs K_0, λ_min(K_t)/λ_min(K_0), kernel drift) inherit that';
  const [a, b] = ntk;
  return a && b && a.epoch === 0 ? `${text} (here L_S = ${fmtNumber(num(a, 'loss'))} at epoch 0, ${fmtNumber(num(b, 'loss'))} at epoch ${b.epoch}).` : `${text}.`;
}

/** With cross-entropy: spectrum, stability and drift of K, the backprop cross-check; no PL claims. */
function ceDiagnosticSection(ntk: NtkRow[], setup: string): ReportSection {
  const e = ntk.map((r) => r.epoch);
  const idErrs = ntk.map((r) => num(r, 'identityRelErr'));
  const idErr = idErrs.length > 0 && idErrs.every(Number.isFinite) ? Math.max(...idErrs) : NaN;
  const verdicts: Verdict[] = [
    {
      name: 'NTK cross-check against backprop',
      // NaN (a check that produced no number) is inconclusive, never a pass.
      outcome: Number.isFinite(idErr) ? (idErr <= 1e-4 ? 'pass' : 'fail') : 'inconclusive',
      passed: Number.isFinite(idErr) && idErr <= 1e-4,
      values: { maxRelError: idErr, checks: ntk.length },
      rule: '|‖∇L_S‖² − gᵀKg/|S|²| / ‖∇L_S‖² ≤ 1e-4 at every check, g = softmax(logits) − onehot',
    },
  ];
  return {
    id: 'cifar-theory',
    title: 'Theory check: output NTK (diagnostic only, cross-entropy)',
    paragraphs: [
      'Diagnostic only: with cross-entropy the PL link of Theorem 5.1 does not apply. Its bound ‖∇L‖²/(2L) ≥ λ_min(K)/|S| rests on the squared loss, where the gradient of the loss with respect to the outputs is the residual itself; ' +
        'for cross-entropy that derivative (softmax − onehot) is not tied to the loss value, so λ_min(K) bounds no PL ratio. Run with --loss mse for that comparison.',
      setup,
      `λ_min(K_0) = ${fmtNumber(num(ntk[0], 'lambdaMin0'))}; over ${ntk.length} checks λ_min(K_t)/λ_min(K_0) ranged ${fmtNumber(Math.min(...ntk.map((r) => num(r, 'lambdaMinRatio'))))}–${fmtNumber(Math.max(...ntk.map((r) => num(r, 'lambdaMinRatio'))))}, ` +
        `‖K_t − K_0‖_F/‖K_0‖_F reached ${fmtNumber(Math.max(...ntk.map((r) => num(r, 'kernelDrift'))))}.`,
    ],
    verdicts,
    charts: [
      {
        id: 'cifar-theory-lambda',
        title: 'Output NTK spectrum over time',
        caption: 'λ_min(K_t) and λ_max(K_t) on the fixed subset S (Lanczos on the engine), batch norm in eval mode.',
        x: { label: 'epoch', scale: 'linear' },
        y: { label: 'eigenvalue', scale: 'log' },
        series: [
          { label: 'λ_min(K_t)', x: e, y: ntk.map((r) => num(r, 'lambdaMin')), markers: true },
          { label: 'λ_max(K_t)', x: e, y: ntk.map((r) => num(r, 'lambdaMax')), markers: true },
        ],
      },
      {
        id: 'cifar-theory-drift',
        title: 'Drift from initialization',
        x: { label: 'epoch', scale: 'linear' },
        y: { label: 'ratio', scale: 'linear' },
        series: [
          { label: '‖θ_t − θ_0‖/‖θ_0‖', x: e, y: ntk.map((r) => num(r, 'driftRel')), markers: true },
          { label: '‖K_t − K_0‖_F/‖K_0‖_F', x: e, y: ntk.map((r) => num(r, 'kernelDrift')), markers: true },
          { label: 'λ_min(K_t)/λ_min(K_0)', x: e, y: ntk.map((r) => num(r, 'lambdaMinRatio')), markers: true },
        ],
      },
    ],
    tables: [
      {
        id: 'cifar-theory-checks',
        title: 'Checks',
        columns: ['epoch', 'L_S (eval mode)', 'λ_min(K)', 'λ_max(K)', 'cond', 'identity err', '‖θ−θ₀‖', 'time (ms)'],
        rows: ntk.map((r) => [r.epoch, num(r, 'loss'), num(r, 'lambdaMin'), num(r, 'lambdaMax'), num(r, 'cond'), num(r, 'identityRelErr'), num(r, 'drift'), num(r, 'timeMs')]),
      },
    ],
  };
}

registerSingleRunSections(cifarSections);

// ------------------------------------------------------------------ the experiment

export interface Fig3Prepared {
  config: CifarRunConfig;
  loaded: { data: CifarTrainData; info: CifarDataInfo };
  initFrom?: CifarInitValues;
}

/**
 * `--epochs 0 --save-params`: the initial parameters and batch-norm buffers (drawn, or read with
 * --init-from) as params.safetensors with a PyTorch CIFAR ResNet's names, and config.json; no step.
 */
async function writeInitialParams(ctx: ExperimentContext, p: Fig3Prepared): Promise<ExperimentResult> {
  const { config, loaded } = p;
  fs.mkdirSync(ctx.dir, { recursive: true });
  const state = createCifarState(ctx.rt, config, loaded.data, { normalize: normalizeCifar, augment: augmentBatch }, { initFrom: p.initFrom });
  try {
    writeJsonAtomic(path.join(ctx.dir, 'config.json'), describeRun(ctx.rt, 'fig3', config, configHash(cifarIdentity(config)), { data: loaded.info, parameters: state.set.count() }));
    const file = path.join(ctx.dir, 'params.safetensors');
    fs.writeFileSync(file, await cifarParamsFile(state.set, config));
    return { headline: `initial parameters (${state.set.count()} values, PyTorch CIFAR ResNet names) written to ${file}; no training (--epochs 0)`, summary: { experiment: 'fig3', epochs: 0, params: file } };
  } finally {
    disposeCifarState(state);
  }
}

/** The verdicts the CLI prints for a fig3 run: those on the smoothed curve with L* = min (Figure 3's view). */
function headlineVerdicts(summary: RunSummary): Verdict[] {
  return summary.verdicts.filter((x) => x.name.includes('smoothed') && x.name.includes('L* = min'));
}

/** The NTK checks in one phrase: λ_min(K_0)/|S| and, with mse, the PL ratio's slack over it. */
function ntkHeadline(rows: readonly MetricRow[]): string[] {
  const ntk = cnnNtkRows(rows);
  if (ntk.length === 0) return [];
  const first = ntk[0];
  const n = num(first, 'samples');
  const mu0 = num(first, 'lambdaMin0') / n;
  if (first.lossKind !== 'mse') return [`NTK (diagnostic, ce): λ_min(K_0)/|S| = ${fmtNumber(mu0)}, final ‖K−K₀‖/‖K₀‖ ${fmtNumber(num(ntk[ntk.length - 1], 'kernelDrift'))}`];
  const slacks = ntk.map((r) => num(r, 'slack')).filter(Number.isFinite);
  return [`NTK: λ_min(K_0)/|S| = ${fmtNumber(mu0)}, PL ratio ${fmtNumber(Math.min(...slacks))}–${fmtNumber(Math.max(...slacks))}× that bound`];
}

export const fig3: Experiment<Fig3Prepared> = {
  name: FIG3.name,
  description: `Figure 3: ${FIG3.description}`,
  options: [...CIFAR_OPTIONS, { name: 'linearized', type: 'bool', help: 'not for fig3 (refused: see fig1, fig2, fig4, fig5, ntk)', default: false }],
  // The data are read before any device exists: a missing file stops here with the fix.
  prepare: (args) => {
    if (args.values.linearized) {
      throw new ConfigError(
        '--linearized is not available for fig3: mini-batch SGD with a cosine schedule and batch norm in training mode does not follow the linear recursion r ← (I − (η/n)·K₀)·r. Use it with fig1, fig2, fig4, fig5 or ntk.',
      );
    }
    const resolved = resolveCifarConfig(args);
    if (resolved.epochs === 0 && !args.values['save-params']) {
      throw new ConfigError('--epochs 0 trains nothing: with --save-params it writes the initial parameters (params.safetensors, PyTorch CIFAR ResNet names) and stops. Add --save-params, or give --epochs 1 or more.');
    }
    const loaded = loadCifarRunData(resolved);
    const initFrom = resolved.initFrom ? readCifarInit(resolved.initFrom, resolved, loaded.data.classCount) : undefined;
    // The hash covers the file's content, not its path.
    const config: CifarRunConfig = initFrom ? { ...resolved, initContent: initFrom.content } : resolved;
    return { config, loaded, initFrom };
  },
  async run(ctx, prepared) {
    const { config, loaded } = prepared;
    if (config.epochs === 0) return writeInitialParams(ctx, prepared);
    const dir = ctx.dir;
    const resume = Boolean(ctx.resume) && hasCheckpoint(dir);
    fs.mkdirSync(dir, { recursive: true });
    const res = await runCifar(ctx.rt, config, loaded, dir, ctx.progress, { ...ctx.runOptions, resume, initFrom: prepared.initFrom });
    writeMlpReport(dir, FIG3_REPORT_TITLE, config, res.rows, res.summary);
    const s = res.summary;
    const sm = s.smoothed?.lStar.min;
    const acc = s.final.testAcc;
    const headline = [
      `smoothed loss: ρ=${sm ? fmtNumber(sm.semiLog.rho) : '?'}/step (R² ${sm ? fmtNumber(sm.semiLog.r2) : '?'}), PL slope ${sm ? fmtNumber(sm.logLog.slope) : '?'} (R² ${sm ? fmtNumber(sm.logLog.r2) : '?'})`,
      `test acc ${acc !== undefined ? `${(acc * 100).toFixed(2)}%` : '?'}`,
      `${fmtNumber(s.timing.msPerStep)} ms/step, ${fmtNumber(s.timing.imagesPerSecond)} images/s`,
      ...ntkHeadline(res.rows),
    ].join('\n');
    return { headline, summary: s, verdicts: headlineVerdicts(s) };
  },
};
