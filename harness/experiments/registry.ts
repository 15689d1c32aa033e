// The experiments `lplr run NAME` knows. Each resolves and validates its config before a
// device exists (prepare), then runs into its directory (run).
import * as path from 'node:path';
import { ConfigError, DataError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { summarizeRun, type RunSummary, type SummaryConfig } from '../analysis/summary.js';
import { withoutRetiredThresholds, type Verdict, type VerdictThresholds } from '../analysis/verdicts.js';
import type { MetricRow } from '../../src/metrics/schema.js';
import type { OptionSpec, ParsedArgs } from '../options/args.js';
import type { Progress } from '../run/progress.js';
import { configHash, describeRun, readJson, readMetrics, writeJsonAtomic } from '../run/run-dir.js';
import { copyRun } from '../run/grid.js';
import { ensureRun, executeSweep, parseSeeds, runSpec, type SweepRunSpec } from '../run/sweep.js';
import { writeIndexReport, writeMlpReport, writeSeedSetReport, writeSetReport, type IndexEntry, type SetRun } from '../run/reports.js';
import type { VerdictLine } from '../cli/summary-lines.js';
import { buildSeedSetSummary, SEED_SET_KINDS, seedSetHeadline, setVerdictWord, type PerSeedVerdicts, type SeedMember, type SeedSetKind, type SeedSetSummary } from './seed-set.js';
import { mlpIdentity, mlpSummaryConfig, type MlpRunConfig } from './mlp-config.js';
import { FIG1, FIG2, FIG4, FIG5, figure, figureOptions, SET_FIGURES, setFigure, type SetMlpFigure, type SetParams } from './figures.js';
import { rejudgeRun, resolveMlpConfigWithFiles } from './mlp-lab.js';
import { type RunMlpOptions } from './mlp-lab.js';
import { fig3 } from './cifar-lab.js';
import { ntkExperiment, theoryMeasure } from './ntk.js';
import { withLinearized } from './linearized.js';
import { linearizedSetSummary } from './linearized-node.js';
import * as fs from 'node:fs';

export type { Experiment, ExperimentContext, ExperimentResult } from './experiment.js';
import type { Experiment, ExperimentContext, ExperimentResult } from './experiment.js';

function fmtRate(s: RunSummary): string {
  const f = s.lStar.min.semiLog;
  const r = s.rate;
  const n = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : '?');
  const primary = s.lStar[s.primary];
  // Two short lines: the measurement, then the L* it used beside the paper's reading.
  return (
    `rate of ‖∇L‖² ${n(r?.middle.rate ?? NaN, 4)} → ${n(r?.last.rate ?? NaN, 4)} per epoch (q ${n(r?.q ?? NaN, 2)})\n` +
    `L* = ${s.primary} ${primary ? primary.lStar.toExponential(3) : '?'}; L* = min (paper): ρ ${n(f.rho, 5)}, R² ${n(f.r2, 3)}, not judged`
  );
}

/**
 * Run one MLP configuration in `dir`: skip it when complete, continue it from its
 * checkpoint when resuming, copy a matching completed run found elsewhere (reuse), or train.
 */
async function runOrReuse(
  ctx: ExperimentContext,
  config: MlpRunConfig,
  dir: string,
  title: string,
  opts: { reuse?: boolean; measure?: RunMlpOptions['measure'] } = {},
): Promise<{ rows: MetricRow[]; summary: RunSummary; reused?: string }> {
  const res = await ensureRun(
    // --ntk-every k adds the theory checks (ntk/hessian rows) to any MLP run.
    { runtime: async () => ctx.rt, progress: ctx.progress, runOptions: ctx.runOptions, measureFor: withLinearized(theoryMeasure), resume: Boolean(ctx.resume), reuseRoots: ctx.reuseRoots },
    config,
    dir,
    title,
    opts,
  );
  return { rows: res.rows, summary: rejudgeRun(dir, config, res.rows, res.summary, title), reused: res.reusedFrom };
}

const FIG1_TITLE = FIG1.title;
const FIG2_TITLE = FIG2.title;

function fig1Headline(s: RunSummary): string {
  return `final loss ${s.final.loss.toExponential(4)}; ${fmtRate(s)}${linearizedHeadline(s)}`;
}

