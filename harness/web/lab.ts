// The page's run controller: trains an experiment's planned runs one after another on a
// runtime, keeps every run's rows in memory, and can be stopped and resumed (resume continues
// from the in-memory parameters and optimizer state: nothing is reloaded). Platform neutral:
// the browser page drives it, and `lplr verify-browser` and the tests drive the same code in
// Node.
import { ConfigError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import type { EpochRow, MetricRow } from '../../src/metrics/schema.js';
import type { CifarRunConfig } from '../experiments/cifar-config.js';
import { trainedEpochs, type MlpRunConfig } from '../experiments/mlp-config.js';
import { createMlpState, disposeMlpState, mlpEpochFlops, trainMlp, type MlpData } from '../experiments/mlp-train.js';
import { linearizedMeasure } from '../experiments/linearized.js';
import { augmentBatch, normalizeCifar, CIFAR_PIXELS } from '../data/cifar-core.js';
import { checkWarmup } from '../experiments/cifar-config.js';
import { CIFAR_ROWS_DESCRIPTION, createCifarState, disposeCifarState, resnetStepFlops, trainCifar, type CifarDataInfo, type CifarTrainData } from '../experiments/cifar-train.js';
import type { LabRunConfig, LiveRun, PlannedRun } from './experiments.js';
import { applyKernelChoices, recordKernelChoices } from './kernel-choices.js';
import { sha256Hex } from './run-files.js';

export interface LabData extends MlpData {
  /** Human-readable origin, e.g. "MNIST train, digits 0/1, stratified subset of 64". */
  source: string;
}

/** The configurations the page trains: the MLP figures' and Figure 3's. */
export type { LabRunConfig };

/** Loads (or selects) the data of one run's configuration. */
export type DataProvider<C extends LabRunConfig = MlpRunConfig, D = LabData> = (config: C) => Promise<D>;

export interface TrainerHooks<R extends MetricRow = EpochRow> {
  onRow(row: R): void | Promise<void>;
  afterEpoch(epoch: number): Promise<void>;
  shouldStop(): boolean;
}

/** One run's GPU state, created by a trainer; train() may be called again after a stop. */
export interface TrainerRun<R extends MetricRow = EpochRow> {
  parameters: number;
  /** Row chunks of one forward/backward pass (they fix the summation order). */
  chunks: number;
  gflopPerEpoch: number;
  /** What config.json says about the data (source, samples, features per sample). */
  data: { source: string; samples: number; features: number };
  /** Fields config.json adds for this kind of run, as the CLI writes them (fig3: data files, classes, steps). */
  configFields?: Record<string, unknown>;
  /** SHA-256 of the initial parameters (one readback; for reproducibility checks). */
  initialDigest(): Promise<string>;
  /**
   * Train from where the run stands; `rowsSoFar` rows were produced before (resume), the last
   * one at `startTimeMs`. Resolves true when the run is complete, false when it stopped early
   * because hooks.shouldStop() said so.
   */
  train(hooks: TrainerHooks<R>, rowsSoFar: number, startTimeMs: number): Promise<boolean>;
  dispose(): void;
}

export type Trainer<C extends LabRunConfig = MlpRunConfig, R extends MetricRow = EpochRow, D = LabData> = (rt: Runtime, config: C, data: D) => TrainerRun<R>;

/** SHA-256 of named f32 parameters: name, newline, little-endian bytes, in layout order. */
export async function parameterDigest(values: Iterable<[string, Float32Array]>): Promise<string> {
  const parts: Uint8Array[] = [];
  for (const [name, v] of values) {
    parts.push(new TextEncoder().encode(`${name}\n`), new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return sha256Hex(all);
}

/** Full-batch GD on an MLP (Figures 1, 2, 4, 5) through the shared trainer in mlp-train.ts. */
const mlpTrainer: Trainer = (rt, config, data) => {
  const state = createMlpState(rt, config, data, { maxRowsPerChunk: config.maxRowsPerChunk });
  const linearized = linearizedMeasure(config);
  let extraRows = 0;
  return {
    parameters: state.set.count(),
    chunks: state.chunks.length,
    gflopPerEpoch: mlpEpochFlops(data.n, data.d, config.width, config.depth) / 1e9,
    data: { source: data.source, samples: data.n, features: data.d },
    initialDigest: async () => parameterDigest(await state.initial.readAll()),
    async train(hooks, rowsSoFar, startTimeMs) {
      // One row per epoch, epochs 0..E: the run is complete once row E is out. --linearized
      // rows (written before epoch 0's) are not epochs.
      const startEpoch = rowsSoFar - extraRows;
      let rows = startEpoch;
      const onRow = (row: EpochRow) => {
        rows++;
        return hooks.onRow(row);
      };
      const measure = linearized
        ? async (epoch: number, s: typeof state) => {
            for (const row of await linearized(epoch, s)) {
              extraRows++;
              await hooks.onRow(row as EpochRow);
            }
          }
        : undefined;
      await trainMlp(state, { onRow, afterEpoch: (t) => hooks.afterEpoch(t), shouldStop: hooks.shouldStop, measure }, { startEpoch, startTimeMs });
      return rows >= trainedEpochs(config) + 1;
    },
    dispose: () => disposeMlpState(state),
  };
};

export type { CifarDataInfo };

/** The data of one fig3 run: the selected classes of the chosen batch files. */
export interface CifarLabData {
  source: string;
  train: CifarTrainData;
  info: CifarDataInfo;
}

/** Thrown out of trainCifar's between-steps hook to stop inside an epoch; never escapes the trainer. */
class StopInsideEpoch extends Error {}

/**
 * Mini-batch SGD on a ResNet (Figure 3) through the shared trainer in cifar-train.ts. A stop
 * request is honoured between two steps: the epoch's progress is kept in the state
 * (resumeWithin), so the resumed run finishes the epoch exactly as an uninterrupted one.
 */
const cifarTrainer: Trainer<CifarRunConfig, MetricRow, CifarLabData> = (rt, config, data) => {
  const state = createCifarState(rt, config, data.train, { normalize: normalizeCifar, augment: augmentBatch });
  const classes = data.train.classCount;
  const stepFlops = resnetStepFlops(config.depth, config.widths, classes, config.batchSize);
  try {
    checkWarmup(config, state.totalSteps);
  } catch (e) {
    disposeCifarState(state);
    throw e;
  }
  return {
    parameters: state.set.count(),
    // One forward/backward pass per mini-batch.
    chunks: 1,
    gflopPerEpoch: (stepFlops * state.stepsPerEpoch) / 1e9,
    data: { source: data.source, samples: data.train.train.count, features: CIFAR_PIXELS },
    // As runCifar writes them (harness/experiments/cifar-lab.ts).
    configFields: {
      data: data.info,
      parameters: state.set.count(),
      stepsPerEpoch: state.stepsPerEpoch,
      totalSteps: state.totalSteps,
      gflopPerStep: stepFlops / 1e9,
      rows: CIFAR_ROWS_DESCRIPTION,
    },
    initialDigest: async () => parameterDigest(await state.initial.readAll()),
    async train(hooks, _rowsSoFar, startTimeMs) {
      try {
        await trainCifar(
          state,
          {
            onRow: hooks.onRow,
            afterEpoch: (epochsDone) => hooks.afterEpoch(epochsDone),
            shouldStop: hooks.shouldStop,
            midEpochDue: hooks.shouldStop,
            midEpoch: (progress, s) => {
              s.resumeWithin = progress;
              throw new StopInsideEpoch();
            },
          },
          { startTimeMs },
        );
      } catch (e) {
        if (e instanceof StopInsideEpoch) return false;
        throw e;
      }
      // trainCifar also returns early when a stop was asked for before an epoch.
      return state.epochsDone === trainedEpochs(config);
    },
    dispose: () => disposeCifarState(state),
  };
};

// Trainers of every config/row/data type; a Lab looks up the ones its plan names, and the
// plan's experiment pairs each trainer name with the config, row and data types it uses.
const TRAINERS = new Map<string, Trainer<never, MetricRow, never>>([
  ['mlp', mlpTrainer as Trainer<never, MetricRow, never>],
  ['cifar', cifarTrainer as Trainer<never, MetricRow, never>],
]);

/** Add a trainer (e.g. fig3's mini-batch convnet trainer) under the name a PlannedRun uses. */
export function registerTrainer<C extends LabRunConfig, R extends MetricRow, D>(name: string, trainer: Trainer<C, R, D>): void {
  TRAINERS.set(name, trainer as unknown as Trainer<never, MetricRow, never>);
}

export interface LabRun<C extends LabRunConfig = MlpRunConfig, R extends MetricRow = EpochRow> extends LiveRun<C, R> {
  rows: R[];
  /** Known once the run's GPU state exists. */
  info?: {
    startedAt: string;
    parameters: number;
    chunks: number;
    gflopPerEpoch: number;
    data: { source: string; samples: number; features: number };
    configFields?: Record<string, unknown>;
    initialDigest?: string;
  };
}

export type LabStatus = 'ready' | 'running' | 'stopped' | 'done' | 'failed';

export interface LabOptions<C extends LabRunConfig = MlpRunConfig, R extends MetricRow = EpochRow, D = LabData> {
  rt: Runtime;
  plan: readonly PlannedRun<C>[];
  data: DataProvider<C, D>;
  /** Kernel choices to use (e.g. Node's); default: the runtime's own, recorded. */
  kernels?: Readonly<Record<string, string>>;
  /** Read back and hash each run's initial parameters. */
  digestInitialParameters?: boolean;
  /** Called after every row and status change (the page redraws, throttled). */
  onUpdate?: (lab: Lab<C, R, D>) => void;
  /** Awaited between epochs so the page stays responsive; default: a macrotask. */
  yieldToUi?: () => Promise<void>;
}

/** The clock of the last row that has one (eval and fullgrad rows carry none). */
function timeOfLastRow(rows: readonly MetricRow[]): number {
  for (let i = rows.length - 1; i >= 0; i--) {
    const t = (rows[i] as { timeMs?: unknown }).timeMs;
    if (typeof t === 'number') return t;
  }
  return 0;
}

const macrotask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** C: the runs' configuration type, R: their row type, D: their data type (default: the MLP figures'). */
export class Lab<C extends LabRunConfig = MlpRunConfig, R extends MetricRow = EpochRow, D = LabData> {
  readonly runs: LabRun<C, R>[];
  status: LabStatus = 'ready';
  error: Error | undefined;
  private current = 0;
  private active: TrainerRun<R> | undefined;
  private stopRequested = false;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: LabOptions<C, R, D>) {
    if (opts.plan.length === 0) throw new ConfigError('The experiment planned no runs; check its options (e.g. --widths).');
    for (const p of opts.plan) {
      if (!TRAINERS.has(p.trainer)) throw new ConfigError(`No trainer '${p.trainer}' for run ${p.label}; register it with registerTrainer.`);
    }
    if (opts.kernels) applyKernelChoices(opts.rt, opts.kernels);
    recordKernelChoices(opts.rt);
    this.runs = opts.plan.map((p) => ({ label: p.label, config: p.config, rows: [], done: false }));
  }

  /** Every kernel choice so far; per-shape-class ones appear as shapes are first used. */
  get kernels(): Record<string, string> {
    return Object.fromEntries(this.opts.rt.kernelChoices);
  }

  get done(): boolean {
    return this.status === 'done';
  }

  /** Train from where the lab stands (start, or resume after stop) until every run is done or stop() is called. */
  run(): Promise<void> {
    if (this.running) return this.running;
    if (this.status === 'done' || this.status === 'failed') return Promise.resolve();
    this.stopRequested = false;
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Ask the lab to stop before its next epoch; resolves when it has. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.running;
  }

  /** Free the GPU state of an unfinished run. */
  dispose(): void {
    this.active?.dispose();
    this.active = undefined;
  }

  private setStatus(status: LabStatus): void {
    this.status = status;
    this.opts.onUpdate?.(this);
  }

  private async loop(): Promise<void> {
    const yieldToUi = this.opts.yieldToUi ?? macrotask;
    this.setStatus('running');
    try {
      while (this.current < this.runs.length) {
        if (this.stopRequested) {
          this.setStatus('stopped');
          return;
        }
        const run = this.runs[this.current];
        const planned = this.opts.plan[this.current];
        if (!this.active) {
          const data = await this.opts.data(run.config);
          // The plan's experiment named a trainer of its own config, row and data types.
          const trainer = TRAINERS.get(planned.trainer) as unknown as Trainer<C, R, D>;
          this.active = trainer(this.opts.rt, run.config, data);
          run.info = {
            startedAt: new Date().toISOString(),
            parameters: this.active.parameters,
            chunks: this.active.chunks,
            gflopPerEpoch: this.active.gflopPerEpoch,
            data: this.active.data,
            configFields: this.active.configFields,
          };
          if (this.opts.digestInitialParameters) run.info.initialDigest = await this.active.initialDigest();
        }
        const lastTime = timeOfLastRow(run.rows);
        const complete = await this.active.train(
          {
            onRow: (row) => {
              run.rows.push(row);
              this.opts.onUpdate?.(this);
            },
            afterEpoch: yieldToUi,
            shouldStop: () => this.stopRequested,
          },
          run.rows.length,
          lastTime,
        );
        if (!complete) {
          // The trainer returned early: only a stop request does that.
          this.setStatus('stopped');
          return;
        }
        run.done = true;
        this.active.dispose();
        this.active = undefined;
        this.current++;
        await yieldToUi();
      }
      this.setStatus('done');
    } catch (e) {
      this.error = e instanceof Error ? e : new Error(String(e));
      this.dispose();
      this.setStatus('failed');
      throw this.error;
    }
  }
}
