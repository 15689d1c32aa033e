// Checkpoints: every k epochs or m minutes (whichever first) and on SIGINT/SIGTERM. A
// checkpoint is a safetensors file of the tensors (parameters, optimizer state, θ₀) plus a
// JSON record (epoch to resume at, byte length of metrics.jsonl at that point, RNG state,
// kernel choices, config hash). Both are written atomically; the JSON is written last and
// names its tensor file, so a kill at any moment leaves the previous checkpoint intact.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DataError, DivergenceError, GpuError, LimitError } from '../../src/errors.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import type { Arena } from '../../src/nn/arena.js';
import type { RngState } from '../../src/rng.js';
import { canonicalJson, readJson, writeFileAtomic, writeJsonAtomic } from './run-dir.js';

export const CHECKPOINT_VERSION = 1;

export interface CheckpointRecord {
  version: number;
  /** The epoch the resumed run computes first. */
  nextEpoch: number;
  /** Optimizer updates done so far. */
  optimizerSteps: number;
  /** Byte length of metrics.jsonl holding exactly the rows before nextEpoch. */
  metricsBytes: number;
  /** Wall time of the run so far (ms), so resumed rows continue the clock. */
  elapsedMs: number;
  configHash: string;
  kernelChoices: Record<string, string>;
  rng?: Record<string, RngState>;
  /** Extra experiment state (e.g. the data order of mini-batch SGD). */
  extra?: Record<string, unknown>;
  tensorFile: string;
  savedAt: string;
}

export function checkpointDir(runDir: string): string {
  return path.join(runDir, 'checkpoints');
}

/** Arenas to save under a prefix, e.g. { params: set.params, velocity: opt.velocity, theta0: initial }. */
export type ArenaGroup = Record<string, Arena | undefined>;

export async function saveCheckpoint(runDir: string, arenas: ArenaGroup, record: Omit<CheckpointRecord, 'version' | 'tensorFile' | 'savedAt'>): Promise<string> {
  const dir = checkpointDir(runDir);
  fs.mkdirSync(dir, { recursive: true });
  const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const [prefix, arena] of Object.entries(arenas)) {
    if (!arena) continue;
    const values = await arena.readAll();
    for (const slot of arena.layout.slots) tensors.push({ name: `${prefix}/${slot.name}`, shape: slot.shape, data: values.get(slot.name)! });
  }
  const tensorFile = `ckpt-${String(record.nextEpoch).padStart(6, '0')}.safetensors`;
  writeFileAtomic(path.join(dir, tensorFile), serializeSafetensors(tensors, { format: 'lplr-checkpoint' }));
  const full: CheckpointRecord = { ...record, version: CHECKPOINT_VERSION, tensorFile, savedAt: new Date().toISOString() };
  writeJsonAtomic(path.join(dir, 'checkpoint.json'), full);
  // Older tensor files are garbage once the record points at the new one.
  for (const f of fs.readdirSync(dir)) if (f.startsWith('ckpt-') && f !== tensorFile && !f.endsWith('.tmp')) fs.rmSync(path.join(dir, f), { force: true });
  loseDeviceForTest(arenas, record.nextEpoch);
  return path.join(dir, 'checkpoint.json');
}

/**
 * Test hook: with LPLR_TEST_LOSE_DEVICE_AT=N in the environment, the device is destroyed right
 * after the checkpoint that resumes at epoch N, so tests can drive the device-loss path of a
 * real run (a device cannot be lost on demand otherwise). Without the variable it does nothing.
 */
function loseDeviceForTest(arenas: ArenaGroup, nextEpoch: number): void {
  const at = process.env.LPLR_TEST_LOSE_DEVICE_AT;
  if (at === undefined || Number(at) !== nextEpoch) return;
  const arena = Object.values(arenas).find((a): a is Arena => a !== undefined);
  arena?.rt.device.destroy();
}

/**
 * Remove a finished run's checkpoints (what only an interrupted run needs): 3 MB on the default
 * preset, 57 MB on the paper's. Runs with --keep-checkpoint keep theirs.
 */
export function removeCheckpoints(runDir: string): void {
  fs.rmSync(checkpointDir(runDir), { recursive: true, force: true });
}

export function hasCheckpoint(runDir: string): boolean {
  return fs.existsSync(path.join(checkpointDir(runDir), 'checkpoint.json'));
}