function fig2Headline(s: RunSummary): string {
  const a = s.lStar[s.primary] ?? s.lStar.zero;
  const ll = a.logLog;
  return `μ_t ratio (last/middle third) ${a.pl.ratio.toFixed(3)} with L* = ${s.primary}; log-log slope ${ll.slope.toFixed(3)} (R² ${ll.r2.toFixed(3)}, reported)${linearizedHeadline(s)}`;
}

/** With --linearized, a second line: how long the kernel regime held and the verdict the kernel predicts. */
function linearizedHeadline(s: RunSummary): string {
  const l = s.linearized;
  if (!l) return '';
  const held = l.tStar === null ? 'off by > 10 % from epoch 0' : `t* = ${l.tStar}${l.holdsThroughout ? ' (throughout)' : ''}`;
  const kernel = l.kernelRate ? `; rate rule on the kernel's ‖∇L‖²: ${l.kernelRate.reading} (q ${l.kernelRate.q.toFixed(3)})` : '';
  return `\nlinearized (K₀ on ${l.samples} samples): ${held}, largest deviation ${(100 * l.largestDeviation).toFixed(1)} %, η·λ_max ${l.etaLambdaMax.toFixed(3)}${kernel}`;
}

/** `lplr run --help`'s line: "Figure 1: " and the figure's description. */
function cliDescription(f: { name: string; description: string }): string {
  return `Figure ${f.name.slice(3)}: ${f.description}`;
}

const fig1: Experiment<MlpRunConfig> = {
  name: FIG1.name,
  description: cliDescription(FIG1),
  options: figureOptions(FIG1, 'cli'),
  prepare: (args) => resolveMlpConfigWithFiles(args),
  async run(ctx, config) {
    const res = await runOrReuse(ctx, config, ctx.dir, FIG1_TITLE, { reuse: false });
    return { headline: fig1Headline(res.summary), summary: res.summary, verdicts: res.summary.verdicts };
  },
};

interface Fig2Prepared {
  from?: string;
  config: MlpRunConfig;
}

const fig2: Experiment<Fig2Prepared> = {
  name: FIG2.name,
  description: cliDescription(FIG2),
  options: figureOptions(FIG2, 'cli'),
  prepare(args) {
    const from = args.values.from as string | undefined;
    if (from && !fs.existsSync(path.join(from, 'metrics.jsonl'))) {
      throw new ConfigError(`--from ${from}: no metrics.jsonl there. Point it at a finished 'lplr run fig1' directory.`);
    }
    return { from, config: resolveMlpConfigWithFiles(args) };
  },
  needsGpu: (p) => !p.from,
  async run(ctx, p) {
    let rows: MetricRow[];
    let config = p.config;
    if (p.from) {
      rows = readMetrics(path.join(p.from, 'metrics.jsonl')) as MetricRow[];
      const srcConfig = readJson<{ config?: MlpRunConfig }>(path.join(p.from, 'config.json')).config;
      // This invocation's fit window (when given) and thresholds judge the copied run.
      if (srcConfig) config = { ...srcConfig, fitWindow: p.config.fitWindow ?? srcConfig.fitWindow, thresholds: p.config.thresholds };
      copyRun(p.from, ctx.dir);
      // The copy states the thresholds its new verdicts use (they are outside the hash; a changed
      // fit window is not recorded, since the window is part of the copied run's hash).
      const cfgFile = path.join(ctx.dir, 'config.json');
      if (srcConfig) writeJsonAtomic(cfgFile, { ...readJson<Record<string, unknown>>(cfgFile), config: { ...srcConfig, thresholds: p.config.thresholds } });
    } else {
      rows = (await runOrReuse(ctx, config, ctx.dir, 'Figure 2 — local PL check', { reuse: false })).rows;
    }
    const summary = summarizeRun(rows, mlpSummaryConfig(config));
    writeJsonAtomic(path.join(ctx.dir, 'summary.json'), summary);
    writeMlpReport(ctx.dir, FIG2_TITLE, config, rows, summary, { focus: 'fig2' });
    return { headline: fig2Headline(summary), summary, verdicts: summary.verdicts };
  },
};

function subRun(base: MlpRunConfig, index: number, label: string, patch: Partial<MlpRunConfig>, point: Record<string, unknown>): SweepRunSpec {
  return runSpec(index, label, { ...base, ...patch }, point);
}

