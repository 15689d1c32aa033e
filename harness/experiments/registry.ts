// The experiments `lplr run NAME` knows. Each resolves and validates its config before a
// device exists (prepare), then runs into its directory (run).
import * as path from 'node:path';
import { ConfigError, DataError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { L_STAR_CHOICES, summarizeRun, type LStarChoice, type RunSummary, type SummaryConfig } from '../analysis/summary.js';
import { widthEffectVerdict, withoutRetiredThresholds, type Verdict, type VerdictThresholds } from '../analysis/verdicts.js';
import type { MetricRow } from '../../src/metrics/schema.js';
import type { OptionSpec, ParsedArgs } from '../cli/args.js';
import type { Progress } from '../run/progress.js';
import { configHash, describeRun, readJson, readMetrics, writeJsonAtomic } from '../run/run-dir.js';
import { copyRun } from '../run/grid.js';
import { ensureRun, executeSweep, parseSeeds, runSpec, type SweepRunSpec } from '../run/sweep.js';
import { writeIndexReport, writeMlpReport, writeSeedSetReport, writeSetReport, type IndexEntry, type SetRun } from '../run/reports.js';
import type { VerdictLine } from '../cli/summary-lines.js';
import { buildSeedSetSummary, SEED_SET_KINDS, seedSetHeadline, setVerdictWord, type PerSeedVerdicts, type SeedMember, type SeedSetKind, type SeedSetSummary } from './seed-set.js';
import { windowRate } from '../report/sections.js';
import { MLP_OPTIONS, mlpIdentity, mlpSummaryConfig, type MlpRunConfig } from './mlp-config.js';
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

const FIG1_TITLE = 'Figure 1 — linear convergence of full-batch GD';
const FIG2_TITLE = 'Figure 2 — local PL check: ‖∇L‖² vs gap';

function fig1Headline(s: RunSummary): string {
  return `final loss ${s.final.loss.toExponential(4)}; ${fmtRate(s)}`;
}

function fig2Headline(s: RunSummary): string {
  const a = s.lStar[s.primary] ?? s.lStar.zero;
  const ll = a.logLog;
  return `μ_t ratio (last/middle third) ${a.pl.ratio.toFixed(3)} with L* = ${s.primary}; log-log slope ${ll.slope.toFixed(3)} (R² ${ll.r2.toFixed(3)}, reported)`;
}

const fig1: Experiment<MlpRunConfig> = {
  name: 'fig1',
  description: 'Figure 1: full-batch GD on binary MNIST; semi-log suboptimality gap vs epoch with the fitted line (also Figure 2).',
  options: MLP_OPTIONS,
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
  name: 'fig2',
  description: 'Figure 2: log-log ‖∇L‖² vs gap with the fitted slope; reuses a fig1 run (--from RUN_DIR) or runs one.',
  options: [...MLP_OPTIONS, { name: 'from', type: 'string', help: 'an existing fig1 run directory to analyse', placeholder: 'RUN_DIR' }],
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

/** The set experiments: built-in sweeps whose directory holds runs/<label>-<hash>/ per member. */
export type SetKind = 'fig4' | 'fig5';

const SET_TITLES: Record<SetKind, string> = { fig4: 'Figure 4 — He vs enhanced initialization', fig5: 'Figure 5 — width ablation' };

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

/** One member's rate and log-log fit for every choice of L* it has (the run's summary has the rest). */
function ratesByLStar(s: RunSummary): Partial<Record<LStarChoice, { lStar: number; rho: number; r2: number; logLogSlope: number; logLogR2: number }>> {
  const out: Partial<Record<LStarChoice, { lStar: number; rho: number; r2: number; logLogSlope: number; logLogR2: number }>> = {};
  for (const c of L_STAR_CHOICES) {
    const a = s.lStar[c];
    if (a) out[c] = { lStar: a.lStar, rho: a.semiLog.rho, r2: a.semiLog.r2, logLogSlope: a.logLog.slope, logLogR2: a.logLog.r2 };
  }
  return out;
}

/** One seed's He and enhanced runs, compared by the rate of ‖∇L‖² over the fit window (no L*). */
export interface InitPair {
  seed: number;
  rateHe: number;
  rateEnhanced: number;
}

/**
 * Figure 4's claim as a verdict: the enhanced (depth-scaled) init converges more slowly, i.e. the
 * rate at which ‖∇L‖² falls over the fit window (−slope of log ‖∇L‖², which needs no L*) is
 * smaller than He's. Over n seeds every seed must agree: with 5 seeds that is a one-sided sign
 * test at p = 0.5^5 = 0.031; fewer seeds can pass but the note says the evidence is weak.
 */
export function enhancedSlowerVerdict(pairs: readonly InitPair[]): Verdict {
  const usable = pairs.filter((p) => Number.isFinite(p.rateHe) && Number.isFinite(p.rateEnhanced));
  const slower = usable.filter((p) => p.rateEnhanced < p.rateHe).length;
  const n = pairs.length;
  const rule =
    'rate of ‖∇L‖² over the fit window (−slope of log ‖∇L‖² vs epoch, no L* needed): enhanced < He in every seed (with 5 seeds a one-sided sign test, p = 0.031); the paper reports that the depth-scaled init slows convergence';
  const values: Record<string, number> = { seeds: n, slower, pSignTest: 0.5 ** slower * (slower === n ? 1 : NaN) };
  if (n === 1) {
    values.rateHe = pairs[0].rateHe;
    values.rateEnhanced = pairs[0].rateEnhanced;
  }
  if (usable.length < n || n === 0) {
    return { name: 'enhanced init converges more slowly', outcome: 'inconclusive', passed: false, values, rule, note: n === 0 ? 'no runs' : 'a rate is not finite' };
  }
  const pass = slower === n;
  return {
    name: 'enhanced init converges more slowly',
    outcome: pass ? 'pass' : 'fail',
    passed: pass,
    reading: `${slower} of ${n} seed${n === 1 ? '' : 's'}`,
    values,
    rule,
    ...(pass && n < 5 ? { note: `${n} seed${n === 1 ? '' : 's'}: a sign test needs 5 for p < 0.05 (--seeds 0-4)` } : {}),
  };
}

function fig4Summary(dir: string, results: readonly SetRun[]) {
  const byLabel = (label: string) => {
    const r = results.find((x) => x.label === label);
    if (!r) throw new DataError(`${dir}: the fig4 set has no '${label}' run. Re-run 'lplr run fig4' into a new --out.`);
    return r;
  };
  const he = byLabel('he').summary;
  const enhanced = byLabel('enhanced').summary;
  const verdict = enhancedSlowerVerdict([{ seed: byLabel('he').config.seed, rateHe: windowRate(he), rateEnhanced: windowRate(enhanced) }]);
  return {
    experiment: 'fig4',
    runs: results.map((r) => ({
      label: r.label,
      // rho and r2 are those of L* = min (the paper's proxy, no verdict); lStar has every choice.
      rho: r.summary.lStar.min.semiLog.rho,
      gradNormRate: windowRate(r.summary),
      q: r.summary.rate.q,
      r2: r.summary.lStar.min.semiLog.r2,
      finalLoss: r.summary.final.loss,
      finalDrift: r.summary.final.drift,
      window: r.summary.window,
      lStar: ratesByLStar(r.summary),
      verdicts: r.summary.verdicts,
      dir: path.relative(dir, r.dir),
    })),
    comparison: { enhancedSlower: verdict.passed, rule: verdict.rule },
    verdicts: [verdict],
    thresholds: results[0]?.summary.thresholds,
    ...linearizedSetSummary('fig4', results),
  };
}

function fig5Summary(dir: string, results: readonly SetRun[]) {
  const points = results.map((r) => ({ width: r.config.width, finalLoss: r.summary.final.loss }));
  // The members' summaries carry the thresholds of this set (rejudgeRun, or a rebuild's overrides).
  const verdict = widthEffectVerdict(points, results[0]?.summary.thresholds);
  return {
    experiment: 'fig5',
    runs: results.map((r) => ({
      width: r.config.width,
      finalLoss: r.summary.final.loss,
      rho: r.summary.lStar.min.semiLog.rho,
      r2: r.summary.lStar.min.semiLog.r2,
      finalDrift: r.summary.final.drift,
      lStar: ratesByLStar(r.summary),
      dir: path.relative(dir, r.dir),
    })),
    verdicts: [verdict],
    ...linearizedSetSummary('fig5', results),
  };
}

function setHeadline(kind: SetKind, summary: SetSummary): string {
  if (kind === 'fig4') {
    const rho = (label: string) => summary.runs.find((r) => r.label === label)?.rho ?? NaN;
    return `He ρ=${rho('he').toFixed(5)}, enhanced ρ=${rho('enhanced').toFixed(5)} per epoch`;
  }
  return `final loss by width: ${summary.runs.map((r) => `${r.width}: ${r.finalLoss.toExponential(3)}`).join(', ')}`;
}

/** summary.json of fig4 or fig5 (the member fields common to both, as setHeadline reads them). */
export interface SetSummary {
  experiment: SetKind;
  runs: { label?: string; width?: number; rho: number; finalLoss: number; dir: string }[];
  verdicts: Verdict[];
}

/** Write a set's summary.json and report.html from its finished member runs. */
export function finishSet(kind: SetKind, dir: string, results: SetRun[]): { summary: SetSummary; headline: string; verdicts: Verdict[] } {
  const summary = kind === 'fig4' ? fig4Summary(dir, results) : fig5Summary(dir, results);
  writeJsonAtomic(path.join(dir, 'summary.json'), summary);
  writeSetReport(dir, kind, SET_TITLES[kind], results, summary.verdicts);
  return { summary: summary as SetSummary, headline: setHeadline(kind, summary as SetSummary), verdicts: summary.verdicts };
}

const fig4: Experiment<MlpRunConfig> = {
  name: 'fig4',
  description: 'Figure 4: He vs enhanced (depth-scaled) initialization, both curves on one plot, rates side by side.',
  options: MLP_OPTIONS,
  prepare: (args) => resolveMlpConfigWithFiles(args),
  async run(ctx, base) {
    const runs = [subRun(base, 0, 'he', { init: 'he', depthFactor: undefined }, { init: 'he' }), subRun(base, 1, 'enhanced', { init: 'enhanced', depthFactor: base.depthFactor }, { init: 'enhanced' })];
    writeSetConfig(ctx, 'fig4', base, runs);
    return finishSet('fig4', ctx.dir, await runSet(ctx, runs));
  },
};

const WIDTH_OPTION: OptionSpec = { name: 'widths', type: 'int-list', help: 'widths of the ablation', default: [64, 128, 256, 512, 1024, 2048], min: 1 };

const fig5: Experiment<{ base: MlpRunConfig; widths: number[] }> = {
  name: 'fig5',
  description: 'Figure 5: width ablation: final loss vs width (log axes), each width’s rate and final drift.',
  options: [...MLP_OPTIONS, WIDTH_OPTION],
  prepare: (args) => {
    const widths = args.values.widths as number[];
    if (new Set(widths).size !== widths.length) throw new ConfigError('--widths has duplicates.');
    return { base: resolveMlpConfigWithFiles(args), widths };
  },
  async run(ctx, { base, widths }) {
    const runs = widths.map((w, i) => subRun(base, i, `w${w}`, { width: w }, { width: w }));
    writeSetConfig(ctx, 'fig5', base, runs, { widths });
    return finishSet('fig5', ctx.dir, await runSet(ctx, runs));
  },
};

/** The parts of `lplr run all`, each in the sub-directory of its name. */
const ALL_PARTS = [
  { name: 'fig1', title: FIG1_TITLE },
  { name: 'fig2', title: FIG2_TITLE },
  { name: 'fig4', title: SET_TITLES.fig4 },
  { name: 'fig5', title: SET_TITLES.fig5 },
] as const;

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

const all: Experiment<{ base: MlpRunConfig; widths: number[] }> = {
  name: 'all',
  description: 'fig1, fig2, fig4 and fig5 in sub-directories of one run directory (runs are reused across them).',
  options: [...MLP_OPTIONS, WIDTH_OPTION],
  prepare: fig5.prepare,
  async run(ctx, p) {
    const hash = configHash({ experiment: 'all', base: mlpIdentity(p.base), widths: p.widths });
    writeJsonAtomic(path.join(ctx.dir, 'config.json'), describeRun(ctx.rt, 'all', p.base, hash, { widths: p.widths, parts: ALL_PARTS.map((x) => x.name) }));
    const sub = (name: string) => {
      const dir = path.join(ctx.dir, name);
      fs.mkdirSync(dir, { recursive: true });
      return { ...ctx, dir, reuseRoots: [ctx.dir, ...ctx.reuseRoots] };
    };
    const results: Record<string, ExperimentResult> = {
      fig1: await fig1.run(sub('fig1'), p.base),
      fig2: await fig2.run(sub('fig2'), { from: path.join(ctx.dir, 'fig1'), config: p.base }),
      fig4: await fig4.run(sub('fig4'), p.base),
      fig5: await fig5.run(sub('fig5'), p),
    };
    const summaries = Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.summary]));
    writeJsonAtomic(path.join(ctx.dir, 'summary.json'), summaries);
    writeAllIndex(ctx.dir, results, { experiment: 'all', config: p.base, widths: p.widths });
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
    reports.push(writeMlpReport(runDir, `${SET_TITLES[kind]}: run ${m.label}`, config, rows, summary));
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
  if ((experiment === 'fig4' || experiment === 'fig5') && fs.existsSync(path.join(dir, 'runs'))) return experiment;
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

const SEED_SET_TITLES: Record<SeedSetKind, string> = { fig1: FIG1_TITLE, fig2: FIG2_TITLE, fig4: SET_TITLES.fig4, fig5: SET_TITLES.fig5 };

/** The members of a seed set, seed by seed: fig4's he and enhanced, fig5's widths, or the one configuration. */
export function seedSetRuns(plan: SeedSetPlan): { spec: SweepRunSpec; seed: number; group: string }[] {
  const groups: { group: string; patch: Partial<MlpRunConfig>; point: Record<string, unknown> }[] =
    plan.kind === 'fig4'
      ? [
          { group: 'he', patch: { init: 'he', depthFactor: undefined }, point: { init: 'he' } },
          { group: 'enhanced', patch: { init: 'enhanced', depthFactor: plan.base.depthFactor }, point: { init: 'enhanced' } },
        ]
      : plan.kind === 'fig5'
        ? (plan.widths ?? []).map((w) => ({ group: `w${w}`, patch: { width: w }, point: { width: w } }))
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
  if (kind === 'fig4') {
    const pairs: InitPair[] = seeds.map((seed) => {
      const of = (group: string) => {
        const m = members.find((x) => x.seed === seed && x.group === group);
        if (!m) throw new DataError(`${dir}: the fig4 seed set has no '${group}' run for seed ${seed}. Re-run 'lplr run fig4 --seeds ...' into a new --out.`);
        return m.summary;
      };
      return { seed, rateHe: windowRate(of('he')), rateEnhanced: windowRate(of('enhanced')) };
    });
    for (const p of pairs) perSeed.push({ seed: p.seed, verdicts: [enhancedSlowerVerdict([p])] });
    setVerdicts.push(enhancedSlowerVerdict(pairs));
  } else if (kind === 'fig5') {
    for (const seed of seeds) {
      const points = members.filter((m) => m.seed === seed).map((m) => ({ width: m.width ?? NaN, finalLoss: m.summary.final.loss }));
      perSeed.push({ seed, verdicts: [widthEffectVerdict(points, th)] });
    }
  }
  const summary = buildSeedSetSummary(kind, seeds, members, { perSeed, setVerdicts });
  writeJsonAtomic(path.join(dir, 'summary.json'), summary);
  const config = { experiment: kind, seeds, runs: members.map((m) => ({ label: m.label, seed: m.seed, dir: m.dir, configHash: m.configHash })) };
  writeSeedSetReport(dir, SEED_SET_TITLES[kind], members, summary, config);
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
    reports.push(writeMlpReport(runDir, `${SEED_SET_TITLES[kind]}: run ${m.label}`, config, rows, summary, kind === 'fig2' ? { focus: 'fig2' } : {}));
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
  withSeeds(fig4, 'fig4', (args) => ({ base: fig4.prepare(args) })),
  withSeeds(fig5, 'fig5', (args) => fig5.prepare(args)),
];

export const EXPERIMENTS: Experiment<any>[] = ([...SEEDED.slice(0, 2), fig3, ...SEEDED.slice(2), all, ntkExperiment] as Experiment<any>[]).map((e) => withAdapterEta(e));

export function registerExperiment(e: Experiment<any>): void {
  EXPERIMENTS.push(withAdapterEta(e));
}