export function readCheckpoint(runDir: string): { record: CheckpointRecord; tensors: Map<string, Float32Array> } {
  const file = path.join(checkpointDir(runDir), 'checkpoint.json');
  if (!fs.existsSync(file)) {
    throw new ConfigError(
      `${runDir} has no checkpoint (checkpoints/checkpoint.json): the run stopped before its first one (every --checkpoint-every epochs). Start it again with ${rerunCommand(runDir)} (--force replaces what the directory holds).`,
    );
  }
  const record = readJson<CheckpointRecord>(file);
  if (record.version !== CHECKPOINT_VERSION) {
    throw new ConfigError(`Checkpoint ${file} has version ${record.version}; this lplr reads version ${CHECKPOINT_VERSION}. Resume it with the lplr version that wrote it.`);
  }
  const tensorPath = path.join(checkpointDir(runDir), record.tensorFile);
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(tensorPath);
  } catch {
    throw new DataError(
      `Checkpoint tensors ${tensorPath} are missing; the checkpoint is incomplete and cannot be resumed. Start the run again with ${rerunCommand(runDir)} (--force replaces what the directory holds).`,
    );
  }
  const parsed = parseSafetensors(bytes, tensorPath);
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of parsed.tensors) tensors.set(name, t.data);
  return { record, tensors };
}

/** Write saved values back into arenas with the same layout. */
export function restoreArenas(tensors: Map<string, Float32Array>, arenas: ArenaGroup, source: string): void {
  for (const [prefix, arena] of Object.entries(arenas)) {
    if (!arena) continue;
    for (const slot of arena.layout.slots) {
      const data = tensors.get(`${prefix}/${slot.name}`);
      if (!data) throw new ConfigError(`${source} lacks '${prefix}/${slot.name}': the checkpoint was written by an incompatible configuration.`);
      if (data.length !== slot.size) throw new ConfigError(`${source}: '${prefix}/${slot.name}' has ${data.length} values, the model needs ${slot.size}. The checkpoint belongs to another configuration.`);
      arena.write(slot.name, data);
    }
  }
}

/** What a SIGINT/SIGTERM did: asked for a checkpoint and stop, was a duplicate and ignored, or forces exit. */
export type SignalOutcome = 'stop' | 'ignored' | 'exit';

/** Decides when to checkpoint: every `everyEpochs`, after `everyMinutes`, or when a stop was requested. */
export class CheckpointPolicy {
  private last = performance.now();
  stopRequested = false;
  private firstSignalAt: number | undefined;
  private handlers: [NodeJS.Signals, () => void][] = [];

  /**
   * `duplicateWindowMs`: repeats of a signal this soon after the first are ignored. Under
   * Slurm, `srun npx lplr` delivers one SIGTERM twice (srun and npm both forward it), and
   * quitting on the second would lose the checkpoint being written.
   */
  constructor(
    readonly everyEpochs: number,
    readonly everyMinutes: number,
    readonly duplicateWindowMs = 2000,
  ) {}

  /**
   * The policy's answer to a signal at time `now` (ms, performance.now() clock): the first
   * asks to checkpoint after this epoch and stop; repeats within duplicateWindowMs are
   * ignored; a later one means the user insists, and the process should exit at once.
   */
  handleSignal(sig: NodeJS.Signals, now = performance.now()): SignalOutcome {
    if (this.firstSignalAt === undefined) {
      this.firstSignalAt = now;
      this.stopRequested = true;
      process.stderr.write(`\nlplr: ${sig} received: checkpointing after this epoch (send it again after ${this.duplicateWindowMs / 1000} s to quit at once)\n`);
      return 'stop';
    }
    if (now - this.firstSignalAt < this.duplicateWindowMs) {
      process.stderr.write(`lplr: repeated ${sig} within ${this.duplicateWindowMs / 1000} s ignored; still checkpointing\n`);
      return 'ignored';
    }
    return 'exit';
  }

  /** SIGINT/SIGTERM finish the current epoch (or step), checkpoint and stop; see handleSignal. */
  installSignalHandlers(): void {
    for (const sig of ['SIGINT', 'SIGTERM'] as NodeJS.Signals[]) {
      const h = () => {
        if (this.handleSignal(sig) === 'exit') process.exit(130);
      };
      process.on(sig, h);
      this.handlers.push([sig, h]);
    }
  }

  removeSignalHandlers(evenWhenStopping = false): void {
    // After a signal asked to stop, the handlers stay until the process exits (with 130): a
    // repeat arriving while the run winds down would otherwise meet the default action and
    // kill the process by signal instead. (In-process callers that go on can force removal.)
    if (this.stopRequested && !evenWhenStopping) return;
    for (const [sig, h] of this.handlers) process.off(sig, h);
    this.handlers = [];
  }

  due(epochsDone: number): boolean {
    const minutes = (performance.now() - this.last) / 60000;
    return this.stopRequested || epochsDone % this.everyEpochs === 0 || (this.everyMinutes > 0 && minutes >= this.everyMinutes);
  }

  saved(): void {
    this.last = performance.now();
  }
}

/**
 * The error to raise when a run fails mid-way: divergence and GPU failures (device loss,
 * out of memory, a failing kernel) say where the finished work is and how to continue.
 */
