// Sweeps: a grid of MLP configurations × seeds, one run directory per point, named by the hash
// of the fully resolved config (so a finished run is skipped only when its config is identical).
// The runs are split across shards (--shard, Slurm job arrays, Kubernetes Indexed Jobs) that
// share one output directory, and within a shard across child processes (--parallel). fig4 and
// fig5 run their built-in sets through the same executor (executeSweep).
//
// Layout: DIR/sweep.json (the plan: written identically by every shard), DIR/runs/<label>-<hash>/
// (one run each, written only by the shard that owns it), DIR/summary.json and DIR/report.html
// (written only by `lplr merge`).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdapterError, closest, ConfigError, DataError, DivergenceError, GpuError, LplrError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import type { MetricRow } from '../../src/metrics/schema.js';
import type { RunSummary } from '../analysis/summary.js';
import { convertValue, type OptionSpec, type ParsedArgs } from '../options/args.js';
import { mlpIdentity, resolveMlpConfig, type MlpRunConfig } from '../experiments/mlp-config.js';
import { runMlp, RunStopped, type RunMlpOptions } from '../experiments/mlp-lab.js';
import { hasCheckpoint } from './checkpoint.js';
import { copyRun, findCompletedRun, isComplete, runDirName } from './grid.js';
import type { Progress } from './progress.js';
import { writeMlpReport } from './reports.js';
import { canonicalJson, configHash, readJson, readMetrics, writeJsonAtomic } from './run-dir.js';

export const PLAN_FILE = 'sweep.json';
export const FAILED_FILE = 'failed.json';
export const PLAN_FORMAT = 'lplr-sweep';
export const PLAN_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// The grid

export interface SweepAxis {
  /** An MLP option name (the flag without --), e.g. 'width'. */
  key: string;
  /** Converted values, in the order given. */
  values: unknown[];
}

/** Option types whose single value already contains commas: their grid values are separated by '/'. */
function isListType(spec: OptionSpec): boolean {
  return spec.type === 'int-list' || spec.type === 'number-list' || spec.type === 'string-list';
}

