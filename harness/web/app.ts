// The browser page: picks the adapter on navigator.gpu, builds the settings form from the
// CLI's option specs (so a setting means what the flag means), trains with the shared Lab and
// draws the report's charts live. Data loaders come from data-sources.ts by the experiment's
// data kind (registerDataLoader). Tests and `lplr verify-browser` drive it through
// window.__lplr; the charts are window.__lplrCharts[id].
import 'uplot/dist/uPlot.min.css';
import { init } from '../../src/entry-browser.js';
import type { AdapterDescription } from '../../src/gpu/device.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { LplrError } from '../../src/errors.js';
import { isStepRow, type MetricRow } from '../../src/metrics/schema.js';
import { parseArgs, type OptionSpec } from '../options/args.js';
import type { ReportSection } from '../report/model.js';
import { dataLoaderFor, datasetProvider, fetchBytes, SERVED_DATASET, SERVED_MANIFEST, type DataChoice, type DataManifest } from './data-sources.js';
import { experimentOptions, HIDDEN_WEB_OPTIONS, isCifarExperiment, lookupWebExperiment, WEB_EXPERIMENTS, type AnyWebExperiment, type PlannedRun, type WebExperiment } from './experiments.js';
import type { CifarRunConfig } from '../experiments/cifar-config.js';
import { trainedEpochs, type MlpRunConfig } from '../experiments/mlp-config.js';
import { Lab, type DataProvider, type LabRun, type LabRunConfig, type LabStatus } from './lab.js';
import { LiveCharts } from './live-charts.js';
import { RUN_FILE_NAMES, runFiles, type RunFileName } from './run-files.js';
import type { FeatureLevel } from '../../src/gpu/device.js';

declare const __LPLR_VERSION__: string;

/** What a run needs from the page when started from script (tests, verify-browser). */
export interface StartOptions {
  experiment: string;
  /** CLI-style flags, e.g. ['--preset', 'tiny']; default: the form's settings. */
  argv?: string[];
  /** Kernel choices to use (e.g. the Node run's rt.kernelChoices). */
  kernels?: Record<string, string>;
  /** Read back and hash each run's initial parameters (reproducibility checks). */
  digestInitialParameters?: boolean;
}

export interface LplrPageState {
  /** True once the adapter search has finished (successfully or not). */
  ready: boolean;
  adapter: AdapterDescription | null;
  /** Why WebGPU is unusable here, with what to enable; null when it works. */
  webgpuError: string | null;
  status: LabStatus | 'idle';
  /** True when every run of the last experiment finished. */
  done: boolean;
  error: string | null;
  experiment: string | null;
  kernels: Record<string, string>;
  /** The runs of an MLP experiment (fig1, fig2, fig4, fig5); empty while fig3 is the experiment. */
  runs: readonly LabRun[];
  /** The runs of fig3 (step, epoch, eval and fullgrad rows); empty for the other experiments. */
  fig3Runs: readonly LabRun<CifarRunConfig, MetricRow>[];
  start(options: StartOptions): Promise<void>;
  stop(): Promise<void>;
  resume(): Promise<void>;
  /** The files the download buttons save for run `index`. */
  files(index: number): Promise<Record<RunFileName, string>>;
}

declare global {
  interface Window {
    __lplr: LplrPageState;
  }
}

/** A run of any experiment, as the page shows it. */
type PageRun = LabRun<LabRunConfig, MetricRow>;

/** What the page uses of a Lab, whatever its experiment's config and row types. */
interface PageLab {
  readonly runs: readonly PageRun[];
  readonly status: LabStatus;
  readonly kernels: Record<string, string>;
  run(): Promise<void>;
  stop(): Promise<void>;
  dispose(): void;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`The page lacks #${id}`);
  return e as T;
};

const query = new URLSearchParams(location.search);
let rt: Runtime | undefined;
let lab: PageLab | undefined;
/** The live report sections of the running experiment. */
let liveSections: (() => ReportSection[]) | undefined;
let manifest: DataManifest | null = null;
const charts = new LiveCharts($('charts'));

