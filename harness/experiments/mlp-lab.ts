// Node runner for one MLP run (figures 1, 2, 4, 5): data, model, full-batch GD, streamed
// metrics, summary and report in a run directory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, LplrError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { exportSafetensors } from '../../src/nn/module.js';
import { summarizeRun, type RunSummary } from '../../src/metrics/summary.js';
import type { MetricRow } from '../../src/metrics/schema.js';
import { loadDatasetFile } from '../data/dataset-file.js';
import { binaryMnist } from '../data/mnist.js';
import { MetricsWriter, configHash, describeRun, readJson, readMetrics, writeJsonAtomic } from '../run/run-dir.js';
import { applyKernelChoices, recordKernelChoices } from '../web/kernel-choices.js';
import { CheckpointPolicy, checkpointConfigMismatch, explainRunFailure, readCheckpoint, restoreArenas, saveCheckpoint } from '../run/checkpoint.js';
import type { Progress } from '../run/progress.js';
import { knownThroughput, recordThroughput } from '../run/throughput.js';
import { mlpIdentity, resolveMlpConfig, type MlpRunConfig } from './mlp-config.js';
import type { ParsedArgs } from '../cli/args.js';
import { createMlpState, disposeMlpState, mlpEpochFlops, trainMlp, type MlpData, type MlpTrainState } from './mlp-train.js';

export interface MlpRunResult {
  dir: string;
  config: MlpRunConfig;
  rows: MetricRow[];
  summary: RunSummary;
}

/** resolveMlpConfig plus the checks that need the file system (Node only). */
export function resolveMlpConfigWithFiles(parsed: ParsedArgs): MlpRunConfig {
  const config = resolveMlpConfig(parsed);
  for (const [flag, file] of [['data-dir', config.dataDir], ['dataset', config.dataset], ['init-from', config.initFrom]] as const) {
    if (file !== undefined && !fs.existsSync(file)) throw new ConfigError(`--${flag} ${file} does not exist. Check the path.`);
  }
  return config;
}

export function loadMlpData(config: MlpRunConfig): MlpData & { source: string } {
  if (config.dataset) {
    const d = loadDatasetFile(config.dataset);
    return { ...d, source: `dataset file ${config.dataset}` };
  }
  const d = binaryMnist('train', {
    digits: config.digits,
    subset: config.subset ?? undefined,
    seed: config.seed,
    dataDir: config.dataDir,
  });
  if (config.subset !== null && config.subset > d.n) {
    throw new ConfigError(`--subset ${config.subset} exceeds the ${d.n} training samples of digits ${config.digits.join(',')}.`);
  }
  return { x: d.x, y: d.y, n: d.n, d: d.d, source: `MNIST train, digits ${config.digits.join('/')}${config.subset ? `, stratified subset of ${d.n}` : `, all ${d.n}`}` };
}

function loadInitFrom(file: string): { values: Map<string, { shape: number[]; data: Float32Array }>; source: string } {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new ConfigError(`--init-from ${file}: cannot read the file. Give a safetensors file with PyTorch names (0.weight, 0.bias, 2.weight, ...).`);
  }
  const { tensors } = parseSafetensors(bytes, file);
  return { values: new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }])), source: file };
}

export function describeMlpRun(rt: Runtime, config: MlpRunConfig, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return describeRun(rt, 'mlp', config, configHash(mlpIdentity(config)), extra);
}

export interface RunMlpOptions {
  measure?: (epoch: number, s: MlpTrainState) => Promise<MetricRow[]>;
  checkpointEvery?: number;
  checkpointMinutes?: number;
  continueOnNonFinite?: boolean;
  /** Write the final parameters to params.safetensors (PyTorch names). */
  saveParams?: boolean;
  /** Continue from dir/checkpoints instead of starting fresh. */
  resume?: boolean;
}

/** Raised when SIGINT/SIGTERM stopped a run after a checkpoint. */
export class RunStopped extends LplrError {}

/**
 * Train one configuration into `dir` (empty, or holding a checkpoint when resuming) and
 * write every output file. Metrics stream to disk row by row; checkpoints are taken every
 * few epochs/minutes and on SIGINT/SIGTERM.
 */