/** Parse one `--grid KEY=V1,V2,...` against the MLP options; every value is converted and checked like its flag. */
export function parseGridArg(raw: string, specs: readonly OptionSpec[]): SweepAxis {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--grid expects KEY=V1,V2,... (e.g. --grid width=64,128), got '${raw}'.`);
  const key = raw.slice(0, eq).trim().replace(/^--/, '');
  const text = raw.slice(eq + 1);
  if (key === 'seed') throw new ConfigError(`Sweep seeds with --seeds (e.g. --seeds 0-4), not --grid seed=${text}.`);
  const spec = specs.find((s) => s.name === key);
  if (!spec) {
    const names = specs.map((s) => s.name).filter((n) => n !== 'seed');
    const hint = closest(key, names);
    throw new ConfigError(`Unknown grid key '${key}'.${hint ? ` Did you mean '${hint}'?` : ''} Grid keys are the MLP options: ${names.join(', ')}.`);
  }
  const parts = (isListType(spec) ? text.split('/') : text.split(',')).map((p) => p.trim());
  if (parts.some((p) => p === '')) {
    const sep = isListType(spec) ? "'/' (each value is itself a list, e.g. --grid digits=0,1/3,8)" : "','";
    throw new ConfigError(`--grid ${key}=${text} has an empty value; give values separated by ${sep}.`);
  }
  const values = parts.map((p) => {
    try {
      return convertValue(spec, p);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`In --grid ${key}=${text}: ${e.message}`);
      throw e;
    }
  });
  const seen = new Set<string>();
  for (const v of values) {
    const k = canonicalJson(v);
    if (seen.has(k)) throw new ConfigError(`--grid ${key}=${text} lists ${labelValue(v)} twice; give each value once.`);
    seen.add(k);
  }
  return { key, values };
}

/** `--seeds 0-4`, `--seeds 0,3,7` or a mix (`0-2,9`), ascending order kept as given. */
export function parseSeeds(raw: string): number[] {
  const seeds: number[] = [];
  for (const part of raw.split(',').map((p) => p.trim())) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (a > b) throw new ConfigError(`--seeds ${raw}: the range ${part} runs backwards; write ${b}-${a}.`);
      if (b - a >= 100_000) throw new ConfigError(`--seeds ${raw}: the range ${part} has more than 100000 seeds.`);
      for (let s = a; s <= b; s++) seeds.push(s);
    } else if (/^\d+$/.test(part)) {
      seeds.push(Number(part));
    } else {
      throw new ConfigError(`--seeds expects seeds like 0-4 or 0,1,7 (integers >= 0), got '${raw}'.`);
    }
  }
  const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (dup !== undefined) throw new ConfigError(`--seeds ${raw} lists seed ${dup} twice.`);
  return seeds;
}

/** A value as it appears in labels: 0.01, he, 0+1 (digits), 5:20 (a range). */
export function labelValue(v: unknown): string {
  if (Array.isArray(v)) return v.map(labelValue).join('+');
  return String(v);
}

const LABEL_PREFIX: Record<string, string> = { width: 'w', depth: 'd', epochs: 'e', seed: 's' };

/** Short, filesystem-safe label of a grid point, e.g. w64-lr0.01-he-s3. */
export function pointLabel(axes: readonly SweepAxis[], point: Record<string, unknown>): string {
  const parts = axes.map((a) => {
    const prefix = a.key === 'init' ? '' : (LABEL_PREFIX[a.key] ?? a.key);
    return `${prefix}${labelValue(point[a.key])}`;
  });
  if (point.seed !== undefined) parts.push(`s${labelValue(point.seed)}`);
  return parts.join('-').replace(/[^A-Za-z0-9.+_-]/g, '_') || 'run';
}

/** "width=64, lr=0.01" (seed left out unless asked): how reports name a configuration. */
export function describePoint(point: Record<string, unknown>, opts: { withSeed?: boolean } = {}): string {
  const parts = Object.entries(point)
    .filter(([k]) => opts.withSeed || k !== 'seed')
    .map(([k, v]) => `${k}=${labelValue(v)}`);
  return parts.length ? parts.join(', ') : 'base configuration';
}

// ---------------------------------------------------------------------------------------------
// The plan

export interface SweepRunSpec {
  /** Position in the full plan; shards own the runs whose index mod N is theirs. */
  index: number;
  label: string;
  /** Hash of the resolved config's identity (configHash(mlpIdentity(config))). */
  hash: string;
  /** The run directory, relative to the sweep directory. */
  dir: string;
  /** Grid key → value for this run, and its seed. */
  point: Record<string, unknown>;
  config: MlpRunConfig;
}

export interface SweepPlan {
  format: typeof PLAN_FORMAT;
  version: number;
  experiment: string;
  /** MLP options given outside the grid (flag → value), shared by every run. */
  base: Record<string, unknown>;
  axes: SweepAxis[];
  seeds: number[];
  runs: SweepRunSpec[];
}

/** The spec of one run of a set (fig4/fig5 or a sweep): label, hash and directory under runs/. */
export function runSpec(index: number, label: string, config: MlpRunConfig, point: Record<string, unknown> = {}): SweepRunSpec {
  const hash = configHash(mlpIdentity(config));
  return { index, label, hash, dir: path.join('runs', runDirName({ label, hash, config })), point, config };
}

/** Grid keys that choose what a run reads from files. */
const FILE_KEYS = new Set(['data-dir', 'dataset', 'digits', 'subset', 'init-from']);

/**
 * What a run reads from files (the data and its selection, the starting parameters); the seed
 * only reorders the selection. Points with the same key read and check the same files.
 */
export function inputFilesKey(config: MlpRunConfig): string {
  const abs = (p: string | undefined) => (p === undefined ? null : path.resolve(p));
  return canonicalJson({ dataDir: abs(config.dataDir), dataset: abs(config.dataset), digits: config.digits, subset: config.subset, initFrom: abs(config.initFrom) });
}

/**
 * Expand the grid (axes in the order given, the last one fastest, seeds innermost) into runs,
 * resolving and validating every point's config before anything runs. `args` holds the MLP
 * options given outside the grid. `checkInputs` reads and checks a config's files (throwing
 * DataError for a corrupt or truncated file); it runs once per distinct inputFilesKey, so a bad
 * file stops the whole sweep here (exit 2) instead of failing every run (exit 3, which a
 * scheduler retries).
 */
export function planSweep(
  experiment: string,
  args: ParsedArgs,
  specs: readonly OptionSpec[],
  axes: readonly SweepAxis[],
  seeds: readonly number[],
  resolve: (parsed: ParsedArgs) => MlpRunConfig = resolveMlpConfig,
  checkInputs?: (config: MlpRunConfig) => void,
): SweepPlan {
  const keys = new Set<string>();
  for (const a of axes) {
    if (keys.has(a.key)) throw new ConfigError(`--grid ${a.key} is given twice; put all its values in one --grid ${a.key}=V1,V2,....`);
    if (args.given.has(a.key)) throw new ConfigError(`--${a.key} is given both as a flag and in --grid; keep one of them.`);
    keys.add(a.key);
  }
  if (seeds.length === 0) throw new ConfigError('--seeds selects no seed; give at least one, e.g. --seeds 0.');
  const base: Record<string, unknown> = {};
  for (const s of specs) if (args.given.has(s.name) && s.name !== 'seed') base[s.name] = args.values[s.name];

  const points: Record<string, unknown>[] = [];
  const combine = (i: number, point: Record<string, unknown>) => {
    if (i === axes.length) {
      for (const seed of seeds) points.push({ ...point, seed });
      return;
    }
    for (const v of axes[i].values) combine(i + 1, { ...point, [axes[i].key]: v });
  };
  combine(0, {});

  const checked = new Set<string>();
  const runs = points.map((point, index) => {
    const given = new Set([...args.given, ...Object.keys(point)]);
    let config: MlpRunConfig;
    try {
      config = resolve({ values: { ...args.values, ...point }, given, positionals: [] });
      const key = inputFilesKey(config);
      if (checkInputs && !checked.has(key)) {
        checkInputs(config);
        checked.add(key);
      }
    } catch (e) {
      // Name the point when the grid decides what is wrong (e.g. --grid dataset=a,b); same class, same exit code.
      const where = `Grid point ${describePoint(point, { withSeed: true })}: `;
      if (e instanceof ConfigError) throw new ConfigError(where + e.message);
      if (e instanceof DataError) throw new DataError(axes.some((a) => FILE_KEYS.has(a.key)) ? where + e.message : e.message);
      throw e;
    }
    return runSpec(index, pointLabel(axes, point), config, point);
  });
  // Two points with the same resolved config (e.g. a grid value equal to the preset's) would
  // share a directory and be run twice.
  const byHash = new Map<string, SweepRunSpec>();
  for (const r of runs) {
    const other = byHash.get(r.hash);
    if (other) throw new ConfigError(`Grid points ${describePoint(other.point, { withSeed: true })} and ${describePoint(r.point, { withSeed: true })} resolve to the same configuration; remove one of the values.`);
    byHash.set(r.hash, r);
  }
  return { format: PLAN_FORMAT, version: PLAN_VERSION, experiment, base, axes: axes.map((a) => ({ key: a.key, values: a.values })), seeds: [...seeds], runs };
}

function planText(plan: SweepPlan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

/** What differs between two plans, in words (for the "different sweep" error). */
function planDifference(old: SweepPlan, next: SweepPlan): string {
  const diffs: string[] = [];
  const show = (v: unknown) => {
    const s = canonicalJson(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  };
  if (old.experiment !== next.experiment) diffs.push(`experiment ${old.experiment} → ${next.experiment}`);
  if (canonicalJson(old.base) !== canonicalJson(next.base)) diffs.push(`options ${show(old.base)} → ${show(next.base)}`);
  if (canonicalJson(old.axes) !== canonicalJson(next.axes)) diffs.push(`grid ${show(old.axes)} → ${show(next.axes)}`);
  if (canonicalJson(old.seeds) !== canonicalJson(next.seeds)) diffs.push(`seeds ${show(old.seeds)} → ${show(next.seeds)}`);
  if (diffs.length === 0) diffs.push('the resolved configurations (another lplr version?)');
  return diffs.join('; ');
}

/** A plan being written by a shard right now (writePlan's temporary name). */
function isPlanTemp(name: string): boolean {
  return name.startsWith(`${PLAN_FILE}.`) && name.endsWith('.tmp');
}

/**
 * Refuse to turn a non-empty directory that is not a sweep (no sweep.json: a finished
 * `lplr run`, or anything else) into one: `lplr merge` would later replace its summary.json and
 * report.html. `force` allows it; the directory's files are kept (nothing is deleted, so a shard
 * started with --force can never remove another shard's runs).
 */
export function checkSweepDir(dir: string, force: boolean): void {
  if (!fs.existsSync(dir)) return;
  if (!fs.statSync(dir).isDirectory()) throw new ConfigError(`--out ${dir} is a file; give a directory.`);
  const entries = fs.readdirSync(dir);
  // Another shard may be between creating the directory and renaming its plan into place.
  if (force || entries.includes(PLAN_FILE) || entries.every(isPlanTemp)) return;
  const shown = entries.filter((e) => !isPlanTemp(e)).sort();
  const list = shown.length > 4 ? `${shown.slice(0, 4).join(', ')}, ...` : shown.join(', ');
  const what = entries.includes('config.json') && entries.includes('metrics.jsonl') ? 'it is the directory of a single run' : `it holds ${list}`;
  throw new ConfigError(
    `--out ${dir} is not empty and is not a sweep directory (no ${PLAN_FILE}; ${what}). Give a new --out for the sweep, or add --force to write the sweep into it anyway (its files are kept, but lplr merge replaces summary.json and report.html there).`,
  );
}

/**
 * Write DIR/sweep.json. Every shard writes the same bytes (the plan holds no time, host or
 * shard), atomically, so concurrent shards never see a torn or foreign plan. A different plan
 * already there is refused unless `replan`; a non-empty directory without a plan is refused
 * unless `force` (checkSweepDir).
 */
export function writePlan(dir: string, plan: SweepPlan, replan: boolean, force = false): 'written' | 'unchanged' {
  const file = path.join(dir, PLAN_FILE);
  const text = planText(plan);
  checkSweepDir(dir, force);
  if (fs.existsSync(file)) {
    const existing = fs.readFileSync(file, 'utf8');
    if (existing === text) return 'unchanged';
    if (!replan) {
      let what = 'it is not a plan this lplr can read';
      try {
        what = planDifference(JSON.parse(existing) as SweepPlan, plan);
      } catch {
        // keep the generic description
      }
      throw new ConfigError(
        `${file} describes a different sweep (${what}). Use a new --out for a new grid, or add --replan to replace the plan (finished runs whose configuration is unchanged are kept and skipped).`,
      );
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  // A random suffix: shards on different hosts may share pid and millisecond on a shared volume.
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, text);
  const fd = fs.openSync(tmp, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return 'written';
}

export function readPlan(dir: string): SweepPlan {
  const file = path.join(dir, PLAN_FILE);
  if (!fs.existsSync(file)) {
    throw new ConfigError(`${dir} has no ${PLAN_FILE}: it is not a sweep directory. Give the --out directory of 'lplr sweep'.`);
  }
  const plan = readJson<SweepPlan>(file, `Delete it and run the same lplr sweep command again with --force: that writes the plan anew and keeps the finished runs.`);
  if (plan.format !== PLAN_FORMAT || !Array.isArray(plan.runs)) {
    throw new ConfigError(`${file} is not a sweep plan written by 'lplr sweep'.`);
  }
  if (plan.version !== PLAN_VERSION) {
    throw new ConfigError(`${file} has plan version ${plan.version}; this lplr reads version ${PLAN_VERSION}. Use the lplr version that wrote it.`);
  }
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Shards

export interface ShardSpec {
  /** 0-based. */
  index: number;
  count: number;
  /** Where the shard came from, for log lines: '--shard', 'Slurm array', 'Kubernetes Indexed Job', 'none'. */
  source: string;
}

function envInt(env: Readonly<Record<string, string | undefined>>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name}='${raw}' is not a non-negative integer. Fix the job definition, or pass --shard I/N.`);
  return Number(raw);
}

