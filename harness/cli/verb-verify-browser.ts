// `lplr verify-browser EXPERIMENT [options]`: run the experiment in Node and in headless
// Chromium with the same settings and seed, compare the metric streams epoch by epoch and
// pass or fail against the stated tolerances (exit code 0 or 1).
import { closest, ConfigError } from '../../src/errors.js';
import { CHROMIUM_PATH } from '../web/chromium.js';
import { WEB_EXPERIMENTS, experimentOptions, findWebExperiment } from '../web/experiments.js';
import { formatVerifyReport, MAX_VERIFY_EPOCHS, VERIFY_TOLERANCES, verifyBrowser, verifyPlan } from '../web/verify.js';
import { helpText, parseArgs, type OptionSpec } from './args.js';
import type { Verb } from './verb.js';

const VERIFY_OPTIONS: OptionSpec[] = [
  { name: 'same-adapter', type: 'bool', help: `Chromium on Mesa llvmpipe like Node (ANGLE GL/EGL, compatibility level); tolerance ${VERIFY_TOLERANCES['same-as-node']} instead of ${VERIFY_TOLERANCES.default}`, default: false },
  { name: 'tolerance', type: 'number', help: 'override the largest relative difference allowed per epoch', min: 0 },
  { name: 'backend', type: 'string', help: "Node's Dawn backend when adapters differ (vulkan, opengles, swiftshader, ...)", placeholder: 'NAME' },
  { name: 'kernels', type: 'string-list', help: "pin kernel choices on both sides, e.g. matmul=register (default: Node's choices, handed to the page; matmul=register avoids the texture kernel, whose first compile takes minutes in Chromium's ANGLE GL path)", placeholder: 'NAME=VARIANT,...' },
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
  summary: 'run an experiment in Node and in headless Chromium and compare the metrics epoch by epoch',
  async run(argv) {
    const name = argv[0];
    const runnable = WEB_EXPERIMENTS.filter((e) => !e.unavailable).map((e) => e.name);
    if (!name || name.startsWith('--')) {
      process.stdout.write(
        `Usage: lplr verify-browser EXPERIMENT [options]   (EXPERIMENT: ${runnable.join(', ')})\n\n` +
          `Runs it in Node and in headless Chromium (${CHROMIUM_PATH}) with the same settings, at most ${MAX_VERIFY_EPOCHS} epochs (default preset: tiny),\n` +
          `and compares loss and ‖∇L‖² epoch by epoch. 'lplr verify-browser fig1 --help' lists the options.\n`,
      );
      return name ? 0 : 2;
    }
    if (!WEB_EXPERIMENTS.some((e) => e.name === name)) {
      const hint = closest(name, runnable);
      throw new ConfigError(`Unknown experiment '${name}'.${hint ? ` Did you mean '${hint}'?` : ''} Known: ${runnable.join(', ')}.`);
    }
    const exp = findWebExperiment(name);
    const { experimentArgv, verifyArgv } = splitArgv(argv.slice(1));
    const own = parseArgs(verifyArgv, VERIFY_OPTIONS);
    if (own.values.help) {
      process.stdout.write(`${helpText(`lplr verify-browser ${name} [options]`, `${exp.description} Run in Node and in Chromium, compared epoch by epoch.`, [...experimentOptions(exp), ...VERIFY_OPTIONS])}\n`);
      return 0;
    }
    // A small, fast default: the CPU adapters this usually runs on are slow.
    const withPreset = experimentArgv.some((a) => a === '--preset' || a.startsWith('--preset=')) ? experimentArgv : ['--preset', 'tiny', ...experimentArgv];
    verifyPlan(name, withPreset); // validate before starting anything
    const kernels = parseKernelList((own.values.kernels as string[] | undefined) ?? []);
    const report = await verifyBrowser({
      experiment: name,
      argv: withPreset,
      mode: own.values['same-adapter'] ? 'same-as-node' : 'default',
      tolerance: own.values.tolerance as number | undefined,
      nodeBackend: own.values.backend as string | undefined,
      kernels,
      browserTimeoutMs: (own.values.timeout as number) * 1000,
      log: own.values.json ? undefined : (line) => process.stderr.write(`lplr: ${line}\n`),
    });
    process.stdout.write(own.values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatVerifyReport(report)}\n`);
    return report.passed ? 0 : 1;
  },
};
