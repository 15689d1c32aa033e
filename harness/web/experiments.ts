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
import type { OptionSpec, ParsedArgs } from '../options/args.js';
import { resolveCifarConfig, type CifarRunConfig } from '../experiments/cifar-config.js';
import { FIGURES, figureOptions, type CifarFigure, type Figure, type SetMlpFigure, type SingleMlpFigure } from '../experiments/figures.js';
import { MLP_PRESETS, resolveMlpConfig, type MlpRunConfig } from '../experiments/mlp-config.js';
import type { ReportSection } from '../report/model.js';
import { singleRunSections } from '../report/sections.js';
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

const NO_INIT_FROM_IN_PAGE = '--init-from reads a local file; the page cannot start from given parameters yet. Use the CLI.';

/** Refuse settings the page cannot honour, instead of silently ignoring them. */
function checkBrowserConfig(config: MlpRunConfig): MlpRunConfig {
  if (config.ntkEvery > 0) throw new ConfigError('NTK and Hessian checks (--ntk-every) are not available in the browser yet; run them with the CLI.');
  if (config.initFrom !== undefined) throw new ConfigError(NO_INIT_FROM_IN_PAGE);
  if (config.dataDir !== undefined) throw new ConfigError("--data-dir is a local folder; in the page pick the MNIST files instead, or start 'lplr serve --data-dir DIR'.");
  return config;
}

function resolveWebConfig(args: ParsedArgs): MlpRunConfig {
  return checkBrowserConfig(resolveMlpConfig(args));
}

function started(runs: readonly LiveRun[]): LiveRun[] {
  return runs.filter((r) => r.rows.length > 0);
}

function singleRunLive(runs: readonly LiveRun[], figures: ('fig1' | 'fig2' | 'curves')[]): ReportSection[] {
  const run = runs[0];
  if (!run || run.rows.length === 0) return [];
  const summary = runSummary(run.rows, run.config);
  return [...singleRunSections(run.rows, summary, { figures }), ...(summary.linearized ? [linearizedSection(summary.linearized, { observedRate: summary.rate })] : [])];
}

/** --linearized's per-run section of a set (fig4, fig5), with fig5's width verdict once every run is done. */
function linearizedSetLive(kind: string, runs: readonly LiveRun[]): ReportSection[] {
  if (!runs.every((r) => r.done)) return [];
  return linearizedSetSection(
    kind,
    runs.map((r) => {
      const summary = runSummary(r.rows, r.config);
      return { label: r.label, width: r.config.width, linearized: summary.linearized, observedRate: summary.rate };
    }),
  );
}

/** What the page's form shows of an MLP figure: its words, its options and the MLP presets. */
function mlpFormFields(f: SingleMlpFigure | SetMlpFigure) {
  return { name: f.name, title: f.title, description: f.description, data: 'mnist' as const, options: figureOptions(f, 'page'), presets: MLP_PRESETS };
}

/** A single-run figure of figures.ts (fig1, fig2) as the page runs it. */
function singleWebExperiment(f: SingleMlpFigure): WebExperiment {
  return {
    ...mlpFormFields(f),
    plan: (args) => [{ label: 'run', trainer: 'mlp', config: resolveWebConfig(args) }],
    sections: (runs) => singleRunLive(runs, f.figures),
  };
}

/** A set figure of figures.ts (fig4, fig5): the same members as the CLI's, drawn as they run. */
function setWebExperiment(f: SetMlpFigure): WebExperiment {
  return {
    ...mlpFormFields(f),
    plan(args) {
      const params = f.params(args);
      const base = resolveWebConfig(args);
      return f.members(base, params).map((m) => ({ label: m.label, trainer: 'mlp', config: { ...base, ...m.patch } }));
    },
    sections(runs) {
      const live = started(runs).map((r) => ({ label: r.label, width: r.config.width, seed: r.config.seed, summary: runSummary(r.rows, r.config) }));
      if (live.length === 0) return [];
      const done = runs.every((r) => r.done);
      return [...f.liveSections(live, done, runs[0].config.thresholds), ...linearizedSetLive(f.name, runs)];
    },
  };
}

/** Browser runs read picked or fetched files, never a local folder. */
function resolveWebCifarConfig(args: ParsedArgs): CifarRunConfig {
  const config = resolveCifarConfig(args);
  if (config.dataDir !== undefined) throw new ConfigError('--data-dir is a local folder; in the page pick the CIFAR-10 batch files (data_batch_N.bin, test_batch.bin) or give their URL folder instead.');
  if (config.initFrom !== undefined) throw new ConfigError(NO_INIT_FROM_IN_PAGE);
  if (config.epochs === 0) throw new ConfigError('--epochs 0 only writes the initial parameters (with --save-params), which the page cannot do; give --epochs 1 or more.');
  return config;
}

function cifarWebExperimentOf(f: CifarFigure): CifarWebExperiment {
  return {
    name: f.name,
    title: f.title,
    description: f.description,
    data: 'cifar',
    options: f.options,
    presets: f.presets,
    plan: (args) => [{ label: 'run', trainer: 'cifar', config: resolveWebCifarConfig(args) }],
    sections(runs) {
      const run = runs[0];
      if (!run || !run.rows.some((r) => r.kind === 'step')) return [];
      return singleRunSections(run.rows, runSummary(run.rows, run.config), { figures: ['fig3', 'curves'] });
    },
  };
}

function webExperimentOf(f: Figure): AnyWebExperiment {
  if (f.kind === 'single') return singleWebExperiment(f);
  if (f.kind === 'set') return setWebExperiment(f);
  return cifarWebExperimentOf(f);
}

/** The page's experiments: every figure of figures.ts, in its order. */
export const WEB_EXPERIMENTS: AnyWebExperiment[] = FIGURES.map(webExperimentOf);

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