/**
 * This process's shard: --shard I/N; else a Slurm job array (SLURM_ARRAY_TASK_ID relative to
 * SLURM_ARRAY_TASK_MIN, divided by SLURM_ARRAY_TASK_STEP, out of SLURM_ARRAY_TASK_COUNT); else a
 * Kubernetes Indexed Job (JOB_COMPLETION_INDEX out of LPLR_SHARD_COUNT, since Kubernetes sets no
 * count); else the whole plan.
 */
export function resolveShard(flag: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): ShardSpec {
  const check = (index: number, count: number, source: string, fix: string): ShardSpec => {
    if (count < 1) throw new ConfigError(`${source}: the shard count is ${count}; it must be at least 1. ${fix}`);
    if (index >= count) throw new ConfigError(`${source}: shard index ${index} is not below the shard count ${count}. ${fix}`);
    return { index, count, source };
  };
  if (flag !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(flag.trim());
    if (!m) throw new ConfigError(`--shard expects I/N with 0 <= I < N (e.g. --shard 0/4), got '${flag}'.`);
    return check(Number(m[1]), Number(m[2]), '--shard', 'Shards are numbered from 0: --shard 0/N ... --shard N-1/N.');
  }
  const taskId = envInt(env, 'SLURM_ARRAY_TASK_ID');
  if (taskId !== undefined) {
    const count = envInt(env, 'SLURM_ARRAY_TASK_COUNT');
    if (count === undefined) throw new ConfigError('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not. Submit with sbatch --array, or pass --shard I/N.');
    const min = envInt(env, 'SLURM_ARRAY_TASK_MIN') ?? 0;
    const step = envInt(env, 'SLURM_ARRAY_TASK_STEP') ?? 1;
    const offset = taskId - min;
    if (offset < 0 || step < 1 || offset % step !== 0) {
      throw new ConfigError(`SLURM_ARRAY_TASK_ID ${taskId} is not MIN + k·STEP (MIN ${min}, STEP ${step}). Use a plain range such as --array=0-${count - 1}, or pass --shard I/N.`);
    }
    return check(offset / step, count, 'Slurm array', `Use a contiguous range such as --array=0-${count - 1} (not a list of ids), or pass --shard I/N.`);
  }
  const completion = envInt(env, 'JOB_COMPLETION_INDEX');
  if (completion !== undefined) {
    const count = envInt(env, 'LPLR_SHARD_COUNT');
    if (count === undefined) {
      throw new ConfigError('JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but LPLR_SHARD_COUNT is not. Set LPLR_SHARD_COUNT to the Job\'s spec.completions, or pass --shard I/N.');
    }
    return check(completion, count, 'Kubernetes Indexed Job', 'Set LPLR_SHARD_COUNT to the Job\'s spec.completions.');
  }
  return { index: 0, count: 1, source: 'none' };
}