export async function runMlp(rt: Runtime, config: MlpRunConfig, dir: string, progress: Progress, opts: RunMlpOptions = {}): Promise<MlpRunResult> {
  const data = loadMlpData(config);
  const initFrom = config.initFrom ? loadInitFrom(config.initFrom) : undefined;
  const hash = configHash(mlpIdentity(config));
  const state = createMlpState(rt, config, data, { initFrom, maxRowsPerChunk: config.maxRowsPerChunk });
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const policy = new CheckpointPolicy(opts.checkpointEvery ?? 25, opts.checkpointMinutes ?? 5);
  const arenas = () => ({ params: state.set.params, velocity: state.optimizer.velocity, theta0: state.initial });
  let lastCheckpoint: string | undefined;
  try {
    const flops = mlpEpochFlops(data.n, data.d, config.width, config.depth);
    let startEpoch = 0;
    let startTimeMs = 0;
    let writer: MetricsWriter;
    const rows: MetricRow[] = [];
    if (opts.resume) {
      const { record, tensors } = readCheckpoint(dir);
      if (record.configHash !== hash) {
        throw checkpointConfigMismatch(dir, record.configHash, hash, config, mlpIdentity);
      }
      restoreArenas(tensors, arenas(), path.join(dir, 'checkpoints'));
      // Same kernels as before the interruption, so the resumed run is bitwise identical.
      applyKernelChoices(rt, record.kernelChoices);
      state.optimizer.stepCount = record.optimizerSteps;
      startEpoch = record.nextEpoch;
      startTimeMs = record.elapsedMs;
      // Rows after the checkpoint are recomputed: cut them (and any torn line) away.
      writer = new MetricsWriter(metricsFile, record.metricsBytes);
      rows.push(...(readMetrics(metricsFile) as MetricRow[]));
      lastCheckpoint = path.join(dir, 'checkpoints', 'checkpoint.json');
      progress.log(`resuming at epoch ${startEpoch} from ${lastCheckpoint}`);
    } else {
      writeJsonAtomic(
        path.join(dir, 'config.json'),
        describeMlpRun(rt, config, { data: { source: data.source, samples: data.n, features: data.d }, parameters: state.set.count(), gflopPerEpoch: flops / 1e9 }),
      );
      // A fresh start (also a run killed before its first checkpoint) begins an empty file.
      writer = new MetricsWriter(metricsFile, 0);
    }
    progress.start(config.epochs + 1, flops, knownThroughput(rt.ctx.info, 'mlp'));
    policy.installSignalHandlers();
    try {
      await trainMlp(
        state,
        {
          onRow: (row) => {
            writer.write(row);
            rows.push(row);
            progress.tick(row.epoch + 1, `loss ${row.loss.toExponential(4)}  ‖∇L‖² ${row.gradNormSq.toExponential(3)}  acc ${(row.acc * 100).toFixed(2)}%`);
          },
          measure: opts.measure
            ? async (epoch, s) => {
                for (const r of await opts.measure!(epoch, s)) {
                  writer.write(r);
                  rows.push(r);
                }
              }
            : undefined,
          afterEpoch: async (t) => {
            if (!policy.due(t + 1)) return;
            writer.sync();
            lastCheckpoint = await saveCheckpoint(dir, arenas(), {
              nextEpoch: t + 1,
              optimizerSteps: state.optimizer.stepCount,
              metricsBytes: writer.byteLength,
              elapsedMs: rows.length ? Number((rows[rows.length - 1] as { timeMs?: number }).timeMs ?? 0) : 0,
              configHash: hash,
              kernelChoices: recordKernelChoices(rt),
            });
            policy.saved();
            if (policy.stopRequested) {
              throw new RunStopped(`Stopped after epoch ${t}; the checkpoint is ${lastCheckpoint}. Continue with 'lplr resume ${dir}'.`);
            }
          },
        },
        { startEpoch, startTimeMs, continueOnNonFinite: opts.continueOnNonFinite },
      );
    } catch (e) {
      throw explainRunFailure(e, dir, lastCheckpoint, metricsFile);
    } finally {
      policy.removeSignalHandlers();
      writer.close();
    }
    progress.done();
    // The kernels actually used (per shape class), for the record and for reuse.
    const cfgFile = path.join(dir, 'config.json');
    writeJsonAtomic(cfgFile, { ...readJson<Record<string, unknown>>(cfgFile), kernels: recordKernelChoices(rt) });
    const measured = progress.gflops();
    if (measured) recordThroughput(rt.ctx.info, 'mlp', measured);
    if (opts.saveParams) fs.writeFileSync(path.join(dir, 'params.safetensors'), await exportSafetensors(state.set, { source: 'lplr', config: JSON.stringify(config) }));
    const summary = summarizeRun(rows, { fitWindow: config.fitWindow });
    writeJsonAtomic(path.join(dir, 'summary.json'), summary);
    return { dir, config, rows, summary };
  } finally {
    disposeMlpState(state);
  }
}