/** The set experiments (figures.ts's set figures): built-in sweeps whose directory holds runs/<label>-<hash>/ per member. */
export type SetKind = 'fig4' | 'fig5';

/**
 * The set's own config.json, written before its runs start: the base config, the members
 * (label, directory, config hash) and, via describeRun, the adapter, kernels and version.
 * Its hash covers the experiment and every member, so it never equals a single run's hash
 * (run reuse looks runs up by that hash).
 */
function writeSetConfig(ctx: ExperimentContext, kind: SetKind, base: MlpRunConfig, runs: readonly SweepRunSpec[], extra: Record<string, unknown> = {}): void {
  const members = runs.map((r) => ({ label: r.label, dir: r.dir, configHash: r.hash, point: r.point }));
  const hash = configHash({ experiment: kind, base: mlpIdentity(base), members: members.map((m) => m.configHash) });
  writeJsonAtomic(path.join(ctx.dir, 'config.json'), describeRun(ctx.rt, kind, base, hash, { ...extra, runs: members }));
}

/**
 * fig4 and fig5 are built-in sweeps: the executor of lplr sweep (runs/<label>-<hash>, complete
 * runs skipped, matching runs elsewhere reused), here in this process, stopping at the first error.
 */
async function runSet(ctx: ExperimentContext, runs: SweepRunSpec[]): Promise<SetRun[]> {
  const dirs = new Map(runs.map((r) => [r.label, path.join(ctx.dir, r.dir)]));
  await executeSweep(
    ctx.dir,
    runs,
    {
      runtime: async () => ctx.rt,
      progress: (label) => {
        ctx.progress.log(`run ${label} → ${dirs.get(label)}`);
        return ctx.progress;
      },
      runOptions: ctx.runOptions,
      measureFor: withLinearized(theoryMeasure),
      reuseRoots: ctx.reuseRoots,
    },
    { resume: Boolean(ctx.resume), onFailure: 'throw' },
  );
  return runs.map((r) => {
    const dir = path.resolve(ctx.dir, r.dir);
    const rows = readMetrics(path.join(dir, 'metrics.jsonl')) as MetricRow[];
    return { label: r.label, dir, config: r.config, rows, summary: rejudgeRun(dir, r.config, rows, readJson<RunSummary>(path.join(dir, 'summary.json')), r.label) };
  });
}

/** summary.json of fig4 or fig5 (the member fields common to both, as the headlines read them). */
export interface SetSummary {
  experiment: SetKind;
  runs: { label?: string; width?: number; rho: number; finalLoss: number; dir: string }[];
  verdicts: Verdict[];
}

/** Write a set's summary.json and report.html from its finished member runs. */
export function finishSet(kind: SetKind, dir: string, results: SetRun[]): { summary: SetSummary; headline: string; verdicts: Verdict[] } {
  const spec = setFigure(kind);
  // The members' summaries carry the thresholds of this set (rejudgeRun, or a rebuild's overrides).
  const members = results.map((r) => ({ label: r.label, width: r.config.width, seed: r.config.seed, summary: r.summary, dir: path.relative(dir, r.dir) }));
  const verdicts = spec.judge(members, results[0]?.summary.thresholds);
  const { thresholds, ...fields } = spec.summary(members, verdicts);
  const summary = { experiment: kind, ...fields, verdicts, ...(thresholds !== undefined ? { thresholds } : {}), ...linearizedSetSummary(kind, results) };
  writeJsonAtomic(path.join(dir, 'summary.json'), summary);
  writeSetReport(dir, kind, spec.title, results, verdicts);
  return { summary: summary as unknown as SetSummary, headline: spec.headline(summary), verdicts };
}

/** fig4, fig5 as `lplr run` experiments: the figure's members of one base configuration, run as a set. */
function setExperiment(spec: SetMlpFigure): Experiment<{ base: MlpRunConfig; params: SetParams }> {
  return {
    name: spec.name,
    description: cliDescription(spec),
    options: figureOptions(spec, 'cli'),
    prepare: (args) => {
      const params = spec.params(args);
      return { base: resolveMlpConfigWithFiles(args), params };
    },
    async run(ctx, { base, params }) {
      const runs = spec.members(base, params).map((m, i) => subRun(base, i, m.label, m.patch, m.point));
      writeSetConfig(ctx, spec.name as SetKind, base, runs, { ...params });
      return finishSet(spec.name as SetKind, ctx.dir, await runSet(ctx, runs));
    },
  };
}