export function inShard(runIndex: number, shard: ShardSpec): boolean {
  return runIndex % shard.count === shard.index;
}

// ---------------------------------------------------------------------------------------------
// The state of one run directory

export type RunState = 'complete' | 'failed' | 'interrupted' | 'started' | 'missing';

export interface RunStateInfo {
  state: RunState;
  /** The failure message, the checkpoint epoch, ... */
  detail?: string;
  /** A failed run whose loss or gradient became NaN/Inf: a measured outcome of its configuration, not a fault. */
  diverged?: { epoch: number | null };
}

export interface FailureRecord {
  message: string;
  /** The error class ('DivergenceError', 'GpuError', ...). */
  error: string;
  at: string;
  /** For a divergence: the epoch whose loss or gradient was not finite. */
  epoch?: number;
}

export function runState(dir: string): RunStateInfo {
  if (isComplete(dir)) return { state: 'complete' };
  const failed = path.join(dir, FAILED_FILE);
  if (fs.existsSync(failed)) {
    try {
      const record = readJson<FailureRecord>(failed);
      const diverged = record.error === 'DivergenceError' ? { diverged: { epoch: typeof record.epoch === 'number' ? record.epoch : null } } : {};
      return { state: 'failed', detail: record.message, ...diverged };
    } catch {
      return { state: 'failed', detail: `${FAILED_FILE} is unreadable` };
    }
  }
  if (hasCheckpoint(dir)) {
    try {
      const rec = readJson<{ nextEpoch?: number }>(path.join(dir, 'checkpoints', 'checkpoint.json'));
      return { state: 'interrupted', detail: `checkpoint before epoch ${rec.nextEpoch ?? '?'}` };
    } catch {
      return { state: 'interrupted', detail: 'has a checkpoint' };
    }
  }
  if (fs.existsSync(path.join(dir, 'config.json'))) return { state: 'started', detail: 'started, no checkpoint yet' };
  return { state: 'missing' };
}

