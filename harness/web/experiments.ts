// The experiments the browser page (and `lplr verify-browser`) can run: which runs each one
// trains, with which trainer and data, and which report sections draw it live. Platform
// neutral. The sub-runs mirror harness/experiments/registry.ts (fig4: He vs enhanced init,
// fig5: one run per width); the sections are the report's builders, so chart ids match
// report.html.
//
// Figure 3 (CIFAR-10, mini-batch ResNet) has its own config, row and data types: its runs use
// the 'cifar' trainer (lab.ts) and the 'cifar' data loader (data-sources.ts: batch files picked
// or fetched from a URL), and its live sections are the report's fig3 sections.
import { ConfigError } from '../../src/errors.js';
import type { EpochRow, MetricRow } from '../../src/metrics/schema.js';
import { widthEffectVerdict } from '../analysis/verdicts.js';
import type { OptionSpec, ParsedArgs } from '../cli/args.js';
import { CIFAR_OPTIONS, CIFAR_PRESETS, resolveCifarConfig, type CifarRunConfig } from '../experiments/cifar-config.js';
import { MLP_OPTIONS, MLP_PRESETS, resolveMlpConfig, type MlpRunConfig } from '../experiments/mlp-config.js';
import type { ReportSection } from '../report/model.js';
import { comparisonSection, singleRunSections, widthAblationSection } from '../report/sections.js';
import { linearizedSection, linearizedSetSection } from '../report/linearized.js';
import { runSummary } from './run-files.js';

/** What a run trains on: the MNIST IDX files, a user dataset file, or CIFAR-10. */
export type WebDataKind = 'mnist' | 'dataset' | 'cifar';

/** Any run configuration the page's lab trains (declared here so lab.ts imports this file, not the reverse). */
export type LabRunConfig = MlpRunConfig | CifarRunConfig;

export interface PlannedRun<C extends LabRunConfig = MlpRunConfig> {
  label: string;
  /** Name of the trainer in lab.ts's registry. */
  trainer: string;
  config: C;
}

/** A run as the page sees it while training: its rows so far. */
export interface LiveRun<C extends LabRunConfig = MlpRunConfig, R extends MetricRow = EpochRow> {
  label: string;
  config: C;
  rows: readonly R[];
  done: boolean;
}

/** An experiment of the page; C and R are its runs' config and row types (default: the MLP figures'). */
export interface WebExperiment<C extends LabRunConfig = MlpRunConfig, R extends MetricRow = EpochRow> {
  name: string;
  title: string;
  description: string;
  data: WebDataKind;
  /** Every option it takes (MLP_OPTIONS plus extras such as fig5's widths; fig3: CIFAR_OPTIONS). */
  options: readonly OptionSpec[];
  /** Its presets (name → description and values), for the form. */
  presets: Record<string, { description: string; values: object }>;
  /** Set when the page cannot run it yet; says what is missing. */
  unavailable?: string;
  plan(args: ParsedArgs): PlannedRun<C>[];
  sections(runs: readonly LiveRun<C, R>[]): ReportSection[];
}

/** Figure 3's experiment type. */
export type CifarWebExperiment = WebExperiment<CifarRunConfig, MetricRow>;
/** Any experiment of the page (the MLP figures' or Figure 3). */
export type AnyWebExperiment = WebExperiment | CifarWebExperiment;

/** MLP options the page's form leaves out (local paths, NTK/Hessian checks); they keep their defaults. */
export const HIDDEN_WEB_OPTIONS: readonly string[] = ['data-dir', 'dataset', 'init-from', 'ntk-every', 'ntk-samples', 'linearized-memory'];

const MLP = { options: MLP_OPTIONS, presets: MLP_PRESETS };

/** Refuse settings the page cannot honour, instead of silently ignoring them. */
function checkBrowserConfig(config: MlpRunConfig): MlpRunConfig {
  if (config.ntkEvery > 0) throw new ConfigError('NTK and Hessian checks (--ntk-every) are not available in the browser yet; run them with the CLI.');
  if (config.initFrom !== undefined) throw new ConfigError('--init-from reads a local file; the page cannot start from given parameters yet. Use the CLI.');
  if (config.dataDir !== undefined) throw new ConfigError("--data-dir is a local folder; in the page pick the MNIST files instead, or start 'lplr serve --data-dir DIR'.");
  return config;
}

