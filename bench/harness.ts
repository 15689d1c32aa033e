// Shared benchmark machinery: warm-up, median of >= 5 trials, timing by GPU timestamp
// queries where the adapter has them (first kernel's begin to last kernel's end, so copies
// between kernels count) and wall time around `rt.sync()` otherwise; result records that
// serialize to JSON; aligned tables with ratio columns.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, LplrError } from '../src/errors.js';
import { Profiler } from '../src/gpu/profiler.js';
import type { Runtime } from '../src/gpu/runtime.js';
import { randomUniform } from '../src/ops/random.js';
import type { Tensor } from '../src/tensor.js';
import { packageRoot, packageVersion } from '../harness/run/run-dir.js';

export type Timing = 'timestamps' | 'wall';

export interface TimingOptions {
  warmup: number;
  trials: number;
  /** Skip a case whose single warm-up run takes longer than this (seconds); 0 = never. */
  maxRunS: number;
  /** 'auto': timestamps where available. Whole training steps use 'wall' (their CPU work is part of the step). */
  timing?: 'auto' | Timing;
  /** Under wall timing, repeat the work inside a trial until it lasts about this long (ms). */
  minTrialMs?: number;
  /** Told about each measured cell as soon as it is done (progress of a long benchmark). */
  onCell?: (cell: Cell) => void;
}

export interface Measurement {
  /** Median milliseconds of one run of the work. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Per-run milliseconds of each trial. */
  trialsMs: number[];
  /** Runs of the work per trial (wall timing of short work). */
  repeats: number;
  timing: Timing;
}

/** A case that was not measured, with the reason (printed, never hidden). */
export class BenchSkip extends LplrError {}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function timingFor(rt: Runtime, requested: TimingOptions['timing']): Timing {
  if (requested === 'wall') return 'wall';
  if (requested === 'timestamps' && !rt.ctx.hasTimestamps) throw new ConfigError("The adapter has no 'timestamp-query' feature; use wall timing.");
  return rt.ctx.hasTimestamps ? 'timestamps' : 'wall';
}

/**
 * Time `run` (which encodes GPU work and may await): one or more warm-up runs, then
 * `trials` timed trials; the median is the result.
 */
export async function measure(rt: Runtime, run: () => void | Promise<void>, opts: TimingOptions): Promise<Measurement> {
  if (opts.trials < 5) throw new ConfigError(`A benchmark needs at least 5 trials for a median, got --trials ${opts.trials}.`);
  const timing = timingFor(rt, opts.timing);
  await rt.sync();
  // The first warm-up also compiles pipelines; it decides whether the case fits the budget.
  // The repeat count below comes from the last warm-up, so there are at least two: one run
  // that includes compiling would make short work look long and be timed one run per sync.
  let warmMs = 0;
  for (let i = 0; i < Math.max(2, opts.warmup); i++) {
    const t0 = performance.now();
    await run();
    await rt.sync();
    warmMs = performance.now() - t0;
    if (i === 0 && opts.maxRunS > 0 && warmMs > opts.maxRunS * 1000) {
      throw new BenchSkip(`one run took ${(warmMs / 1000).toFixed(1)} s, over --max-run-s ${opts.maxRunS}`);
    }
  }
  const trialsMs: number[] = [];
  let repeats = 1;
  if (timing === 'timestamps') {
    const profiler = new Profiler(rt, { mode: 'timestamps' });
    try {
      for (let t = 0; t < opts.trials; t++) {
        const step = await profiler.profileStep(run);
        trialsMs.push(step.spanMs ?? step.kernelMs);
      }
    } finally {
      profiler.detach();
    }
  } else {
    // Short work is repeated so that the sync latency is a small part of a trial.
    const minTrial = opts.minTrialMs ?? 20;
    repeats = warmMs > 0 && warmMs < minTrial ? Math.min(100, Math.ceil(minTrial / warmMs)) : 1;
    for (let t = 0; t < opts.trials; t++) {
      await rt.sync();
      const t0 = performance.now();
      for (let r = 0; r < repeats; r++) await run();
      await rt.sync();
      trialsMs.push((performance.now() - t0) / repeats);
    }
  }
  return { medianMs: median(trialsMs), minMs: Math.min(...trialsMs), maxMs: Math.max(...trialsMs), trialsMs, repeats, timing };
}