function recordFailure(dir: string, e: unknown): void {
  fs.mkdirSync(dir, { recursive: true });
  const err = e instanceof Error ? e : new Error(String(e));
  const record: FailureRecord = { message: err.message, error: err.name, at: new Date().toISOString() };
  if (e instanceof DivergenceError && e.epoch !== undefined) record.epoch = e.epoch;
  writeJsonAtomic(path.join(dir, FAILED_FILE), record);
}

// ---------------------------------------------------------------------------------------------
// Running one configuration

/** What every run of a set shares: checkpoint cadence, divergence handling, parameter export, ... */
export type SharedRunOptions = Omit<RunMlpOptions, 'measure' | 'resume'>;

/** Extra measurements for a run (e.g. the NTK/Hessian checks of --ntk-every); made afresh per run. */
export type MeasureFactory = (config: MlpRunConfig, log: (message: string) => void) => RunMlpOptions['measure'];

export interface RunContext {
  /** The GPU runtime, created on first use (a shard with nothing left to run needs none). */
  runtime(): Promise<Runtime>;
  progress: Progress;
  runOptions: SharedRunOptions;
  measureFor?: MeasureFactory;
  /** Continue from the directory's checkpoint when it has one. */
  resume: boolean;
  /** Where to look for a completed run with the same config to copy instead of training. */
  reuseRoots: readonly string[];
}

