// The paper's figures, declared once: what each one trains, how its runs are judged and what the
// page draws while they run. The CLI (registry.ts: Node runners, run directories, reports), the
// page (web/experiments.ts), seed sets and `lplr report` all read this list, so adding an MLP
// figure is one entry here plus its report sections. Platform neutral: no Node built-ins.
import { ConfigError, DataError } from '../../src/errors.js';
import { windowRate, type RunSummary } from '../analysis/summary.js';
import { enhancedSlowerVerdict, widthEffectVerdict, type Verdict, type VerdictThresholds } from '../analysis/verdicts.js';
import type { OptionSpec, ParsedArgs } from '../options/args.js';
import type { ReportSection } from '../report/model.js';
import { comparisonSection, widthAblationSection } from '../report/sections.js';
import { CIFAR_OPTIONS, CIFAR_PRESETS } from './cifar-config.js';
import { MLP_OPTIONS, type MlpRunConfig } from './mlp-config.js';

/** One run of a set figure: its label, what it changes in the base config, and its sweep point. */
export interface FigureMember {
  label: string;
  patch: Partial<MlpRunConfig>;
  point: Record<string, unknown>;
}

/** A finished (or, on the page, running) member with its summary; label is its group (he, w256, ...). */
export interface JudgedMember {
  label: string;
  width: number;
  seed: number;
  summary: RunSummary;
}

/** Settings of a set figure beyond the MLP options (fig5's widths), read from the arguments. */
export interface SetParams {
  widths?: number[];
}

interface FigureBase {
  name: string;
  /** The report's and the page's title. */
  title: string;
  /** One line for `lplr run --help` and the page's form. */
  description: string;
}

/** fig1 and fig2: one full-batch GD run. */
export interface SingleMlpFigure extends FigureBase {
  kind: 'single';
  /** Options beyond MLP_OPTIONS; those in cliOnly read local files and are not offered by the page. */
  extraOptions: OptionSpec[];
  cliOnly: string[];
  /** The single-run figures its report and page draw, first the one it is about. */
  figures: ('fig1' | 'fig2' | 'curves')[];
}

/** fig4 and fig5: several runs of one base configuration, judged together. */
export interface SetMlpFigure extends FigureBase {
  kind: 'set';
  extraOptions: OptionSpec[];
  cliOnly: string[];
  params(args: ParsedArgs): SetParams;
  members(base: MlpRunConfig, params: SetParams): FigureMember[];
  /** The set's verdicts from one seed's members (all of them finished). */
  judge(members: readonly JudgedMember[], thresholds?: VerdictThresholds): Verdict[];
  /** With --seeds: the verdicts over all seeds together, beyond each seed's own (fig4's sign test). */
  judgeSeeds?(bySeed: readonly { seed: number; members: readonly JudgedMember[] }[]): Verdict[];
  /** summary.json's per-member records and figure-specific fields (dir: the member's directory, relative). */
  summary(members: readonly (JudgedMember & { dir: string })[], verdicts: Verdict[]): Record<string, unknown>;
  /** The printed headline from that summary. */
  headline(summary: Record<string, unknown>): string;
  /** What the page draws from the members it has so far (started ones; all done when `done`). */
  liveSections(members: readonly JudgedMember[], done: boolean, thresholds?: VerdictThresholds): ReportSection[];
}

/** fig3: the ResNet on CIFAR-10, with its own config, trainer and data. */
export interface CifarFigure extends FigureBase {
  kind: 'cifar';
  options: OptionSpec[];
  presets: typeof CIFAR_PRESETS;
}

export type MlpFigure = SingleMlpFigure | SetMlpFigure;
export type Figure = MlpFigure | CifarFigure;

export const WIDTHS_OPTION: OptionSpec = { name: 'widths', type: 'int-list', help: 'widths of the ablation', default: [64, 128, 256, 512, 1024, 2048], min: 1 };

const FROM_OPTION: OptionSpec = { name: 'from', type: 'string', help: 'an existing fig1 run directory to analyse', placeholder: 'RUN_DIR' };

/** One member's rate and log-log fit for every choice of L* it has (the run's summary has the rest). */
function ratesByLStar(s: RunSummary): Record<string, { lStar: number; rho: number; r2: number; logLogSlope: number; logLogR2: number }> {
  const out: Record<string, { lStar: number; rho: number; r2: number; logLogSlope: number; logLogR2: number }> = {};
  for (const [c, a] of Object.entries(s.lStar)) {
    if (a) out[c] = { lStar: a.lStar, rho: a.semiLog.rho, r2: a.semiLog.r2, logLogSlope: a.logLog.slope, logLogR2: a.logLog.r2 };
  }
  return out;
}

export const FIG1: SingleMlpFigure = {
  name: 'fig1',
  kind: 'single',
  title: 'Figure 1 — linear convergence of full-batch GD',
  description: 'Full-batch GD on binary MNIST; semi-log suboptimality gap vs epoch with the fitted line (also Figure 2).',
  extraOptions: [],
  cliOnly: [],
  figures: ['fig1', 'fig2', 'curves'],
};

export const FIG2: SingleMlpFigure = {
  name: 'fig2',
  kind: 'single',
  title: 'Figure 2 — local PL check: ‖∇L‖² vs gap',
  description: 'Log-log ‖∇L‖² vs gap with the fitted slope, from a full-batch GD run (the CLI can reuse a fig1 run: --from RUN_DIR).',
  extraOptions: [FROM_OPTION],
  cliOnly: ['from'],
  figures: ['fig2', 'fig1', 'curves'],
};