export function explainRunFailure(e: unknown, dir: string, lastCheckpoint: string | undefined, metricsFile: string): unknown {
  if (e instanceof DivergenceError) {
    // Training is deterministic and a checkpoint holds the parameters *before* the epoch whose
    // loss was non-finite, so a plain resume would diverge again at the same place.
    const lr = recordedLearningRate(dir);
    const smallerLr = `start again with a smaller --lr${lr !== undefined ? ` (this run used ${lr})` : ''} and a new --out, since --lr cannot change on resume`;
    return new DivergenceError(
      lastCheckpoint
        ? `${e.message} Finished work is kept (last checkpoint ${lastCheckpoint}), but resuming from it repeats the same divergence: continue anyway with 'lplr resume ${dir} --continue-on-nan', or ${smallerLr}.`
        : `${e.message} No checkpoint was taken yet (metrics so far are in ${metricsFile}): ${smallerLr}, or run again with --continue-on-nan to keep going anyway.`,
      e.epoch,
    );
  }
  if (e instanceof GpuError || e instanceof LimitError) {
    // The engine's device-loss message ends in a generic 'lplr resume RUN_DIR' hint; this one names the directory.
    const problem = e.message.replace(/\s*[^.]*'lplr resume RUN_DIR'\.?$/, '');
    return new GpuError(
      `${problem} ${lastCheckpoint ? `Finished work is kept: the last checkpoint is ${lastCheckpoint}; continue with 'lplr resume ${dir}'.` : `No checkpoint was taken yet; metrics so far are in ${metricsFile}. Start the run again with ${rerunCommand(dir)}.`}`,
    );
  }
  return e;
}

/**
 * The error for a checkpoint whose config hash differs from the configuration being resumed,
 * naming the fields that differ between the run's config.json and `config`.
 */
export function checkpointConfigMismatch<C>(runDir: string, recordedHash: string, currentHash: string, config: C, identityOf: (c: C) => Record<string, unknown>): ConfigError {
  let recorded: C | undefined;
  try {
    recorded = readJson<{ config?: C }>(path.join(runDir, 'config.json')).config;
  } catch {
    recorded = undefined;
  }
  const invocation = readInvocation(runDir);
  const where = invocation?.cwd ? ` from ${invocation.cwd}` : '';
  const head = `The checkpoint in ${runDir} belongs to another configuration (hash ${recordedHash}, now ${currentHash})`;
  if (!recorded) {
    return new ConfigError(`${head}, and its config.json is unreadable. Resume it${where} with the lplr version that started it, or start a new run with a new --out.`);
  }
  const diffs = differingFields(identityOf(recorded), identityOf(config));
  if (diffs.length === 0) {
    return new ConfigError(`${head}, though no configuration field differs: another lplr version computed its hash. Resume it with the lplr version that started it.`);
  }
  const listed = diffs.map((d) => `${d.field} (run: ${d.recorded}, now: ${d.current})`).join(', ');
  return new ConfigError(
    `${head}: ${listed}. A checkpoint only continues the configuration that wrote it: resume${where} with the same files and lplr version, or start a new run with a new --out.`,
  );
}

function differingFields(recorded: Record<string, unknown>, current: Record<string, unknown>): { field: string; recorded: string; current: string }[] {
  // Undefined counts as absent, as in the hash (canonicalJson skips undefined values).
  const show = (v: unknown) => {
    const text = v === undefined ? 'unset' : JSON.stringify(v);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  };
  const fields = [...new Set([...Object.keys(recorded), ...Object.keys(current)])].sort();
  return fields
    .filter((f) => canonicalJson(recorded[f] ?? null) !== canonicalJson(current[f] ?? null))
    .map((f) => ({ field: f, recorded: show(recorded[f]), current: show(current[f]) }));
}

interface Invocation {
  experiment: string;
  argv: string[];
  cwd?: string;
}

/** invocation.json of a run started by 'lplr run' (absent for sweep runs and page downloads). */
function readInvocation(runDir: string): Invocation | undefined {
  try {
    const inv = readJson<Invocation>(path.join(runDir, 'invocation.json'));
    return typeof inv.experiment === 'string' && Array.isArray(inv.argv) ? inv : undefined;
  } catch {
    return undefined;
  }
}

function recordedLearningRate(runDir: string): number | undefined {
  try {
    const lr = readJson<{ config?: { lr?: unknown } }>(path.join(runDir, 'config.json')).config?.lr;
    return typeof lr === 'number' ? lr : undefined;
  } catch {
    return undefined;
  }
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that starts a run directory's run again from scratch, quoted: its recorded
 * options plus --force, which 'lplr run' needs to reuse a directory that is not empty.
 */
export function rerunCommand(runDir: string): string {
  const inv = readInvocation(runDir);
  if (!inv) return `'lplr run EXPERIMENT [options] --out ${shellQuote(runDir)} --force'`;
  const argv = inv.argv.filter((a) => !/^--(no-)?force(=.*)?$/.test(a));
  const hasOut = argv.some((a) => a === '--out' || a.startsWith('--out='));
  const words = ['lplr', 'run', inv.experiment, ...argv, ...(hasOut ? [] : ['--out', runDir]), '--force'];
  return `'${words.map(shellQuote).join(' ')}'${inv.cwd && inv.cwd !== process.cwd() ? ` in ${inv.cwd}` : ''}`;
}