// ------------------------------------------------------------------ results

export type CellStatus = 'ok' | 'skipped' | 'unavailable' | 'failed' | 'invalid';

/** One implementation's result on one case. */
export interface Cell {
  impl: string;
  status: CellStatus;
  /** In the benchmark's unit (GFLOP/s, GB/s, images/s, ...). */
  value: number | null;
  medianMs: number | null;
  trialsMs?: number[];
  timing?: Timing | 'wall (peer process)';
  note?: string;
}

export interface TargetCheck {
  name: string;
  met: boolean | null;
  detail: string;
}

export interface CaseResult {
  case: string;
  params: Record<string, number | string | boolean>;
  cells: Cell[];
  /** name → value, e.g. 'register/naive': 3.1 (null when a side is missing). */
  ratios: Record<string, number | null>;
  targets?: TargetCheck[];
  /** Further columns for the table (e.g. ms per step), already formatted. */
  extras?: Record<string, string>;
}

export interface PeerInfo {
  name: string;
  status: 'ok' | 'unavailable' | 'failed' | 'invalid' | 'skipped';
  detail: string;
  info?: Record<string, unknown>;
}

export interface BenchResult {
  bench: string;
  unit: string;
  timing: Timing;
  /** Which work the unit counts, how cells were measured. */
  method: string;
  cases: CaseResult[];
  peers: PeerInfo[];
  notes: string[];
}

export interface BenchReport {
  lplr: string;
  date: string;
  node: string;
  adapter: Runtime['ctx']['info'];
  timestampQuery: boolean;
  benches: BenchResult[];
}

export function okCell(impl: string, value: number, m: Measurement, note?: string): Cell {
  return { impl, status: 'ok', value, medianMs: m.medianMs, trialsMs: m.trialsMs, timing: m.timing, ...(note ? { note } : {}) };
}

export function missingCell(impl: string, status: Exclude<CellStatus, 'ok'>, note: string): Cell {
  return { impl, status, value: null, medianMs: null, note };
}

/** Measure one implementation into a cell; a BenchSkip or a GPU failure becomes a cell that says so. */
export async function measureCell(
  rt: Runtime,
  impl: string,
  work: number,
  run: () => void | Promise<void>,
  opts: TimingOptions,
  setup?: { dispose(): void },
): Promise<Cell> {
  let cell: Cell;
  try {
    const m = await measure(rt, run, opts);
    cell = okCell(impl, work / (m.medianMs * 1e6), m);
  } catch (err) {
    if (err instanceof BenchSkip) cell = missingCell(impl, 'skipped', err.message);
    else if (err instanceof LplrError) cell = missingCell(impl, 'failed', err.message);
    else throw err;
  } finally {
    setup?.dispose();
  }
  opts.onCell?.(cell);
  return cell;
}

export function cellValue(c: CaseResult, impl: string): number | null {
  return c.cells.find((x) => x.impl === impl && x.status === 'ok')?.value ?? null;
}

export function ratio(a: number | null, b: number | null): number | null {
  return a !== null && b !== null && b > 0 ? a / b : null;
}

/** The best engine value among `impls` (e.g. every matmul variant but the naive one). */
export function best(c: CaseResult, impls: readonly string[]): { impl: string; value: number } | null {
  let out: { impl: string; value: number } | null = null;
  for (const impl of impls) {
    const v = cellValue(c, impl);
    if (v !== null && (!out || v > out.value)) out = { impl, value: v };
  }
  return out;
}

// ------------------------------------------------------------------ output