const fig4 = setExperiment(FIG4);
const fig5 = setExperiment(FIG5);

/** The parts of `lplr run all`, each in the sub-directory of its name. */
const ALL_PARTS = [FIG1, FIG2, FIG4, FIG5].map((f) => ({ name: f.name, title: f.title }));

/** The verdicts an index shows for a part: a single run's epoch-level ones, a set's own. */
function headlineVerdicts(summary: { verdicts?: Verdict[] }, single: boolean): Verdict[] {
  const verdicts = summary.verdicts ?? [];
  return single ? verdicts.filter((v) => !v.name.includes('smoothed')) : verdicts;
}

/** report.html of an `all` directory: each part's headline and verdicts, linked to its report. */
export function writeAllIndex(dir: string, parts: Record<string, { headline: string; summary: unknown }>, config?: unknown): string {
  const entries: IndexEntry[] = ALL_PARTS.filter((p) => parts[p.name]).map((p) => ({
    id: p.name,
    title: p.title,
    href: `${p.name}/report.html`,
    headline: parts[p.name].headline,
    verdicts: headlineVerdicts(parts[p.name].summary as { verdicts?: Verdict[] }, p.name === 'fig1' || p.name === 'fig2'),
  }));
  return writeIndexReport(dir, 'Figures 1, 2, 4 and 5 — lplr run all', entries, config);
}

const all: Experiment<{ base: MlpRunConfig; params: SetParams }> = {
  name: 'all',
  description: 'fig1, fig2, fig4 and fig5 in sub-directories of one run directory (runs are reused across them).',
  options: figureOptions(FIG5, 'cli'),
  prepare: fig5.prepare,
  async run(ctx, p) {
    const widths = p.params.widths;
    const hash = configHash({ experiment: 'all', base: mlpIdentity(p.base), widths });
    writeJsonAtomic(path.join(ctx.dir, 'config.json'), describeRun(ctx.rt, 'all', p.base, hash, { widths, parts: ALL_PARTS.map((x) => x.name) }));
    const sub = (name: string) => {
      const dir = path.join(ctx.dir, name);
      fs.mkdirSync(dir, { recursive: true });
      return { ...ctx, dir, reuseRoots: [ctx.dir, ...ctx.reuseRoots] };
    };
    const results: Record<string, ExperimentResult> = {
      fig1: await fig1.run(sub('fig1'), p.base),
      fig2: await fig2.run(sub('fig2'), { from: path.join(ctx.dir, 'fig1'), config: p.base }),
      fig4: await fig4.run(sub('fig4'), { base: p.base, params: {} }),
      fig5: await fig5.run(sub('fig5'), p),
    };
    const summaries = Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.summary]));
    writeJsonAtomic(path.join(ctx.dir, 'summary.json'), summaries);
    writeAllIndex(ctx.dir, results, { experiment: 'all', config: p.base, widths });
    // Each part's headline verdicts (as on the index page), named by part.
    const verdicts = Object.entries(results).flatMap(([k, r]) =>
      headlineVerdicts({ verdicts: [...(r.verdicts ?? [])] }, k === 'fig1' || k === 'fig2').map((v) => ({ ...v, name: `${k}: ${v.name}` })),
    );
    return { headline: Object.entries(results).map(([k, r]) => `${k}: ${r.headline}`).join('\n'), summary: summaries, verdicts };
  },
};

/**
 * Rebuild a set directory (fig4, fig5) from its files, as `lplr report` does: each member's
 * summary.json and report.html from its metrics.jsonl (`fitWindow` overrides the runs' own),
 * then the set's summary.json and report.html. Returns the reports written.
 */
