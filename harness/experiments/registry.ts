// The experiments `lplr run NAME` knows. Each resolves and validates its config before a
// device exists (prepare), then runs into its directory (run).
import * as path from 'node:path';
import { ConfigError, DataError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { summarizeRun, type LStarChoice, type RunSummary, type SummaryConfig } from '../../src/metrics/summary.js';
import { widthEffectVerdict, type Verdict, type VerdictThresholds } from '../../src/metrics/verdicts.js';
import type { MetricRow } from '../../src/metrics/schema.js';
import type { OptionSpec, ParsedArgs } from '../cli/args.js';
import type { Progress } from '../run/progress.js';
import { configHash, describeRun, readJson, readMetrics, writeJsonAtomic } from '../run/run-dir.js';
import { copyRun } from '../run/grid.js';
import { ensureRun, executeSweep, runSpec, type SweepRunSpec } from '../run/sweep.js';
import { writeIndexReport, writeMlpReport, writeSetReport, type IndexEntry, type SetRun } from '../run/reports.js';
import { MLP_OPTIONS, mlpIdentity, type MlpRunConfig } from './mlp-config.js';
import { rejudgeRun, resolveMlpConfigWithFiles } from './mlp-lab.js';
import { type RunMlpOptions } from './mlp-lab.js';
import { fig3 } from './cifar-lab.js';
import { ntkExperiment, theoryMeasure } from './ntk.js';
import { withLinearized } from './linearized.js';
import { linearizedSetSummary } from './linearized-node.js';
import * as fs from 'node:fs';

export interface ExperimentContext {
  rt: Runtime;
  dir: string;
  progress: Progress;
  /** Where to look for completed runs to reuse (the runs/ root). */
  reuseRoots: string[];
  /** Checkpoint cadence and divergence handling for every single run. */
  runOptions: Pick<RunMlpOptions, 'checkpointEvery' | 'checkpointMinutes' | 'continueOnNonFinite' | 'saveParams'>;
  /** Continue interrupted runs from their checkpoints (lplr resume). */
  resume?: boolean;
}

export interface ExperimentResult {
  headline: string;
  summary: unknown;
}

export interface Experiment<P = unknown> {
  name: string;
  description: string;
  options: OptionSpec[];
  /** Resolve and validate everything that can be checked without a GPU. */
  prepare(args: ParsedArgs): P;
  /** Whether run() needs a GPU (a pure re-analysis does not). */
  needsGpu?(prepared: P): boolean;
  run(ctx: ExperimentContext, prepared: P): Promise<ExperimentResult>;
}

function fmtRate(s: RunSummary): string {
  const f = s.lStar.min.semiLog;
  return `ρ=${Number.isFinite(f.rho) ? f.rho.toFixed(5) : '?'}/epoch (R² ${Number.isFinite(f.r2) ? f.r2.toFixed(3) : '?'})`;
}

function passed(verdicts: Verdict[]): string {
  return verdicts.map((v) => `${v.name}: ${v.passed ? 'yes' : 'no'}`).join(', ');
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
  return `final loss ${s.final.loss.toExponential(4)}, ${fmtRate(s)}; ${passed(s.verdicts)}`;
}

function fig2Headline(s: RunSummary): string {
  const ll = s.lStar.min.logLog;
  return `log-log slope ${ll.slope.toFixed(3)} (R² ${ll.r2.toFixed(3)}); ${passed(s.verdicts)}`;
}

const fig1: Experiment<MlpRunConfig> = {
  name: 'fig1',
  description: 'Figure 1: full-batch GD on binary MNIST; semi-log suboptimality gap vs epoch with the fitted line (also Figure 2).',
  options: MLP_OPTIONS,
  prepare: (args) => resolveMlpConfigWithFiles(args),
  async run(ctx, config) {
    const res = await runOrReuse(ctx, config, ctx.dir, FIG1_TITLE, { reuse: false });
    return { headline: fig1Headline(res.summary), summary: res.summary };
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
    const summary = summarizeRun(rows, { fitWindow: config.fitWindow, thresholds: config.thresholds });
    writeJsonAtomic(path.join(ctx.dir, 'summary.json'), summary);
    writeMlpReport(ctx.dir, FIG2_TITLE, config, rows, summary, { focus: 'fig2' });
    return { headline: fig2Headline(summary), summary };
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

/** One member's rate and log-log fit for every choice of L* (the run's summary has the rest). */
function ratesByLStar(s: RunSummary): Record<LStarChoice, { lStar: number; rho: number; r2: number; logLogSlope: number; logLogR2: number }> {
  const entry = (c: LStarChoice) => {
    const a = s.lStar[c];
    return { lStar: a.lStar, rho: a.semiLog.rho, r2: a.semiLog.r2, logLogSlope: a.logLog.slope, logLogR2: a.logLog.r2 };
  };
  return { min: entry('min'), zero: entry('zero'), fit: entry('fit') };
}

/**
 * Figure 4's claim as a verdict: the enhanced (depth-scaled) init converges more slowly, i.e.
 * its per-epoch rate ρ (semi-log fit with L* = the minimum loss, the paper's proxy) is larger.
 */
export function enhancedSlowerVerdict(rhoHe: number, rhoEnhanced: number): Verdict {
  const usable = Number.isFinite(rhoHe) && Number.isFinite(rhoEnhanced);
  return {
    name: 'enhanced init converges more slowly',
    passed: usable && rhoEnhanced > rhoHe,
    values: { rhoHe, rhoEnhanced },
    rule: 'ρ per epoch of the semi-log fit with L* = min loss: enhanced > He (the paper reports that the depth-scaled init slows convergence)',
    ...(usable ? {} : { note: 'a fitted rate is not finite' }),
  };
}

function fig4Summary(dir: string, results: readonly SetRun[]) {
  const byLabel = (label: string) => {
    const r = results.find((x) => x.label === label);
    if (!r) throw new DataError(`${dir}: the fig4 set has no '${label}' run. Re-run 'lplr run fig4' into a new --out.`);
    return r;
  };
  const verdict = enhancedSlowerVerdict(byLabel('he').summary.lStar.min.semiLog.rho, byLabel('enhanced').summary.lStar.min.semiLog.rho);
  return {
    experiment: 'fig4',
    runs: results.map((r) => ({
      label: r.label,
      // rho and r2 are those of L* = min (the paper's proxy); lStar has every choice.
      rho: r.summary.lStar.min.semiLog.rho,
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
  const v = summary.verdicts.map((x) => `${x.name}: ${x.passed ? 'yes' : 'no'}`).join(', ');
  if (kind === 'fig4') {
    const rho = (label: string) => summary.runs.find((r) => r.label === label)?.rho ?? NaN;
    return `He ρ=${rho('he').toFixed(5)}, enhanced ρ=${rho('enhanced').toFixed(5)} per epoch; ${v}`;
  }
  return `final loss by width: ${summary.runs.map((r) => `${r.width}: ${r.finalLoss.toExponential(3)}`).join(', ')}; ${v}`;
}

/** summary.json of fig4 or fig5 (the member fields common to both, as setHeadline reads them). */
export interface SetSummary {
  experiment: SetKind;
  runs: { label?: string; width?: number; rho: number; finalLoss: number; dir: string }[];
  verdicts: Verdict[];
}

/** Write a set's summary.json and report.html from its finished member runs. */
export function finishSet(kind: SetKind, dir: string, results: SetRun[]): { summary: SetSummary; headline: string } {
  const summary = kind === 'fig4' ? fig4Summary(dir, results) : fig5Summary(dir, results);
  writeJsonAtomic(path.join(dir, 'summary.json'), summary);
  writeSetReport(dir, kind, SET_TITLES[kind], results, summary.verdicts);
  return { summary: summary as SetSummary, headline: setHeadline(kind, summary as SetSummary) };
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

/** The verdicts an index shows for a part: a single run's L* = min ones, a set's own. */
function headlineVerdicts(summary: { verdicts?: Verdict[] }, single: boolean): Verdict[] {
  const verdicts = summary.verdicts ?? [];
  return single ? verdicts.filter((v) => v.name.endsWith('(L* = min)')) : verdicts;
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
    return { headline: Object.entries(results).map(([k, r]) => `${k}: ${r.headline}`).join('\n'), summary: summaries };
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
    const summary = summarizeRun(rows, { fitWindow: overrides.fitWindow ?? config.fitWindow, thresholds: overrides.thresholds ?? recordedThresholds(config) });
    writeJsonAtomic(path.join(runDir, 'summary.json'), summary);
    reports.push(writeMlpReport(runDir, `${SET_TITLES[kind]}: run ${m.label}`, config, rows, summary));
    return { label: m.label, dir: runDir, config, rows, summary };
  });
  const { summary, headline } = finishSet(kind, dir, results);
  return { headline, summary, reports: [...reports, path.join(dir, 'report.html')] };
}

/** The verdict thresholds a run's config.json recorded (runs written before they were recorded have none). */
function recordedThresholds(config: MlpRunConfig | undefined): Partial<VerdictThresholds> | undefined {
  return (config as { thresholds?: Partial<VerdictThresholds> } | undefined)?.thresholds;
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
export function directoryKind(dir: string): 'run' | SetKind | 'all' | undefined {
  if (fs.existsSync(path.join(dir, 'metrics.jsonl'))) return 'run';
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
    const summary = summarizeRun(rows, { fitWindow: overrides.fitWindow ?? config?.fitWindow, thresholds: overrides.thresholds ?? recordedThresholds(config) });
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

export const EXPERIMENTS: Experiment<any>[] = ([fig1, fig2, fig3, fig4, fig5, all, ntkExperiment] as Experiment<any>[]).map((e) => withAdapterEta(e));

export function registerExperiment(e: Experiment<any>): void {
  EXPERIMENTS.push(withAdapterEta(e));
}