function resolveWebConfig(args: ParsedArgs): MlpRunConfig {
  return checkBrowserConfig(resolveMlpConfig(args));
}

const WIDTHS_OPTION: OptionSpec = { name: 'widths', type: 'int-list', help: 'widths of the ablation', default: [64, 128, 256, 512, 1024, 2048], min: 1 };

function singleRun(args: ParsedArgs): PlannedRun[] {
  return [{ label: 'run', trainer: 'mlp', config: resolveWebConfig(args) }];
}

function started(runs: readonly LiveRun[]): LiveRun[] {
  return runs.filter((r) => r.rows.length > 0);
}

function singleRunLive(runs: readonly LiveRun[], figures: ('fig1' | 'fig2' | 'curves')[]): ReportSection[] {
  const run = runs[0];
  if (!run || run.rows.length === 0) return [];
  const summary = runSummary(run.rows, run.config);
  return [...singleRunSections(run.rows, summary, { figures }), ...(summary.linearized ? [linearizedSection(summary.linearized)] : [])];
}

/** --linearized's per-run section of a set (fig4, fig5), with fig5's width verdict once every run is done. */
function linearizedSetLive(kind: string, runs: readonly LiveRun[]): ReportSection[] {
  if (!runs.every((r) => r.done)) return [];
  return linearizedSetSection(kind, runs.map((r) => ({ label: r.label, width: r.config.width, linearized: runSummary(r.rows, r.config).linearized })));
}

const fig1: WebExperiment = {
  name: 'fig1',
  title: 'Figure 1 — linear convergence of full-batch GD',
  description: 'Full-batch GD on binary MNIST; semi-log suboptimality gap vs epoch with the fitted line (also Figure 2).',
  data: 'mnist',
  ...MLP,
  plan: singleRun,
  sections: (runs) => singleRunLive(runs, ['fig1', 'fig2', 'curves']),
};

const fig2: WebExperiment = {
  name: 'fig2',
  title: 'Figure 2 — local PL check: ‖∇L‖² vs gap',
  description: 'Log-log ‖∇L‖² vs gap with the fitted slope, from a full-batch GD run.',
  data: 'mnist',
  ...MLP,
  plan: singleRun,
  sections: (runs) => singleRunLive(runs, ['fig2', 'fig1', 'curves']),
};

/** Browser runs read picked or fetched files, never a local folder. */
function resolveWebCifarConfig(args: ParsedArgs): CifarRunConfig {
  const config = resolveCifarConfig(args);
  if (config.dataDir !== undefined) throw new ConfigError('--data-dir is a local folder; in the page pick the CIFAR-10 batch files (data_batch_N.bin, test_batch.bin) or give their URL folder instead.');
  return config;
}

const fig3: CifarWebExperiment = {
  name: 'fig3',
  title: 'Figure 3 — mini-batch training on CIFAR-10',
  description:
    'ResNet with mini-batch SGD (cosine lr) on 5-class CIFAR-10: smoothed loss semi-log and PL plot on smoothed data. Needs the CIFAR-10 binary batches (data_batch_N.bin, test_batch.bin).',
  data: 'cifar',
  options: CIFAR_OPTIONS,
  presets: CIFAR_PRESETS,
  plan: (args) => [{ label: 'run', trainer: 'cifar', config: resolveWebCifarConfig(args) }],
  sections(runs) {
    const run = runs[0];
    if (!run || !run.rows.some((r) => r.kind === 'step')) return [];
    return singleRunSections(run.rows, runSummary(run.rows, run.config), { figures: ['fig3', 'curves'] });
  },
};