export function rebuildSet(dir: string, kind: SetKind, overrides: Pick<SummaryConfig, 'fitWindow' | 'thresholds'> = {}): { headline: string; summary: SetSummary; reports: string[] } {
  const members = setMembers(dir, kind);
  const reports: string[] = [];
  const results: SetRun[] = members.map((m) => {
    const runDir = path.resolve(dir, m.dir);
    const config = readJson<{ config: MlpRunConfig }>(path.join(runDir, 'config.json')).config;
    const rows = readMetrics(path.join(runDir, 'metrics.jsonl')) as MetricRow[];
    const summary = summarizeRun(rows, { ...mlpSummaryConfig(config), fitWindow: overrides.fitWindow ?? config.fitWindow, thresholds: overrides.thresholds ?? recordedThresholds(config) });
    writeJsonAtomic(path.join(runDir, 'summary.json'), summary);
    reports.push(writeMlpReport(runDir, `${setFigure(kind).title}: run ${m.label}`, config, rows, summary));
    return { label: m.label, dir: runDir, config, rows, summary };
  });
  const { summary, headline } = finishSet(kind, dir, results);
  return { headline, summary, reports: [...reports, path.join(dir, 'report.html')] };
}

/** The verdict thresholds a run's config.json recorded (runs written before they were recorded have none). */
function recordedThresholds(config: MlpRunConfig | undefined): Partial<VerdictThresholds> | undefined {
  // A config recorded under the retired R²/slope rules still names their thresholds: drop them.
  return withoutRetiredThresholds((config as { thresholds?: Record<string, unknown> } | undefined)?.thresholds);
}

/** The member runs of a set directory: from its config.json, or (older sets) its summary.json. */
function setMembers(dir: string, kind: SetKind): { label: string; dir: string }[] {
  const cfgFile = path.join(dir, 'config.json');
  const fromConfig = fs.existsSync(cfgFile) ? readJson<{ runs?: { label: string; dir: string }[] }>(cfgFile).runs : undefined;
  const listed = fromConfig ?? readJson<{ runs?: { label?: string; width?: number; dir: string }[] }>(path.join(dir, 'summary.json')).runs?.map((r) => ({ label: r.label ?? `w${r.width}`, dir: r.dir }));
  if (!listed || listed.length === 0) throw new DataError(`${dir} lists no runs of its ${kind} set in config.json or summary.json. Re-run 'lplr run ${kind}' into a new --out.`);
  for (const m of listed) {
    if (!fs.existsSync(path.join(dir, m.dir, 'metrics.jsonl'))) throw new DataError(`${path.join(dir, m.dir)} has no metrics.jsonl: the ${kind} set is incomplete. Finish it with 'lplr resume ${dir}'.`);
  }
  return listed;
}

/** What kind of directory `lplr report` was given, from its files. */
export function directoryKind(dir: string): 'run' | SetKind | 'seeds' | 'all' | undefined {
  if (fs.existsSync(path.join(dir, 'metrics.jsonl'))) return 'run';
  if (isSeedSetDir(dir)) return 'seeds';
  const recorded = (file: string): unknown => {
    try {
      return readJson<{ experiment?: unknown }>(path.join(dir, file)).experiment;
    } catch {
      return undefined;
    }
  };
  const experiment = recorded('config.json') ?? recorded('summary.json');
  if (SET_FIGURES.some((f) => f.name === experiment) && fs.existsSync(path.join(dir, 'runs'))) return experiment as SetKind;
  // `all` before its own config.json existed: summary.json keyed by part, one sub-directory each.
  if (experiment === 'all' || (fs.existsSync(path.join(dir, 'fig1', 'metrics.jsonl')) && fs.existsSync(path.join(dir, 'fig4')))) return 'all';
  return undefined;
}

