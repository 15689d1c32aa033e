// The page's run controller: trains an experiment's planned runs one after another on a
// runtime, keeps every run's rows in memory, and can be stopped and resumed (resume continues
// from the in-memory parameters and optimizer state: nothing is reloaded). Platform neutral:
// the browser page drives it, and `lplr verify-browser` and the tests drive the same code in
// Node.
import { ConfigError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import type { EpochRow } from '../../src/metrics/schema.js';
import type { MlpRunConfig } from '../experiments/mlp-config.js';
import { createMlpState, disposeMlpState, mlpEpochFlops, trainMlp, type MlpData } from '../experiments/mlp-train.js';
import type { LiveRun, PlannedRun } from './experiments.js';
import { applyKernelChoices, recordKernelChoices } from './kernel-choices.js';
import { sha256Hex } from './run-files.js';

export interface LabData extends MlpData {
  /** Human-readable origin, e.g. "MNIST train, digits 0/1, stratified subset of 64". */
  source: string;
}

/** Loads (or selects) the data of one run's configuration. */
export type DataProvider = (config: MlpRunConfig) => Promise<LabData>;

export interface TrainerHooks {
  onRow(row: EpochRow): void | Promise<void>;
  afterEpoch(epoch: number): Promise<void>;
  shouldStop(): boolean;
}

/** One run's GPU state, created by a trainer; train() may be called again after a stop. */
export interface TrainerRun {
  parameters: number;
  /** Row chunks of one forward/backward pass (they fix the summation order). */
  chunks: number;
  gflopPerEpoch: number;
  /** SHA-256 of the initial parameters (one readback; for reproducibility checks). */
  initialDigest(): Promise<string>;
  train(hooks: TrainerHooks, startEpoch: number, startTimeMs: number): Promise<void>;
  dispose(): void;
}

export type Trainer = (rt: Runtime, config: MlpRunConfig, data: LabData) => TrainerRun;

/** Full-batch GD on an MLP (Figures 1, 2, 4, 5) through the shared trainer in mlp-train.ts. */
const mlpTrainer: Trainer = (rt, config, data) => {
  const state = createMlpState(rt, config, data, { maxRowsPerChunk: config.maxRowsPerChunk });
  return {
    parameters: state.set.count(),
    chunks: state.chunks.length,
    gflopPerEpoch: mlpEpochFlops(data.n, data.d, config.width, config.depth) / 1e9,
    async initialDigest() {
      const values = await state.initial.readAll();
      // Name, then the little-endian f32 bytes, parameter by parameter in layout order.
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
    },
    async train(hooks, startEpoch, startTimeMs) {
      await trainMlp(state, { onRow: hooks.onRow, afterEpoch: (t) => hooks.afterEpoch(t), shouldStop: hooks.shouldStop }, { startEpoch, startTimeMs });
    },
    dispose: () => disposeMlpState(state),
  };
};

const TRAINERS = new Map<string, Trainer>([['mlp', mlpTrainer]]);

/** Add a trainer (e.g. fig3's mini-batch convnet trainer) under the name a PlannedRun uses. */
export function registerTrainer(name: string, trainer: Trainer): void {
  TRAINERS.set(name, trainer);
}

export interface LabRun extends LiveRun {
  rows: EpochRow[];
  /** Known once the run's GPU state exists. */
  info?: {
    startedAt: string;
    parameters: number;
    chunks: number;
    gflopPerEpoch: number;
    data: { source: string; samples: number; features: number };
    initialDigest?: string;
  };
}

export type LabStatus = 'ready' | 'running' | 'stopped' | 'done' | 'failed';

export interface LabOptions {
  rt: Runtime;
  plan: readonly PlannedRun[];
  data: DataProvider;
  /** Kernel choices to use (e.g. Node's); default: the runtime's own, recorded. */
  kernels?: Readonly<Record<string, string>>;
  /** Read back and hash each run's initial parameters. */
  digestInitialParameters?: boolean;
  /** Called after every row and status change (the page redraws, throttled). */
  onUpdate?: (lab: Lab) => void;
  /** Awaited between epochs so the page stays responsive; default: a macrotask. */
  yieldToUi?: () => Promise<void>;
}

const macrotask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

export class Lab {
  readonly runs: LabRun[];
  status: LabStatus = 'ready';
  error: Error | undefined;
  private current = 0;
  private active: TrainerRun | undefined;
  private stopRequested = false;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: LabOptions) {
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
          this.active = TRAINERS.get(planned.trainer)!(this.opts.rt, run.config, data);
          run.info = {
            startedAt: new Date().toISOString(),
            parameters: this.active.parameters,
            chunks: this.active.chunks,
            gflopPerEpoch: this.active.gflopPerEpoch,
            data: { source: data.source, samples: data.n, features: data.d },
          };
          if (this.opts.digestInitialParameters) run.info.initialDigest = await this.active.initialDigest();
        }
        const last = run.rows[run.rows.length - 1];
        await this.active.train(
          {
            onRow: (row) => {
              run.rows.push(row);
              this.opts.onUpdate?.(this);
            },
            afterEpoch: yieldToUi,
            shouldStop: () => this.stopRequested,
          },
          run.rows.length,
          last ? last.timeMs : 0,
        );
        if (run.rows.length < run.config.epochs + 1) {
          // trainMlp returned early: only a stop request does that.
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