export function fmtValue(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

export function fmtRatio(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}x`;
}

/** Aligned text table; the first column left-aligned, the others right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === 0 ? (c ?? '').padEnd(widths[i]) : (c ?? '').padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function cellText(c: Cell | undefined): string {
  if (!c) return '-';
  if (c.status === 'ok') return fmtValue(c.value);
  return c.status === 'invalid' ? `${fmtValue(c.value)}*` : c.status;
}

/** One row per case, one column per implementation, then the ratio columns; notes below. */
export function formatBench(b: BenchResult): string {
  const impls: string[] = [];
  for (const c of b.cases) for (const cell of c.cells) if (!impls.includes(cell.impl)) impls.push(cell.impl);
  const ratioNames: string[] = [];
  for (const c of b.cases) for (const r of Object.keys(c.ratios)) if (!ratioNames.includes(r)) ratioNames.push(r);
  const extraNames: string[] = [];
  for (const c of b.cases) for (const e of Object.keys(c.extras ?? {})) if (!extraNames.includes(e)) extraNames.push(e);
  const header = ['case', ...impls, ...ratioNames, ...extraNames];
  const rows = b.cases.map((c) => [
    c.case,
    ...impls.map((i) => cellText(c.cells.find((x) => x.impl === i))),
    ...ratioNames.map((r) => fmtRatio(c.ratios[r])),
    ...extraNames.map((e) => c.extras?.[e] ?? '-'),
  ]);
  const out = [`== ${b.bench} (${b.unit}; ${b.method}; timing: ${b.timing === 'timestamps' ? 'GPU timestamps' : 'wall time around sync'}) ==`, formatTable(header, rows)];
  const misses: string[] = [];
  // A peer's own line already says why all its cells are missing.
  const peerDetails = new Set(b.peers.map((p) => p.detail));
  // The same reason for the same implementation on several cases is listed once.
  const unmeasured = new Map<string, string[]>();
  for (const c of b.cases) {
    // Met targets are counted in the notes; misses and unmeasured targets are listed.
    for (const t of c.targets ?? []) if (t.met !== true) misses.push(`  ${t.met === null ? 'n/a ' : 'MISS'} ${c.case}: ${t.name} (${t.detail})`);
    for (const cell of c.cells) {
      if (cell.status === 'ok' || !cell.note || peerDetails.has(cell.note)) continue;
      const key = `${cell.impl}: ${cell.status}: ${cell.note}`;
      unmeasured.set(key, [...(unmeasured.get(key) ?? []), c.case]);
    }
  }
  for (const [key, cases] of unmeasured) misses.push(`  ${cases.length === 1 ? cases[0] : `${cases.length} cases`} / ${key}`);
  if (misses.length) out.push('missed targets and cells not measured:', ...misses);
  for (const p of b.peers) out.push(`peer ${p.name}: ${p.status}: ${p.detail}`);
  for (const n of b.notes) out.push(`note: ${n}`);
  return out.join('\n');
}

export function makeReport(rt: Runtime, benches: BenchResult[]): BenchReport {
  return {
    lplr: packageVersion(),
    date: new Date().toISOString(),
    node: process.version,
    adapter: rt.ctx.info,
    timestampQuery: rt.ctx.hasTimestamps,
    benches,
  };
}

/** The `lplr` command to run a child process with (peer benchmarks run in their own process). */
export function lplrCommand(): string[] {
  const root = packageRoot();
  const bin = path.join(root, 'bin', 'lplr.mjs');
  if (fs.existsSync(bin)) return [process.execPath, bin];
  return [process.execPath, path.join(root, 'dist', 'cli.js')];
}

/** GFLOP/s from FLOPs and milliseconds. */
export function gflops(flops: number, ms: number): number {
  return flops / (ms * 1e6);
}

/** A GPU-filled tensor of uniforms in [0, 1) (no large CPU arrays for big benchmark operands). */
export function randomTensor(rt: Runtime, shape: readonly number[], seed: number): Tensor {
  return randomUniform(shape, { key: [seed >>> 0, 0x6c706c72], counter: [0, 0] }, rt).keep();
}