const state: LplrPageState = {
  ready: false,
  adapter: null,
  webgpuError: null,
  status: 'idle',
  done: false,
  error: null,
  experiment: null,
  kernels: {},
  runs: [],
  fig3Runs: [],
  start,
  stop: async () => {
    await lab?.stop();
  },
  resume,
  files,
};
window.__lplr = state;

// ------------------------------------------------------------------ adapter

function describe(info: AdapterDescription): string {
  const name = info.description || info.device || [info.vendor, info.architecture].filter(Boolean).join(' ') || 'an unnamed adapter';
  const details = [info.vendor, info.architecture, info.device && info.device !== name && !/^0x/.test(info.device) ? info.device : ''].filter(Boolean).join(' / ');
  return `Adapter: ${name}${details ? ` (${details})` : ''}, ${info.featureLevel} feature level${info.isSoftware ? ', software rendering (CPU)' : ''}.`;
}

async function acquireAdapter(): Promise<void> {
  const level = query.get('featureLevel');
  try {
    rt = await init(level === 'core' || level === 'compatibility' ? { featureLevel: level as FeatureLevel } : {});
    state.adapter = rt.ctx.info;
    $('adapter').textContent = describe(rt.ctx.info);
    ($('run') as HTMLButtonElement).disabled = false;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    state.webgpuError = message;
    const box = $('no-webgpu');
    box.textContent = `WebGPU is not available, so nothing can run here. ${message}`;
    box.hidden = false;
    $('adapter').textContent = 'No WebGPU adapter.';
  } finally {
    state.ready = true;
  }
}

// --------------------------------------------------------------------- form

function fillExperimentSelect(): void {
  const select = $('experiment') as HTMLSelectElement;
  for (const e of WEB_EXPERIMENTS) {
    const option = new Option(`${e.name}: ${e.title}${e.unavailable ? ' (not available yet)' : ''}`, e.name);
    option.disabled = Boolean(e.unavailable);
    if (e.unavailable) option.title = e.unavailable;
    select.append(option);
  }
  const wanted = query.get('experiment');
  select.value = WEB_EXPERIMENTS.some((e) => e.name === wanted && !e.unavailable) ? wanted! : 'fig1';
  fillPresets(query.get('preset'));
  select.addEventListener('change', () => {
    fillPresets(($('preset') as HTMLSelectElement).value);
    renderOptions();
  });
  ($('preset') as HTMLSelectElement).addEventListener('change', renderOptions);
  renderOptions();
}

function selectedExperiment(): AnyWebExperiment {
  const name = ($('experiment') as HTMLSelectElement).value;
  return WEB_EXPERIMENTS.find((e) => e.name === name)!;
}

/** The selected experiment's presets (fig3 has its own), keeping `wanted` when it has one of that name. */
function fillPresets(wanted: string | null): void {
  const presets = $('preset') as HTMLSelectElement;
  const names = Object.keys(selectedExperiment().presets);
  presets.replaceChildren(...names.map((name) => new Option(name, name)));
  presets.value = wanted && names.includes(wanted) ? wanted : 'default';
}

function presetValue(spec: OptionSpec, preset: string): string {
  const values = selectedExperiment().presets[preset]?.values as Record<string, unknown> | undefined;
  const key = spec.name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const v = values?.[key] ?? spec.default;
  if (v === null) return 'all';
  return Array.isArray(v) ? v.join(',') : v === undefined ? '' : String(v);
}