/** Rebuild an `all` directory: fig1 and fig2 as single runs, fig4 and fig5 as sets, then the index. */
export function rebuildAll(dir: string, overrides: Pick<SummaryConfig, 'fitWindow' | 'thresholds'> = {}): { headline: string; reports: string[] } {
  const reports: string[] = [];
  const parts: Record<string, { headline: string; summary: unknown }> = {};
  for (const name of ['fig1', 'fig2'] as const) {
    const sub = path.join(dir, name);
    if (!fs.existsSync(path.join(sub, 'metrics.jsonl'))) continue;
    const config = readJson<{ config?: MlpRunConfig }>(path.join(sub, 'config.json')).config;
    const rows = readMetrics(path.join(sub, 'metrics.jsonl')) as MetricRow[];
    const summary = summarizeRun(rows, { ...mlpSummaryConfig(config), fitWindow: overrides.fitWindow ?? config?.fitWindow, thresholds: overrides.thresholds ?? recordedThresholds(config) });
    writeJsonAtomic(path.join(sub, 'summary.json'), summary);
    reports.push(writeMlpReport(sub, name === 'fig1' ? FIG1_TITLE : FIG2_TITLE, config, rows, summary, name === 'fig2' ? { focus: 'fig2' } : {}));
    parts[name] = { headline: name === 'fig1' ? fig1Headline(summary) : fig2Headline(summary), summary };
  }
  for (const name of ['fig4', 'fig5'] as const) {
    const sub = path.join(dir, name);
    if (directoryKind(sub) !== name) continue;
    const res = rebuildSet(sub, name, overrides);
    reports.push(...res.reports);
    parts[name] = { headline: res.headline, summary: res.summary };
  }
  if (Object.keys(parts).length === 0) throw new DataError(`${dir} has none of fig1, fig2, fig4, fig5 finished. Finish it with 'lplr resume ${dir}'.`);
  writeJsonAtomic(path.join(dir, 'summary.json'), Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.summary])));
  const cfgFile = path.join(dir, 'config.json');
  const config = fs.existsSync(cfgFile) ? readJson<Record<string, unknown>>(cfgFile) : undefined;
  reports.push(writeAllIndex(dir, parts, config && { experiment: 'all', config: config.config, widths: config.widths }));
  return { headline: Object.entries(parts).map(([k, v]) => `${k}: ${v.headline}`).join('\n'), reports };
}

/**
 * Tell the experiment's progress which adapter it runs on before it starts, so that a machine
 * with no measured throughput yet still gets a (rough, labelled) ETA up front.
 */
