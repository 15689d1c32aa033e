// `lplr resume RUN_DIR [options]`: continue an interrupted run from its last checkpoint with the
// options it was started with (recorded in invocation.json). Only run policy may be given
// again (output, checkpoint cadence, --continue-on-nan); what the config hash covers may not.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { RUN_OPTIONS } from '../experiments/mlp-config.js';
import { EXPERIMENTS } from '../experiments/registry.js';
import { hasCheckpoint } from '../run/checkpoint.js';
import { readJson } from '../run/run-dir.js';
import { helpText, parseArgs, type OptionSpec } from '../options/args.js';
import { executeExperiment } from './verb-run.js';
import type { Verb } from './verb.js';

/** Run options that do not change the result, so a resume may set them anew. */
const RESUMABLE = ['quiet', 'json', 'checkpoint-every', 'checkpoint-minutes', 'continue-on-nan', 'keep-checkpoint'];

// Without defaults: an option not given on the resume keeps the value the run started with.
const RESUME_OPTIONS: OptionSpec[] = [
  ...RUN_OPTIONS.filter((o) => RESUMABLE.includes(o.name)).map(({ default: _default, ...spec }) => spec),
  { name: 'help', type: 'bool', help: 'show this help' },
];

const USAGE = 'lplr resume RUN_DIR [options]';
const DESCRIPTION =
  'Continue a run killed or stopped before it finished, from its last checkpoint, with the options it was started with.\n' +
  'metrics.jsonl is cut back to the checkpoint, so no row is duplicated or torn. Options that change the result\n' +
  '(--lr, --width, ...) cannot change here: start a new run with a new --out instead.';

/** The flags an option given on the resume adds after the recorded ones (the last one wins). */
function asFlags(values: Record<string, unknown>, given: Set<string>): string[] {
  const flags: string[] = [];
  for (const name of given) {
    if (name === 'help') continue;
    flags.push(`--${name}=${String(values[name])}`);
  }
  return flags;
}

/** A flag that names a run or experiment option resume does not take gets a specific message. */
function refuseIdentityFlags(argv: readonly string[]): void {
  const resumable = new Set(RESUME_OPTIONS.map((o) => o.name));
  const runOnly = new Set([...RUN_OPTIONS.map((o) => o.name), ...EXPERIMENTS.flatMap((e) => e.options.map((o) => o.name))]);
  for (const arg of argv) {
    if (arg === '--') break;
    if (!arg.startsWith('--')) continue;
    let name = arg.slice(2).split('=', 1)[0];
    if (name.startsWith('no-') && !runOnly.has(name)) name = name.slice(3);
    if (resumable.has(name) || !runOnly.has(name)) continue;
    throw new ConfigError(
      `--${name} cannot be given to 'lplr resume': the run continues with the options it was started with. To run with another --${name}, start a new run ('lplr run EXPERIMENT ... --${name} VALUE --out NEW_DIR').`,
    );
  }
}

export const resumeVerb: Verb = {
  name: 'resume',
  summary: 'continue an interrupted run from its last checkpoint',
  async run(argv) {
    refuseIdentityFlags(argv);
    const own = parseArgs(argv, RESUME_OPTIONS);
    if (own.values.help) {
      process.stdout.write(`${helpText(USAGE, DESCRIPTION, RESUME_OPTIONS)}\n`);
      return 0;
    }
    const [dir, ...unexpected] = own.positionals;
    if (!dir) throw new ConfigError(`Name the run directory to resume: '${USAGE}'.`);
    if (unexpected.length) throw new ConfigError(`Unexpected argument '${unexpected[0]}': resume takes one run directory. Options start with --.`);
    const invFile = path.join(dir, 'invocation.json');
    if (!fs.existsSync(invFile)) throw new ConfigError(`${dir} is not a run directory written by 'lplr run' (no invocation.json).`);
    const inv = readJson<{ experiment: string; argv: string[]; finishedAt?: string }>(invFile);
    // A finished run keeps no checkpoint (unless --keep-checkpoint): there is nothing to continue.
    if (inv.finishedAt !== undefined || (fs.existsSync(path.join(dir, 'summary.json')) && !hasCheckpoint(dir))) {
      process.stdout.write(
        `${dir} finished${inv.finishedAt ? ` (${inv.finishedAt})` : ''}: nothing to resume. Its results are in summary.json and report.html ('lplr report ${dir}' rebuilds them).\n`,
      );
      return 0;
    }
    const exp = EXPERIMENTS.find((e) => e.name === inv.experiment);
    if (!exp) throw new ConfigError(`${dir} was written by experiment '${inv.experiment}', which this lplr does not know.`);
    const args = parseArgs([...inv.argv, ...asFlags(own.values, own.given)], [...exp.options, ...RUN_OPTIONS]);
    const prepared = exp.prepare(args);
    return executeExperiment(exp, prepared, args, path.resolve(dir), true);
  },
};
