// A run's directory: config.json, metrics.jsonl (streamed: one write() per row, as soon
// as the row exists), summary.json, report.html, checkpoints. JSON files are written
// atomically (temporary file, fsync, rename) so a kill never leaves a torn file.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DataError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { METRICS_SCHEMA_VERSION } from '../../src/metrics/schema.js';

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * What to do about a run file that cannot be parsed. Files are written atomically, so a damaged
 * one was cut or edited outside lplr (a full disk, a copy that stopped, a hand edit); the run
 * that owns it has to be started again.
 */
function damagedRunFileFix(file: string): string {
  const parent = path.dirname(file);
  const inCheckpoints = path.basename(parent) === 'checkpoints';
  const runDir = inCheckpoints ? path.dirname(parent) : parent;
  const again = `start it again: in a sweep, delete ${runDir} and run the same lplr sweep command; otherwise a fresh run with a new --out, or the same --out with --force`;
  return inCheckpoints ? `The run cannot resume from this checkpoint; ${again}.` : `The run directory is damaged; ${again}.`;
}

/**
 * Parse a JSON file of a run or sweep directory. `fix` says what to do when the file is
 * damaged (default: start the run that owns it again).
 */
export function readJson<T>(file: string, fix?: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`Cannot read ${file}: the file is missing. Check the run directory path.`);
    throw new DataError(`Cannot read ${file}: ${(e as Error).message}. Check the file's permissions.`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new DataError(`${file} is damaged: not valid JSON (${(e as Error).message}). ${fix ?? damagedRunFileFix(file)}`);
  }
}

/** Appends one JSON line per row with a single write() each; knows its byte length for checkpoints. */
export class MetricsWriter {
  private fd: number;
  private length: number;

  constructor(readonly file: string, truncateTo?: number) {
    if (truncateTo !== undefined && fs.existsSync(file)) {
      fs.truncateSync(file, truncateTo);
    }
    this.fd = fs.openSync(file, 'a');
    this.length = fs.fstatSync(this.fd).size;
  }

  write(row: object): void {
    const line = Buffer.from(`${JSON.stringify(row)}\n`);
    fs.writeSync(this.fd, line);
    this.length += line.length;
  }

  /** Bytes written so far (what a checkpoint records). */
  get byteLength(): number {
    return this.length;
  }

  sync(): void {
    fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** Parse metrics.jsonl; a torn final line (from a kill mid-write) is ignored, any other bad line is an error. */
export function readMetrics(file: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new DataError(`Cannot read ${file}: no metrics.jsonl there. Is this a run directory?`);
  }
  const lines = text.split('\n');
  const rows: Record<string, unknown>[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line));
    } catch {
      if (i === lines.length - 1) return; // torn last line
      throw new DataError(`${file}:${i + 1} is not a JSON line. The file is corrupt; resume the run to rewrite it.`);
    }
  });
  return rows;
}

/** A run directory being claimed; with --force the previous contents wait aside until the new run has produced something. */
export interface ClaimedRunDir {
  dir: string;
  /** The new run produced work (or finished): delete the previous contents for good. */
  commit(): void;
  /** The new run failed before producing anything: put the previous contents back. */
  rollback(): void;
}

/**
 * Create (or, with force, take over) a run directory. Refuses to overwrite an existing run
 * without force. With force the old contents are moved to a sibling folder rather than
 * deleted, so a run that fails before producing anything (no adapter, bad data) gives the
 * previous run back.
 */
export function claimRunDir(dir: string, force: boolean): ClaimedRunDir {
  const abs = path.resolve(dir);
  let aside: string | undefined;
  if (fs.existsSync(abs)) {
    const entries = fs.readdirSync(abs);
    if (entries.length > 0 && !force) {
      throw new ConfigError(`Output directory ${dir} already exists and is not empty. Choose another --out, or add --force to overwrite it.`);
    }
    if (entries.length > 0) {
      aside = `${abs}.replaced-${process.pid}-${Date.now()}`;
      fs.renameSync(abs, aside);
    }
  }
  fs.mkdirSync(abs, { recursive: true });
  return {
    dir: abs,
    commit() {
      if (aside) fs.rmSync(aside, { recursive: true, force: true });
      aside = undefined;
    },
    rollback() {
      if (!aside) return;
      fs.rmSync(abs, { recursive: true, force: true });
      fs.renameSync(aside, abs);
      aside = undefined;
    },
  };
}

/** Create (or, with force, empty) a run directory at once. Refuses to overwrite an existing run. */
export function prepareRunDir(dir: string, force: boolean): string {
  const claim = claimRunDir(dir, force);
  claim.commit();
  return claim.dir;
}

/**
 * Create and return a new directory `root/<experiment>-<yyyymmdd-hhmmss>` (`-2`, `-3`, ... when
 * taken). The name is claimed by mkdir itself, which fails with EEXIST if another process got it
 * first, so two runs started in the same second never share a directory.
 */
export function defaultRunDir(experiment: string, root = 'runs', now: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  const fail = (e: unknown, dir: string) => new ConfigError(`Cannot create the run directory ${dir}: ${(e as Error).message}. Give --out DIR in a writable place.`);
  try {
    fs.mkdirSync(root, { recursive: true });
  } catch (e) {
    throw fail(e, root);
  }
  for (let i = 1; ; i++) {
    const dir = path.join(root, i === 1 ? `${experiment}-${stamp}` : `${experiment}-${stamp}-${i}`);
    try {
      fs.mkdirSync(dir); // not recursive: EEXIST when the name is taken
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fail(e, dir);
    }
  }
}

/** Stable JSON (sorted keys) for hashing configs. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function configHash(identity: unknown): string {
  return createHash('sha256').update(canonicalJson(identity)).digest('hex').slice(0, 16);
}

/** The lplr package root (works from the sources and from the dist/ bundle). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'lplr') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

export function packageVersion(): string {
  try {
    return String(JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

/** The git commit of the working tree, if any (no git binary needed). */
export function gitCommit(start = process.cwd()): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    const head = path.join(dir, '.git', 'HEAD');
    if (fs.existsSync(head)) {
      const ref = fs.readFileSync(head, 'utf8').trim();
      if (!ref.startsWith('ref:')) return ref;
      const refPath = path.join(dir, '.git', ref.slice(5).trim());
      if (fs.existsSync(refPath)) return fs.readFileSync(refPath, 'utf8').trim();
      const packed = path.join(dir, '.git', 'packed-refs');
      if (fs.existsSync(packed)) {
        const line = fs.readFileSync(packed, 'utf8').split('\n').find((l) => l.endsWith(ref.slice(5).trim()));
        if (line) return line.split(' ')[0];
      }
      return undefined;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * A run's config.json: what ran (experiment, config and its hash) and where (adapter, limits,
 * features, the kernels chosen per shape class, engine version and commit), plus `extra`.
 */
export function describeRun(rt: Runtime, experiment: string, config: unknown, hash: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    experiment,
    config,
    configHash: hash,
    metricsSchemaVersion: METRICS_SCHEMA_VERSION,
    adapter: rt.ctx.info,
    limits: rt.ctx.limits,
    features: rt.ctx.features,
    kernels: Object.fromEntries(rt.kernelChoices),
    version: packageVersion(),
    gitCommit: gitCommit(),
    node: process.version,
    startedAt: new Date().toISOString(),
    ...extra,
  };
}