function withAdapterEta<P>(e: Experiment<P>): Experiment<P> {
  return {
    ...e,
    run(ctx, prepared) {
      // No runtime when the experiment needs no GPU (e.g. fig2 --from).
      if (ctx.rt) ctx.progress.setAdapter?.(ctx.rt.ctx.info);
      return e.run(ctx, prepared);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Seed sets: --seeds on fig1, fig2, fig4 and fig5 runs the configuration once per seed, as the
// members of a set (runs/<label>-<hash>/, the executor of lplr sweep: complete runs skipped,
// matching runs elsewhere reused), judged per seed and then as "k of n seeds".

export const SEEDS_OPTION: OptionSpec = {
  name: 'seeds',
  type: 'string',
  placeholder: 'LIST',
  help: 'run once per seed (e.g. 0-4 or 0,3,7): median curves with a min–max band, each verdict as k of n seeds; not with --seed',
};

/** The seeds of --seeds, or undefined without it; --seed beside it is refused. */
export function seedsFromArgs(args: ParsedArgs): number[] | undefined {
  if (!args.given.has('seeds')) return undefined;
  if (args.given.has('seed')) {
    throw new ConfigError(`--seeds ${String(args.values.seeds)} and --seed ${String(args.values.seed)} were both given: --seeds runs the configuration once per seed it lists. Keep one of them.`);
  }
  return parseSeeds(String(args.values.seeds));
}

export interface SeedSetPlan {
  kind: SeedSetKind;
  /** The configuration every seed runs (its own seed field is replaced per member). */
  base: MlpRunConfig;
  seeds: number[];
  /** fig5 only. */
  widths?: number[];
}


/** The members of a seed set, seed by seed: fig4's he and enhanced, fig5's widths, or the one configuration. */
export function seedSetRuns(plan: SeedSetPlan): { spec: SweepRunSpec; seed: number; group: string }[] {
  // A set figure's members are the groups; fig1 and fig2 have one, unnamed.
  const spec = plan.kind === 'fig4' || plan.kind === 'fig5' ? setFigure(plan.kind) : undefined;
  const groups: { group: string; patch: Partial<MlpRunConfig>; point: Record<string, unknown> }[] = spec
    ? spec.members(plan.base, { widths: plan.widths }).map((m) => ({ group: m.label, patch: m.patch, point: m.point }))
    : [{ group: '', patch: {}, point: {} }];
  const out: { spec: SweepRunSpec; seed: number; group: string }[] = [];
  for (const seed of plan.seeds) {
    for (const g of groups) {
      const label = g.group ? `${g.group}-s${seed}` : `s${seed}`;
      // Resolved as `lplr sweep --seeds` resolves a point, so both name the run by the same hash.
      out.push({ spec: runSpec(out.length, label, { ...plan.base, ...g.patch, seed }, { ...g.point, seed }), seed, group: g.group });
    }
  }
  return out;
}

/** What config.json of a seed set lists per member (rebuilds read it back). */
interface SeedSetConfigMember {
  label: string;
  seed: number;
  group: string;
  dir: string;
  configHash: string;
  point: Record<string, unknown>;
}

/**
 * summary.json, report.html and the printed result of a seed set from its members' summaries:
 * fig4 compares he and enhanced per seed and needs every seed; fig5 judges the width effect per
 * seed; every member verdict becomes "k of n seeds" per group.
 */
export function finishSeedSet(kind: SeedSetKind, dir: string, seeds: readonly number[], members: readonly SeedMember[]): ExperimentResult & { summary: SeedSetSummary } {
  const perSeed: PerSeedVerdicts[] = [];
  const setVerdicts: Verdict[] = [];
  const th = members[0]?.summary.thresholds;
  if (kind === 'fig4' || kind === 'fig5') {
    const spec = setFigure(kind);
    const bySeed = seeds.map((seed) => ({
      seed,
      members: members.filter((m) => m.seed === seed).map((m) => ({ label: m.group, width: m.width ?? NaN, seed, summary: m.summary })),
    }));
    for (const s of bySeed) {
      if (s.members.length === 0) throw new DataError(`${dir}: the ${kind} seed set has no runs for seed ${s.seed}. Re-run 'lplr run ${kind} --seeds ...' into a new --out.`);
      perSeed.push({ seed: s.seed, verdicts: spec.judge(s.members, th) });
    }
    if (spec.judgeSeeds) setVerdicts.push(...spec.judgeSeeds(bySeed));
  }
  const summary = buildSeedSetSummary(kind, seeds, members, { perSeed, setVerdicts });
  writeJsonAtomic(path.join(dir, 'summary.json'), summary);
  const config = { experiment: kind, seeds, runs: members.map((m) => ({ label: m.label, seed: m.seed, dir: m.dir, configHash: m.configHash })) };
  writeSeedSetReport(dir, figure(kind).title, members, summary, config);
  return {
    headline: seedSetHeadline(summary),
    summary,
    verdicts: summary.verdicts,
    verdictLines: summary.verdicts.map((v) => ({ name: v.name, passed: v.passed, outcome: setVerdictWord(v) })),
  };
}

/** Run (or reuse) every member of a seed set into ctx.dir, then judge the set. */
async function runSeedSet(ctx: ExperimentContext, plan: SeedSetPlan): Promise<ExperimentResult> {
  const runs = seedSetRuns(plan);
  const members: SeedSetConfigMember[] = runs.map((r) => ({ label: r.spec.label, seed: r.seed, group: r.group, dir: r.spec.dir, configHash: r.spec.hash, point: r.spec.point }));
  const { seed: _seed, ...base } = plan.base;
  const hash = configHash({ experiment: plan.kind, seeds: plan.seeds, base: mlpIdentity({ ...plan.base, seed: 0 }), members: members.map((m) => m.configHash) });
  writeJsonAtomic(path.join(ctx.dir, 'config.json'), describeRun(ctx.rt, plan.kind, base, hash, { seeds: plan.seeds, ...(plan.widths ? { widths: plan.widths } : {}), runs: members }));
  const results = await runSet(
    ctx,
    runs.map((r) => r.spec),
  );
  return finishSeedSet(
    plan.kind,
    ctx.dir,
    plan.seeds,
    results.map((r, i) => ({ label: r.label, seed: runs[i].seed, group: runs[i].group, dir: members[i].dir, configHash: members[i].configHash, width: r.config.width, summary: r.summary })),
  );
}

/**
 * Rebuild a seed set's directory from its files, as `lplr report` does: each member's summary.json
 * and report.html from its metrics.jsonl, then the set's summary.json and report.html.
 */
export function rebuildSeedSet(dir: string, overrides: Pick<SummaryConfig, 'fitWindow' | 'thresholds'> = {}): { headline: string; summary: SeedSetSummary; reports: string[] } {
  const doc = readJson<{ experiment?: string; seeds?: number[]; runs?: SeedSetConfigMember[] }>(path.join(dir, 'config.json'));
  const kind = doc.experiment as SeedSetKind;
  if (!SEED_SET_KINDS.includes(kind) || !Array.isArray(doc.seeds) || !Array.isArray(doc.runs) || doc.runs.length === 0) {
    throw new DataError(`${path.join(dir, 'config.json')} does not describe a seed set (experiment, seeds and runs). Re-run 'lplr run EXPERIMENT --seeds ...' into a new --out.`);
  }
  const reports: string[] = [];
  const members: SeedMember[] = doc.runs.map((m) => {
    const runDir = path.resolve(dir, m.dir);
    if (!fs.existsSync(path.join(runDir, 'metrics.jsonl'))) {
      throw new DataError(`${runDir} has no metrics.jsonl: the seed set is incomplete. Finish it with 'lplr resume ${dir}'.`);
    }
    const config = readJson<{ config: MlpRunConfig }>(path.join(runDir, 'config.json')).config;
    const rows = readMetrics(path.join(runDir, 'metrics.jsonl')) as MetricRow[];
    const summary = summarizeRun(rows, { ...mlpSummaryConfig(config), fitWindow: overrides.fitWindow ?? config.fitWindow, thresholds: overrides.thresholds ?? recordedThresholds(config) });
    writeJsonAtomic(path.join(runDir, 'summary.json'), summary);
    reports.push(writeMlpReport(runDir, `${figure(kind).title}: run ${m.label}`, config, rows, summary, kind === 'fig2' ? { focus: 'fig2' } : {}));
    return { label: m.label, seed: m.seed, group: m.group, dir: m.dir, configHash: m.configHash, width: config.width, summary };
  });
  const res = finishSeedSet(kind, dir, doc.seeds, members);
  return { headline: res.headline, summary: res.summary, reports: [...reports, path.join(dir, 'report.html')] };
}

/** A seed set directory: config.json names fig1, fig2, fig4 or fig5 with its seeds, and runs/ holds the members. */
export function isSeedSetDir(dir: string): boolean {
  try {
    const doc = readJson<{ experiment?: string; seeds?: unknown }>(path.join(dir, 'config.json'));
    return SEED_SET_KINDS.includes(doc.experiment as SeedSetKind) && Array.isArray(doc.seeds) && fs.existsSync(path.join(dir, 'runs'));
  } catch {
    return false;
  }
}

type SeedAware<P> = { single: P } | { seedSet: SeedSetPlan };

/** `e` with --seeds: without it, e itself; with it, a seed set of the configuration `plan` resolves. */
function withSeeds<P>(e: Experiment<P>, kind: SeedSetKind, plan: (args: ParsedArgs) => Omit<SeedSetPlan, 'kind' | 'seeds'>): Experiment<SeedAware<P>> {
  return {
    ...e,
    options: [...e.options, SEEDS_OPTION],
    prepare(args) {
      const seeds = seedsFromArgs(args);
      return seeds ? { seedSet: { kind, seeds, ...plan(args) } } : { single: e.prepare(args) };
    },
    needsGpu: (p) => ('single' in p ? (e.needsGpu?.(p.single) ?? true) : true),
    run: (ctx, p) => ('single' in p ? e.run(ctx, p.single) : runSeedSet(ctx, p.seedSet)),
  };
}

const SEEDED: Experiment<any>[] = [
  withSeeds(fig1, 'fig1', (args) => ({ base: fig1.prepare(args) })),
  withSeeds(fig2, 'fig2', (args) => {
    if (args.given.has('from')) {
      throw new ConfigError("--from analyses one fig1 run; with --seeds, fig2 runs one run per seed (reusing finished ones under runs/, e.g. those of 'lplr run fig1 --seeds'). Drop --from or --seeds.");
    }
    return { base: fig2.prepare(args).config };
  }),
  withSeeds(fig4, 'fig4', (args) => ({ base: fig4.prepare(args).base })),
  withSeeds(fig5, 'fig5', (args) => {
    const p = fig5.prepare(args);
    return { base: p.base, widths: p.params.widths };
  }),
];

export const EXPERIMENTS: Experiment<any>[] = ([...SEEDED.slice(0, 2), fig3, ...SEEDED.slice(2), all, ntkExperiment] as Experiment<any>[]).map((e) => withAdapterEta(e));

export function registerExperiment(e: Experiment<any>): void {
  EXPERIMENTS.push(withAdapterEta(e));
}