/** One input per option of the experiment (the CLI's specs), keeping values the user typed. */
function renderOptions(): void {
  const exp = selectedExperiment();
  const preset = ($('preset') as HTMLSelectElement).value;
  $('experiment-description').textContent = exp.description;
  $('preset-description').textContent = exp.presets[preset]?.description ?? '';
  renderDataChoices(exp);
  const box = $('options');
  const typed = new Map<string, string>();
  for (const input of Array.from(box.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-option]'))) typed.set(input.dataset.option!, input.value);
  box.replaceChildren();
  for (const spec of experimentOptions(exp)) {
    if (spec.name === 'preset' || HIDDEN_WEB_OPTIONS.includes(spec.name)) continue;
    const label = document.createElement('label');
    label.title = spec.help;
    label.append(`${spec.name}`);
    let input: HTMLInputElement | HTMLSelectElement;
    if (spec.choices) {
      input = document.createElement('select');
      input.append(new Option(`(${presetValue(spec, preset) || 'default'})`, ''));
      for (const c of spec.choices) input.append(new Option(c, c));
    } else {
      input = document.createElement('input');
      input.type = 'text';
      input.placeholder = presetValue(spec, preset) || (spec.placeholder ?? spec.type);
    }
    input.dataset.option = spec.name;
    input.value = typed.get(spec.name) ?? query.get(spec.name) ?? '';
    label.append(input);
    box.append(label);
  }
}

/** The form as CLI flags. */
function formArgv(): string[] {
  const argv = ['--preset', ($('preset') as HTMLSelectElement).value];
  for (const input of Array.from($('options').querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-option]'))) {
    const v = input.value.trim();
    // --name=value: a switch (e.g. --linearized) takes no separate value.
    if (v !== '') argv.push(`--${input.dataset.option}=${v}`);
  }
  return argv;
}

// --------------------------------------------------------------------- data

/** The Data fieldset names the selected experiment's data; the dataset choices are the MLP figures' only. */
function renderDataChoices(exp: AnyWebExperiment): void {
  const cifar = isCifarExperiment(exp);
  $('data-name-url').textContent = cifar ? 'CIFAR-10 batch files' : 'MNIST';
  $('data-name-files').textContent = cifar ? 'CIFAR-10 batch files (data_batch_N.bin, test_batch.bin)' : 'MNIST files';
  $('served-choice').hidden = cifar;
  $('dataset-choice').hidden = cifar;
  $('served-dataset-choice').hidden = cifar || !manifest?.dataset;
  $('data-hint').hidden = !cifar;
  const checked = document.querySelector('input[name="data"]:checked') as HTMLInputElement | null;
  // CIFAR-10 is never served with the page: default to the file picker.
  if (cifar && (!checked || checked.closest('label')?.hidden)) ($('data-files') as HTMLInputElement).checked = true;
}

function dataChoice(): DataChoice {
  const choice = (document.querySelector('input[name="data"]:checked') as HTMLInputElement | null)?.value ?? 'served';
  return {
    from: choice === 'files' ? 'files' : choice === 'url' ? 'url' : 'served',
    pageUrl: location.href,
    url: ($('mnist-url') as HTMLInputElement).value,
    files: Array.from(($('mnist-files') as HTMLInputElement).files ?? []),
  };
}

async function dataProvider(exp: WebExperiment): Promise<DataProvider> {
  const choice = (document.querySelector('input[name="data"]:checked') as HTMLInputElement | null)?.value ?? 'served';
  if (choice === 'served-dataset') {
    return datasetProvider(await fetchBytes(new URL(SERVED_DATASET, location.href).href, 'the served dataset'), manifest?.dataset ?? 'dataset.safetensors');
  }
  if (choice === 'dataset') {
    const file = ($('dataset-file') as HTMLInputElement).files?.[0];
    if (!file) throw new LplrError('Pick a dataset file first (safetensors with tensors x [N, D] and y [N]).');
    return datasetProvider(new Uint8Array(await file.arrayBuffer()), file.name);
  }
  if (exp.data === 'cifar') throw new LplrError(`${exp.name} is not an MLP experiment.`);
  return dataLoaderFor(exp.data)(dataChoice());
}

async function readManifest(): Promise<void> {
  try {
    const response = await fetch(new URL(SERVED_MANIFEST, location.href).href, { cache: 'no-store' });
    if (!response.ok) return;
    manifest = (await response.json()) as DataManifest;
    if (manifest.dataset) {
      $('served-dataset-choice').hidden = isCifarExperiment(selectedExperiment());
      $('served-dataset-name').textContent = manifest.dataset;
    }
  } catch {
    // A static host without a manifest: the user picks files or gives a URL.
  }
}

// ---------------------------------------------------------------- training

function showError(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  state.error = message;
  const box = $('error');
  box.textContent = e instanceof LplrError ? message : `Unexpected error: ${message}`;
  box.hidden = false;
}

let renderTimer: ReturnType<typeof setTimeout> | undefined;

/** Redraw now: status line, buttons, charts. */
function render(): void {
  renderTimer = undefined;
  const status = lab?.status ?? 'idle';
  state.status = status;
  ($('stop') as HTMLButtonElement).disabled = status !== 'running';
  ($('resume') as HTMLButtonElement).disabled = status !== 'stopped';
  ($('run') as HTMLButtonElement).disabled = !rt || status === 'running';
  if (!lab || !liveSections) return;
  const run = lab.runs.find((r) => !r.done && r.rows.length > 0) ?? lab.runs.filter((r) => r.rows.length > 0).pop();
  const where = run && run.rows.length > 0 ? `${lab.runs.length > 1 ? `run ${run.label}: ` : ''}${progressText(run)}` : 'loading data…';
  $('status').textContent = `${status === 'running' ? 'Training' : status === 'stopped' ? 'Stopped' : status === 'done' ? 'Done' : status === 'failed' ? 'Failed' : ''} — ${where}`;
  charts.update(liveSections());
  renderDownloads();
}

/** Where a run stands: its last epoch row (MLP), or its last step and test accuracy (fig3). */
function progressText(run: PageRun): string {
  const config = run.config;
  if (config.kind === 'cifar') {
    const steps = run.rows.filter(isStepRow);
    const step = steps[steps.length - 1];
    const evalRow = run.rows.filter((r) => r.kind === 'eval').pop();
    const test = evalRow && evalRow.kind === 'eval' ? `, test accuracy ${(evalRow.testAcc * 100).toFixed(2)}% after epoch ${evalRow.epoch}` : '';
    return step ? `epoch ${step.epoch + 1}/${config.epochs}, step ${step.step + 1}, mini-batch loss ${step.loss.toExponential(4)}, lr ${step.lr.toExponential(3)}${test}` : 'measuring the full training set…';
  }
  const last = run.rows[run.rows.length - 1];
  if (last.kind !== 'epoch' || !('acc' in last)) return '';
  // An extended run (--lstar-extend k) trains k·E epochs; the analysis horizon is E.
  const trained = trainedEpochs(config as MlpRunConfig);
  const horizon = trained > config.epochs ? ` (analysed: 0–${config.epochs})` : '';
  return `epoch ${last.epoch}/${trained}${horizon}, loss ${last.loss.toExponential(4)}, ‖∇L‖² ${last.gradNormSq.toExponential(3)}, accuracy ${(last.acc * 100).toFixed(2)}%`;
}

/** Redraw at most every 150 ms while training (drawing is cheap, but not free every epoch). */
function scheduleRender(): void {
  renderTimer ??= setTimeout(render, 150);
}

function renderDownloads(): void {
  const select = $('download-run') as HTMLSelectElement;
  const ready = lab?.runs.filter((r) => r.rows.length > 0) ?? [];
  $('downloads').hidden = ready.length === 0;
  if (select.options.length !== ready.length) {
    const keep = select.value;
    select.replaceChildren(...ready.map((r) => new Option(r.label, String(lab!.runs.indexOf(r)))));
    if (ready.some((r) => String(lab!.runs.indexOf(r)) === keep)) select.value = keep;
  }
}

async function start(options: StartOptions): Promise<void> {
  if (!rt) throw new LplrError(state.webgpuError ?? 'The WebGPU adapter is not ready yet.');
  if (lab?.status === 'running') throw new LplrError('A run is in progress; stop it first.');
  $('error').hidden = true;
  state.error = null;
  state.done = false;
  // Readers of the page state must not see the previous run's rows while data loads.
  state.runs = [];
  state.fig3Runs = [];
  try {
    const exp = lookupWebExperiment(options.experiment);
    const args = parseArgs(options.argv ?? formArgv(), experimentOptions(exp));
    if (args.positionals.length > 0) throw new LplrError(`Unexpected argument '${args.positionals[0]}'.`);
    // Plans and data first: a bad setting or missing file leaves the previous run's charts.
    let created: { lab: PageLab; sections: () => ReportSection[] };
    let runs: readonly LabRun[] = [];
    let fig3Runs: readonly LabRun<CifarRunConfig, MetricRow>[] = [];
    if (isCifarExperiment(exp)) {
      const typed = createLab(exp, exp.plan(args), await dataLoaderFor('cifar')(dataChoice()), options);
      fig3Runs = typed.lab.runs;
      created = typed;
    } else {
      const typed = createLab(exp, exp.plan(args), await dataProvider(exp), options);
      runs = typed.lab.runs;
      created = typed;
    }
    lab?.dispose();
    charts.clear();
    // A run started from script shows its experiment in the form too.
    const select = $('experiment') as HTMLSelectElement;
    if (select.value !== exp.name) {
      select.value = exp.name;
      renderOptions();
    }
    state.experiment = exp.name;
    lab = created.lab;
    liveSections = created.sections;
    state.kernels = lab.kernels;
    state.runs = runs;
    state.fig3Runs = fig3Runs;
    await runLab();
  } catch (e) {
    showError(e);
    render();
  }
}

/** A Lab for the experiment's plan, and its live sections, with the experiment's own types. */
function createLab<C extends LabRunConfig, R extends MetricRow, D>(
  exp: WebExperiment<C, R>,
  plan: PlannedRun<C>[],
  data: DataProvider<C, D>,
  options: StartOptions,
): { lab: Lab<C, R, D>; sections: () => ReportSection[] } {
  const created = new Lab<C, R, D>({
    rt: rt!,
    plan,
    data,
    kernels: options.kernels,
    digestInitialParameters: options.digestInitialParameters,
    onUpdate: scheduleRender,
  });
  return { lab: created, sections: () => exp.sections(created.runs) };
}

async function runLab(): Promise<void> {
  const current = lab!;
  // The buttons follow the lab at once; charts are redrawn on the render timer.
  ($('stop') as HTMLButtonElement).disabled = false;
  ($('resume') as HTMLButtonElement).disabled = true;
  try {
    await current.run();
  } catch (e) {
    showError(e);
  }
  // Final draw before `done` flips, so readers of __lplrCharts see every row.
  clearTimeout(renderTimer);
  render();
  state.kernels = current.kernels;
  state.done = current.status === 'done';
}

async function resume(): Promise<void> {
  if (lab?.status !== 'stopped') throw new LplrError('Nothing to resume: no run is stopped.');
  await runLab();
}

async function files(index: number): Promise<Record<RunFileName, string>> {
  const run = lab?.runs[index];
  if (!run || !run.info || !rt) throw new LplrError(`Run ${index} has no rows yet.`);
  return runFiles(run.rows, {
    config: run.config,
    adapter: rt.ctx.info,
    limits: rt.ctx.limits,
    features: rt.ctx.features,
    kernels: lab!.kernels,
    version: __LPLR_VERSION__,
    platform: navigator.userAgent,
    startedAt: run.info.startedAt,
    data: run.info.data,
    parameters: run.info.parameters,
    gflopPerEpoch: run.info.gflopPerEpoch,
    configFields: run.info.configFields,
  });
}

async function download(name: RunFileName): Promise<void> {
  const index = Number(($('download-run') as HTMLSelectElement).value);
  const text = (await files(index))[name];
  const url = URL.createObjectURL(new Blob([text], { type: name.endsWith('.json') ? 'application/json' : 'application/x-ndjson' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ------------------------------------------------------------------ wiring

$('settings').addEventListener('submit', (event) => {
  event.preventDefault();
  void start({ experiment: ($('experiment') as HTMLSelectElement).value });
});
$('stop').addEventListener('click', () => void lab?.stop());
$('resume').addEventListener('click', () => void resume().catch(showError));
const buttons: Record<RunFileName, string> = { 'metrics.jsonl': 'download-metrics', 'summary.json': 'download-summary', 'config.json': 'download-config' };
for (const name of RUN_FILE_NAMES) $(buttons[name]).addEventListener('click', () => void download(name).catch(showError));

fillExperimentSelect();
void readManifest();
void acquireAdapter().then(() => {
  if (rt && query.get('autorun') === '1') void start({ experiment: ($('experiment') as HTMLSelectElement).value });
});