const fig4: WebExperiment = {
  name: 'fig4',
  title: 'Figure 4 — He vs enhanced initialization',
  description: 'He vs enhanced (depth-scaled) initialization, both curves on one plot, rates side by side.',
  data: 'mnist',
  ...MLP,
  plan(args) {
    const base = resolveWebConfig(args);
    return [
      { label: 'he', trainer: 'mlp', config: { ...base, init: 'he', depthFactor: undefined } },
      { label: 'enhanced', trainer: 'mlp', config: { ...base, init: 'enhanced', depthFactor: base.depthFactor } },
    ];
  },
  sections(runs) {
    const live = started(runs);
    if (live.length === 0) return [];
    return [comparisonSection(live.map((r) => ({ label: r.label, summary: runSummary(r.rows, r.config) })), { id: 'fig4', title: fig4.title }), ...linearizedSetLive('fig4', runs)];
  },
};

const fig5: WebExperiment = {
  name: 'fig5',
  title: 'Figure 5 — width ablation',
  description: 'Final loss vs width (log axes), each width’s loss curve, rate and final drift.',
  data: 'mnist',
  options: [...MLP_OPTIONS, WIDTHS_OPTION],
  presets: MLP_PRESETS,
  plan(args) {
    const widths = args.values.widths as number[];
    if (new Set(widths).size !== widths.length) throw new ConfigError('--widths has duplicates; give each width once.');
    const base = resolveWebConfig(args);
    return widths.map((w) => ({ label: `w${w}`, trainer: 'mlp', config: { ...base, width: w } }));
  },
  sections(runs) {
    const live = started(runs);
    if (live.length === 0) return [];
    const withSummaries = live.map((r) => ({ label: r.label, width: r.config.width, summary: runSummary(r.rows, r.config) }));
    // The width verdict is about final losses, so it waits for every run to finish.
    const verdicts = runs.every((r) => r.done) ? [widthEffectVerdict(withSummaries.map((r) => ({ width: r.width, finalLoss: r.summary.final.loss })), live[0].config.thresholds)] : [];
    return [widthAblationSection(withSummaries, verdicts, { id: 'fig5', title: fig5.title }), ...linearizedSetLive('fig5', runs)];
  },
};

export const WEB_EXPERIMENTS: AnyWebExperiment[] = [fig1, fig2, fig3, fig4, fig5];

/** Add or replace an experiment. */
export function registerWebExperiment(e: AnyWebExperiment): void {
  const i = WEB_EXPERIMENTS.findIndex((x) => x.name === e.name);
  if (i >= 0) WEB_EXPERIMENTS[i] = e;
  else WEB_EXPERIMENTS.push(e);
}

/** Any experiment the page can run, by name. */
export function lookupWebExperiment(name: string): AnyWebExperiment {
  const e = WEB_EXPERIMENTS.find((x) => x.name === name);
  if (!e) throw new ConfigError(`Unknown experiment '${name}'. The page knows: ${WEB_EXPERIMENTS.map((x) => x.name).join(', ')}.`);
  if (e.unavailable) throw new ConfigError(e.unavailable);
  return e;
}

export function isCifarExperiment(e: AnyWebExperiment): e is CifarWebExperiment {
  return e.data === 'cifar';
}

/** An MLP experiment (fig1, fig2, fig4, fig5) by name; Figure 3 is lookupWebExperiment's. */
export function findWebExperiment(name: string): WebExperiment {
  const e = lookupWebExperiment(name);
  if (isCifarExperiment(e)) {
    throw new ConfigError(`${name} trains a ResNet on CIFAR-10, not an MLP, so it has no MLP settings. Run it in the page (pick ${name} and the CIFAR-10 files), with 'npx lplr run ${name}', or compare the two with 'npx lplr verify-browser ${name}'.`);
  }
  return e;
}

/** The experiment fig3 (CIFAR-10). */
export function cifarWebExperiment(): CifarWebExperiment {
  const e = lookupWebExperiment('fig3');
  if (!isCifarExperiment(e)) throw new ConfigError('fig3 was replaced by an experiment that does not train on CIFAR-10.');
  return e;
}

/** All option specs the experiment accepts (what parseArgs needs). */
export function experimentOptions(e: AnyWebExperiment): OptionSpec[] {
  return [...e.options];
}