export const FIG3: CifarFigure = {
  name: 'fig3',
  kind: 'cifar',
  title: 'Figure 3 — ResNet with mini-batch SGD on 5-class CIFAR-10',
  description:
    'ResNet with mini-batch SGD (batch 128, cosine lr) on 5-class CIFAR-10: smoothed loss semi-log and PL plot on smoothed data. Needs the CIFAR-10 binary batches (data_batch_N.bin, test_batch.bin).',
  options: CIFAR_OPTIONS,
  presets: CIFAR_PRESETS,
};

function member(members: readonly JudgedMember[], label: string): JudgedMember {
  const m = members.find((x) => x.label === label);
  if (!m) throw new DataError(`the fig4 set has no '${label}' run. Re-run 'lplr run fig4' into a new --out.`);
  return m;
}

export const FIG4: SetMlpFigure = {
  name: 'fig4',
  kind: 'set',
  title: 'Figure 4 — He vs enhanced initialization',
  description: 'He vs enhanced (depth-scaled) initialization, both curves on one plot, rates side by side.',
  extraOptions: [],
  cliOnly: [],
  params: () => ({}),
  members: (base) => [
    { label: 'he', patch: { init: 'he', depthFactor: undefined }, point: { init: 'he' } },
    { label: 'enhanced', patch: { init: 'enhanced', depthFactor: base.depthFactor }, point: { init: 'enhanced' } },
  ],
  judge: (members) => FIG4.judgeSeeds!([{ seed: member(members, 'he').seed, members }]),
  judgeSeeds: (bySeed) => [
    enhancedSlowerVerdict(bySeed.map((s) => ({ seed: s.seed, rateHe: windowRate(member(s.members, 'he').summary), rateEnhanced: windowRate(member(s.members, 'enhanced').summary) }))),
  ],
  summary: (members, verdicts) => ({
    runs: members.map((r) => ({
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
      dir: r.dir,
    })),
    comparison: { enhancedSlower: verdicts[0].passed, rule: verdicts[0].rule },
    thresholds: members[0]?.summary.thresholds,
  }),
  headline(summary) {
    const runs = summary.runs as { label: string; rho: number }[];
    const rho = (label: string) => runs.find((r) => r.label === label)?.rho ?? NaN;
    return `He ρ=${rho('he').toFixed(5)}, enhanced ρ=${rho('enhanced').toFixed(5)} per epoch`;
  },
  liveSections: (members) => (members.length === 0 ? [] : [comparisonSection(members.map((r) => ({ label: r.label, summary: r.summary })), { id: 'fig4', title: FIG4.title })]),
};

export const FIG5: SetMlpFigure = {
  name: 'fig5',
  kind: 'set',
  title: 'Figure 5 — width ablation',
  description: 'Width ablation: final loss vs width (log axes), each width’s loss curve, rate and final drift.',
  extraOptions: [WIDTHS_OPTION],
  cliOnly: [],
  params(args) {
    const widths = args.values.widths as number[];
    if (new Set(widths).size !== widths.length) throw new ConfigError('--widths has duplicates; give each width once.');
    return { widths };
  },
  members: (_base, params) => (params.widths ?? []).map((w) => ({ label: `w${w}`, patch: { width: w }, point: { width: w } })),
  judge: (members, thresholds) => [widthEffectVerdict(members.map((m) => ({ width: m.width, finalLoss: m.summary.final.loss })), thresholds)],
  summary: (members) => ({
    runs: members.map((r) => ({
      width: r.width,
      finalLoss: r.summary.final.loss,
      rho: r.summary.lStar.min.semiLog.rho,
      r2: r.summary.lStar.min.semiLog.r2,
      finalDrift: r.summary.final.drift,
      lStar: ratesByLStar(r.summary),
      dir: r.dir,
    })),
  }),
  headline: (summary) => `final loss by width: ${(summary.runs as { width: number; finalLoss: number }[]).map((r) => `${r.width}: ${r.finalLoss.toExponential(3)}`).join(', ')}`,
  liveSections(members, done, thresholds) {
    if (members.length === 0) return [];
    // The width verdict is about final losses, so it waits for every run to finish.
    const verdicts = done ? FIG5.judge(members, thresholds) : [];
    return [widthAblationSection(members, verdicts, { id: 'fig5', title: FIG5.title })];
  },
};

/** Every figure, in the paper's order: the one registry the CLI, the page and `lplr report` read. */
export const FIGURES: readonly Figure[] = [FIG1, FIG2, FIG3, FIG4, FIG5];

/** The set figures' names (fig4, fig5). */
export const SET_FIGURES: readonly SetMlpFigure[] = FIGURES.filter((f): f is SetMlpFigure => f.kind === 'set');

export function figure(name: string): Figure {
  const f = FIGURES.find((x) => x.name === name);
  if (!f) throw new ConfigError(`Unknown figure '${name}'. Figures: ${FIGURES.map((x) => x.name).join(', ')}.`);
  return f;
}

export function setFigure(name: string): SetMlpFigure {
  const f = figure(name);
  if (f.kind !== 'set') throw new ConfigError(`${name} is not a set of runs (fig4, fig5 are).`);
  return f;
}

/** Every option an MLP figure takes, on the CLI (all) or on the page (without the local-file ones). */
export function figureOptions(f: MlpFigure, where: 'cli' | 'page'): OptionSpec[] {
  const extra = where === 'cli' ? f.extraOptions : f.extraOptions.filter((o) => !f.cliOnly.includes(o.name));
  return [...MLP_OPTIONS, ...extra];
}
