// `lplr run EXPERIMENT [options]`: validate options, create the run directory, pick the
// adapter, run, print the headline (or JSON).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closest, ConfigError } from '../../src/errors.js';
import { init } from '../../src/entry-node.js';
import { loadMatmulTuning } from '../../src/kernels/autotune.js';
import { defaultAutotunePath, fileAutotuneStore } from '../../src/gpu/autotune-store-node.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { RUN_OPTIONS } from '../experiments/mlp-config.js';
import { EXPERIMENTS, type Experiment } from '../experiments/registry.js';
import { RunStopped } from '../experiments/mlp-lab.js';
import { createProgress } from '../run/progress.js';
import { claimRunDir, defaultRunDir, readJson, writeJsonAtomic } from '../run/run-dir.js';
import { helpText, parseArgs, type ParsedArgs } from '../options/args.js';
import { formatRunSummary } from './summary-lines.js';
import type { Verb } from './verb.js';

function listExperiments(): string {
  return EXPERIMENTS.map((e) => `  ${e.name.padEnd(6)} ${e.description}`).join('\n');
}

export const runVerb: Verb = {
  name: 'run',
  summary: 'run an experiment of the paper (fig1, fig2, fig4, fig5, all, ...)',
  async run(argv) {
    const name = argv[0];
    if (!name || name.startsWith('--')) {
      if (argv.includes('--help') || !name) {
        process.stdout.write(`Usage: lplr run EXPERIMENT [options]\n\nExperiments:\n${listExperiments()}\n\nlplr run EXPERIMENT --help lists the options with defaults.\n`);
        return name ? 0 : 2;
      }
    }
    const exp = EXPERIMENTS.find((e) => e.name === name);
    if (!exp) {
      const hint = closest(name, EXPERIMENTS.map((e) => e.name));
      throw new ConfigError(`Unknown experiment '${name}'.${hint ? ` Did you mean '${hint}'?` : ''} Known: ${EXPERIMENTS.map((e) => e.name).join(', ')}.`);
    }
    const specs = [...exp.options, ...RUN_OPTIONS, { name: 'help', type: 'bool' as const, help: 'show this help' }];
    const args = parseArgs(argv.slice(1), specs);
    if (args.values.help) {
      process.stdout.write(`${helpText(`lplr run ${exp.name} [options]`, exp.description, specs)}\n`);
      return 0;
    }
    if (args.positionals.length) throw new ConfigError(`Unexpected argument '${args.positionals[0]}'. Options start with --.`);
    // Everything that can be validated is validated before a device exists.
    const prepared = exp.prepare(args);
    const givenOut = args.values.out as string | undefined;
    // defaultRunDir creates a fresh directory itself; a given --out may already exist.
    const existed = givenOut !== undefined && fs.existsSync(givenOut);
    const claim = claimRunDir(givenOut ?? defaultRunDir(exp.name), Boolean(args.values.force));
    const dir = claim.dir;
    // What `lplr resume` needs to run the same thing again.
    writeJsonAtomic(path.join(dir, 'invocation.json'), { experiment: exp.name, argv: argv.slice(1), cwd: process.cwd(), startedAt: new Date().toISOString() });
    // A run that failed or was stopped before producing anything (bad data file, no adapter,
    // limits) leaves no half-made directory behind, and gives back what --force replaced;
    // one with finished work keeps it for resume.
    const settle = (finished: boolean) => {
      if (finished || producedWork(dir)) return claim.commit();
      if (!existed) fs.rmSync(dir, { recursive: true, force: true });
      claim.rollback();
    };
    try {
      const code = await executeExperiment(exp, prepared, args, dir, false);
      settle(code === 0);
      return code;
    } catch (e) {
      settle(false);
      throw e;
    }
  },
};

/** True when a run directory holds metrics rows or checkpoints (anywhere below it). */
function producedWork(dir: string): boolean {
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if ((e.name === 'metrics.jsonl' && fs.statSync(p).size > 0) || e.name === 'checkpoint.json') return true;
    }
  }
  return false;
}

/** Record in invocation.json that the run finished, so that `lplr resume` knows there is nothing to continue. */
function markFinished(dir: string): void {
  const file = path.join(dir, 'invocation.json');
  if (!fs.existsSync(file)) return;
  writeJsonAtomic(file, { ...readJson<Record<string, unknown>>(file), finishedAt: new Date().toISOString() });
}

/** Create the device (when needed) and run a prepared experiment into `dir`. */
export async function executeExperiment(exp: Experiment<unknown>, prepared: unknown, args: ParsedArgs, dir: string, resume: boolean): Promise<number> {
  {
    const quiet = Boolean(args.values.quiet) || Boolean(args.values.json);
    const progress = createProgress({ quiet });
    let rt: Runtime | undefined;
    try {
      if (exp.needsGpu?.(prepared) ?? true) {
        rt = await init({ quiet, backend: args.values.backend as string | undefined, adapter: args.values.adapter as string | undefined });
        // Winners of `lplr tune` for this adapter; a run pins whatever it resolves first,
        // so tuning never changes kernels mid-run. Tests run untuned (LPLR_NO_TUNING).
        if (!process.env.LPLR_NO_TUNING) {
          const n = await loadMatmulTuning(rt, fileAutotuneStore());
          if (n > 0) progress.log(`using ${n} tuned matmul choices from ${defaultAutotunePath()}`);
        }
      }
      const runOptions = {
        checkpointEvery: args.values['checkpoint-every'] as number,
        checkpointMinutes: args.values['checkpoint-minutes'] as number,
        continueOnNonFinite: Boolean(args.values['continue-on-nan']),
        saveParams: Boolean(args.values['save-params']),
        keepCheckpoint: Boolean(args.values['keep-checkpoint']),
      };
      const result = await exp.run({ rt: rt as Runtime, dir, progress, reuseRoots: [path.resolve('runs')], runOptions, resume }, prepared);
      markFinished(dir);
      if (args.values.json) process.stdout.write(`${JSON.stringify({ dir, summary: result.summary })}\n`);
      else {
        const written = fs.readdirSync(dir).filter((f) => f !== 'invocation.json' && f !== 'checkpoints').sort();
        // A directory outside the working directory is named in full, not as ../../x.
        const rel = path.relative(process.cwd(), dir);
        const shown = rel === '' ? '.' : rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel) ? dir : rel;
        process.stdout.write(`${formatRunSummary(result.headline, result.verdictLines ?? result.verdicts ?? [])}\nwrote ${shown}/ (${written.join(', ')})\n`);
      }
      return 0;
    } catch (e) {
      if (e instanceof RunStopped) {
        process.stderr.write(`lplr: ${e.message}\n`);
        return 130;
      }
      throw e;
    } finally {
      rt?.destroy();
    }
  }
}