export type EnsureOutcome = 'complete' | 'reused' | 'resumed' | 'ran';

export interface EnsuredRun {
  outcome: EnsureOutcome;
  rows: MetricRow[];
  summary: RunSummary;
  /** The directory a complete run came from (itself when it was complete already). */
  reusedFrom?: string;
}

/**
 * Make sure `dir` holds a finished run of `config`: skip it when complete, copy a matching
 * completed run from the reuse roots, continue it from its checkpoint (ctx.resume), or train.
 */
export async function ensureRun(
  ctx: RunContext,
  config: MlpRunConfig,
  dir: string,
  title: string,
  opts: { reuse?: boolean; measure?: RunMlpOptions['measure'] } = {},
): Promise<EnsuredRun> {
  const hash = configHash(mlpIdentity(config));
  const finished = () => ({ rows: readMetrics(path.join(dir, 'metrics.jsonl')) as MetricRow[], summary: readJson<RunSummary>(path.join(dir, 'summary.json')) });
  if (isComplete(dir)) return { outcome: 'complete', ...finished(), reusedFrom: dir };
  if (opts.reuse !== false && !hasCheckpoint(dir)) {
    const found = findCompletedRun(hash, ctx.reuseRoots.filter((r) => fs.existsSync(r)));
    if (found && path.resolve(found) !== path.resolve(dir)) {
      ctx.progress.log(`${title}: reusing the completed run ${found} (same configuration)`);
      copyRun(found, dir);
      return { outcome: 'reused', ...finished(), reusedFrom: found };
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  const resume = ctx.resume && hasCheckpoint(dir);
  const measure = opts.measure ?? ctx.measureFor?.(config, (m) => ctx.progress.log(m));
  const rt = await ctx.runtime();
  // A rough ETA from the adapter class until this machine's throughput is known.
  ctx.progress.setAdapter?.(rt.ctx.info);
  const res = await runMlp(rt, config, dir, ctx.progress, { ...ctx.runOptions, measure, resume });
  writeMlpReport(dir, title, config, res.rows, res.summary);
  return { outcome: resume ? 'resumed' : 'ran', rows: res.rows, summary: res.summary };
}

// ---------------------------------------------------------------------------------------------
// Running a set of runs: in this process, or in child processes fed one run at a time

export type RunOutcome = 'skipped' | 'reused' | 'resumed' | 'ran' | 'failed' | 'stopped' | 'not started';

export interface RunResult {
  index: number;
  label: string;
  /** Absolute run directory. */
  dir: string;
  outcome: RunOutcome;
  error?: string;
}

export interface SweepExecution {
  results: RunResult[];
  /** A signal stopped the sweep (runs checkpointed); the rest are 'not started'. */
  stopped: boolean;
}

export interface SweepContext {
  runtime(): Promise<Runtime>;
  /** Drop the runtime after a GPU error (a lost device, cached invalid pipelines); the next run creates a new one. */
  discardRuntime?(): void;
  /** Progress for one run (labelled by the caller as it likes); also the sweep's log. */
  progress(label: string): Progress;
  runOptions: SharedRunOptions;
  measureFor?: MeasureFactory;
  reuseRoots: readonly string[];
}

/** Starts one worker process (`lplr sweep --worker ...`) with an IPC channel. */
export type WorkerLauncher = () => ChildProcess;

export interface ExecuteOptions {
  /** Continue interrupted runs from their checkpoints (sweeps: always). */
  resume?: boolean;
  /** 'record': write failed.json and go on with the next run (sweeps); 'throw' (default): stop at the first error or signal (fig4/fig5). */
  onFailure?: 'record' | 'throw';
  /** Child processes to spread the runs over (needs `launch`); 1 runs them here, one after another. */
  parallel?: number;
  launch?: WorkerLauncher;
}

/** Run one planned run here; failures are recorded or thrown, a stop returns 'stopped'. */
async function attemptRun(sweepDir: string, spec: SweepRunSpec, ctx: SweepContext, opts: ExecuteOptions): Promise<RunResult> {
  const dir = path.resolve(sweepDir, spec.dir);
  const base = { index: spec.index, label: spec.label, dir };
  if (isComplete(dir)) return { ...base, outcome: 'skipped' };
  fs.rmSync(path.join(dir, FAILED_FILE), { force: true });
  const progress = ctx.progress(spec.label);
  try {
    const res = await ensureRun(
      { runtime: ctx.runtime, progress, runOptions: ctx.runOptions, measureFor: ctx.measureFor, resume: opts.resume ?? true, reuseRoots: ctx.reuseRoots },
      spec.config,
      dir,
      spec.label,
    );
    return { ...base, outcome: res.outcome === 'complete' ? 'skipped' : res.outcome };
  } catch (e) {
    // Without an adapter every run would fail the same way: stop the sweep.
    if (opts.onFailure !== 'record' || e instanceof AdapterError) throw e;
    if (e instanceof RunStopped) return { ...base, outcome: 'stopped', error: e.message };
    if (e instanceof GpuError) ctx.discardRuntime?.();
    recordFailure(dir, e);
    const message = e instanceof LplrError ? e.message : `internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
    return { ...base, outcome: 'failed', error: message };
  }
}

/**
 * Run `runs` (all planned for `sweepDir`): skip the complete ones, resume interrupted ones, run
 * the rest, one after another here or spread over `parallel` child processes. Results come back
 * in the order of `runs`.
 */
export async function executeSweep(sweepDir: string, runs: readonly SweepRunSpec[], ctx: SweepContext, opts: ExecuteOptions = {}): Promise<SweepExecution> {
  const parallel = Math.max(1, opts.parallel ?? 1);
  const pending = runs.filter((r) => !isComplete(path.resolve(sweepDir, r.dir)));
  const results = new Map<number, RunResult>();
  for (const r of runs) if (!pending.includes(r)) results.set(r.index, { index: r.index, label: r.label, dir: path.resolve(sweepDir, r.dir), outcome: 'skipped' });
  let stopped = false;
  if (parallel > 1 && opts.launch && pending.length > 1) {
    stopped = await runInWorkers(sweepDir, pending, Math.min(parallel, pending.length), opts.launch, results, ctx.progress(''));
  } else {
    for (const r of pending) {
      const res = await attemptRun(sweepDir, r, ctx, opts);
      results.set(r.index, res);
      if (res.outcome === 'stopped') {
        stopped = true;
        break;
      }
    }
  }
  const ordered = runs.map((r) => results.get(r.index) ?? { index: r.index, label: r.label, dir: path.resolve(sweepDir, r.dir), outcome: 'not started' as const });
  return { results: ordered, stopped };
}

/** Parent → worker. */
type ToWorker = { type: 'run'; index: number } | { type: 'stop' } | { type: 'exit' };
/** Worker → parent. `done` also asks for the next run. */
type FromWorker = { type: 'ready' } | { type: 'done'; result: RunResult } | { type: 'fatal'; message: string };

/**
 * A pool of worker processes, each fed the next pending run when it reports the previous one.
 * A worker that dies mid-run (killed, out of memory) gets its run marked failed and is replaced.
 * On SIGINT/SIGTERM no further run starts; workers get the signal themselves from the terminal or
 * Slurm, and a second later a 'stop' message for the case where only this process was signalled
 * (Kubernetes signals PID 1 only); a worker ignores the message when the signal already reached it.
 */
async function runInWorkers(
  sweepDir: string,
  pending: readonly SweepRunSpec[],
  workers: number,
  launch: WorkerLauncher,
  results: Map<number, RunResult>,
  log: Progress,
): Promise<boolean> {
  const queue = [...pending];
  let stopping = false;
  let stopped = false;
  let fatal: string | undefined;
  const live = new Set<ChildProcess>();
  const onSignal = () => {
    if (stopping) {
      for (const c of live) c.kill('SIGKILL');
      process.exit(130);
    }
    stopping = true;
    stopped = true;
    log.log('stopping: no new runs start; running ones checkpoint and stop (signal again to kill them)');
    setTimeout(() => {
      for (const c of live) if (c.connected) c.send({ type: 'stop' } satisfies ToWorker);
    }, 1000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await new Promise<void>((resolve) => {
      const start = () => {
        const child = launch();
        live.add(child);
        let current: SweepRunSpec | undefined;
        let ready = false;
        const next = () => {
          current = stopping || fatal !== undefined ? undefined : queue.shift();
          if (!child.connected) return;
          child.send(current ? ({ type: 'run', index: current.index } satisfies ToWorker) : ({ type: 'exit' } satisfies ToWorker));
        };
        child.on('message', (m: FromWorker) => {
          if (m.type === 'ready') {
            ready = true;
            next();
          } else if (m.type === 'done') {
            results.set(m.result.index, m.result);
            if (m.result.outcome === 'stopped') stopped = stopping = true;
            next();
          } else if (m.type === 'fatal') {
            fatal ??= m.message;
            current = undefined;
          }
        });
        child.on('error', (e) => {
          fatal ??= `cannot start a worker process: ${e.message}`;
        });
        child.on('exit', (code, signal) => {
          live.delete(child);
          if (current) {
            const dir = path.resolve(sweepDir, current.dir);
            const why = `the worker process ${signal ? `was killed by ${signal}` : `exited with code ${code}`} during this run; run the sweep again to resume it from its last checkpoint`;
            recordFailure(dir, new LplrError(why));
            results.set(current.index, { index: current.index, label: current.label, dir, outcome: 'failed', error: why });
          }
          // Replace a worker that died after starting well; one that never got ready would die again.
          if (ready && !stopping && fatal === undefined && queue.length > 0) start();
          else if (!ready && fatal === undefined) fatal = `a worker process exited (${signal ?? `code ${code}`}) before it was ready`;
          if (live.size === 0) resolve();
        });
      };
      for (let i = 0; i < workers; i++) start();
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (fatal !== undefined && !stopped) throw new LplrError(fatal);
  return stopped;
}

/**
 * The worker side (`lplr sweep --worker --out DIR`): read the plan, then run what the parent sends,
 * one at a time, reporting each result. Returns the exit code.
 */
export async function serveSweepWorker(sweepDir: string, ctx: SweepContext, opts: ExecuteOptions = {}): Promise<number> {
  const send = process.send?.bind(process);
  if (!send) throw new ConfigError("--worker is internal: 'lplr sweep --parallel P' starts its workers itself.");
  const plan = readPlan(sweepDir);
  const byIndex = new Map(plan.runs.map((r) => [r.index, r]));
  let running = false;
  let signalled = false;
  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('message', onMessage);
      if (process.connected) process.disconnect();
      resolve(code);
    };
    // A signal while idle ends the worker; while running, runMlp's own handler checkpoints and stops.
    const onSignal = () => {
      signalled = true;
      if (!running) finish(130);
    };
    const requestStop = () => {
      if (signalled) return;
      if (!running) return finish(130);
      signalled = true;
      process.kill(process.pid, 'SIGTERM');
    };
    const onMessage = (m: ToWorker) => {
      if (m.type === 'exit') return finish(0);
      if (m.type === 'stop') return requestStop();
      const spec = byIndex.get(m.index);
      if (!spec) {
        send({ type: 'fatal', message: `the plan in ${sweepDir} has no run ${m.index}; was it replaced while the sweep ran?` } satisfies FromWorker);
        return finish(2);
      }
      running = true;
      attemptRun(sweepDir, spec, ctx, { ...opts, onFailure: 'record' }).then(
        (result) => {
          running = false;
          if (process.connected) send({ type: 'done', result } satisfies FromWorker);
          if (result.outcome === 'stopped' || signalled) finish(130);
        },
        (e: unknown) => {
          running = false;
          if (process.connected) send({ type: 'fatal', message: e instanceof Error ? e.message : String(e) } satisfies FromWorker);
          finish(2);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('message', onMessage);
    // The parent is gone (killed): finish the current run's epoch, checkpoint and stop.
    process.once('disconnect', () => requestStop());
    send({ type: 'ready' } satisfies FromWorker);
  });
}

/** The default launcher: this same CLI entry point with `argv` (e.g. ['sweep', '--worker', ...]). */
export function cliWorkerLauncher(argv: readonly string[]): WorkerLauncher {
  const entry = process.argv[1];
  return () => spawn(process.execPath, [...process.execArgv, entry, ...argv], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

// ---------------------------------------------------------------------------------------------
// Collecting finished runs (for lplr merge)

export interface CollectedRun {
  spec: SweepRunSpec;
  state: RunState;
  detail?: string;
  diverged?: RunStateInfo['diverged'];
  summary?: RunSummary;
}

/** Every planned run's state, with the summary of each complete one. */
export function collectSweep(sweepDir: string, plan: SweepPlan): CollectedRun[] {
  return plan.runs.map((spec) => {
    const dir = path.resolve(sweepDir, spec.dir);
    const info = runState(dir);
    if (info.state !== 'complete') return { spec, ...info };
    try {
      const recorded = readJson<{ configHash?: string }>(path.join(dir, 'config.json')).configHash;
      if (recorded !== spec.hash) return { spec, state: 'failed', detail: `config.json has hash ${recorded}, the plan ${spec.hash}; the directory holds another run` };
      return { spec, state: 'complete', summary: readJson<RunSummary>(path.join(dir, 'summary.json')) };
    } catch (e) {
      return { spec, state: 'failed', detail: e instanceof Error ? e.message : String(e) };
    }
  });
}
