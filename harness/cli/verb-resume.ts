// `lplr resume RUN_DIR`: continue an interrupted run from its last checkpoint with the
// options it was started with (recorded in invocation.json).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { RUN_OPTIONS } from '../experiments/mlp-config.js';
import { EXPERIMENTS } from '../experiments/registry.js';
import { readJson } from '../run/run-dir.js';
import { parseArgs } from './args.js';
import { executeExperiment } from './verb-run.js';
import type { Verb } from './verb.js';

export const resumeVerb: Verb = {
  name: 'resume',
  summary: 'continue an interrupted run from its last checkpoint',
  async run(argv) {
    const dir = argv[0];
    if (!dir || dir === '--help') {
      process.stdout.write('Usage: lplr resume RUN_DIR [--quiet]\n\nContinue a run killed or stopped before it finished, from its last checkpoint.\nmetrics.jsonl is cut back to the checkpoint, so no row is duplicated or torn.\n');
      return dir ? 0 : 2;
    }
    const invFile = path.join(dir, 'invocation.json');
    if (!fs.existsSync(invFile)) throw new ConfigError(`${dir} is not a run directory written by 'lplr run' (no invocation.json).`);
    const inv = readJson<{ experiment: string; argv: string[] }>(invFile);
    const exp = EXPERIMENTS.find((e) => e.name === inv.experiment);
    if (!exp) throw new ConfigError(`${dir} was written by experiment '${inv.experiment}', which this lplr does not know.`);
    const extra = argv.slice(1).filter((a) => a === '--quiet' || a === '--json');
    const args = parseArgs([...inv.argv, ...extra], [...exp.options, ...RUN_OPTIONS]);
    const prepared = exp.prepare(args);
    return executeExperiment(exp, prepared, args, path.resolve(dir), true);
  },
};
