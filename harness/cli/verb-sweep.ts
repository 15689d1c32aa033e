// `lplr sweep EXPERIMENT --grid KEY=V1,V2 ... --seeds 0-4 --out DIR [--shard I/N] [--parallel P]`:
// expand the grid, validate every point, write the plan, run this shard's runs (skipping complete
// ones, resuming interrupted ones). `lplr merge DIR` then builds the merged report.
import * as path from 'node:path';
import { closest, ConfigError } from '../../src/errors.js';
import { init } from '../../src/entry-node.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { MLP_OPTIONS, RUN_OPTIONS, type MlpRunConfig } from '../experiments/mlp-config.js';
import { loadMlpData, resolveMlpConfigWithFiles } from '../experiments/mlp-lab.js';
import { theoryMeasure } from '../experiments/ntk.js';
import { withLinearized } from '../experiments/linearized.js';
import { createProgress } from '../run/progress.js';
import {
  checkSweepDir,
  cliWorkerLauncher,
  executeSweep,
  inShard,
  parseGridArg,
  parseSeeds,
  planSweep,
  PLAN_FILE,
  resolveShard,
  runState,
  serveSweepWorker,
  writePlan,
  type RunOutcome,
  type SweepContext,
} from '../run/sweep.js';
import { helpText, parseArgs, type OptionSpec, type ParsedArgs } from '../options/args.js';
import type { Verb } from './verb.js';

/** Experiments a sweep can expand: each point is one single MLP run. */
const SWEEPABLE: Record<string, string> = {
  fig1: 'Figure 1 runs: full-batch GD on binary MNIST, one run per grid point and seed (Figure 2 fits included)',
};

const SWEEP_OPTIONS: OptionSpec[] = [
  { name: 'grid', type: 'string', repeatable: true, help: "a grid axis: an MLP option and its values (repeat for more axes; list-valued options separate values with '/')", placeholder: 'KEY=V1,V2,...' },
  { name: 'seeds', type: 'string', help: 'seeds of every grid point, e.g. 0-4 or 0,3,7 (default: --seed)', placeholder: 'LIST' },
  { name: 'out', type: 'string', help: 'the sweep directory, shared by all shards (required)', placeholder: 'DIR' },
  { name: 'shard', type: 'string', help: 'run only the runs whose index mod N is I (default: from SLURM_ARRAY_TASK_* or JOB_COMPLETION_INDEX + LPLR_SHARD_COUNT)', placeholder: 'I/N' },
  { name: 'parallel', type: 'int', help: 'child processes running this shard\'s runs at once', default: 1, min: 1, max: 256 },
  { name: 'replan', type: 'bool', help: `replace a different ${PLAN_FILE} in --out (unchanged finished runs are kept)`, default: false },
  { name: 'force', type: 'bool', help: `use a non-empty --out that is not a sweep (no ${PLAN_FILE}); its files are kept, but lplr merge replaces its summary.json and report.html`, default: false },
  { name: 'dry-run', type: 'bool', help: 'print the plan and each run\'s shard and state; run nothing', default: false },
];

/** Run options a sweep shares with `lplr run` (--out and --force mean other things here: SWEEP_OPTIONS). */
const SHARED_RUN_OPTIONS = RUN_OPTIONS.filter((o) => o.name !== 'out' && o.name !== 'force');

/** Options forwarded to worker processes (the plan carries everything else). */
const WORKER_FORWARDED = ['backend', 'adapter', 'checkpoint-every', 'checkpoint-minutes', 'continue-on-nan', 'save-params', 'keep-checkpoint', 'quiet'];

/** The lplr run checks (files exist, the theory checks fit the loss) for every grid point. */
function resolvePoint(parsed: ParsedArgs): MlpRunConfig {
  const config = resolveMlpConfigWithFiles(parsed);
  theoryMeasure(config);
  return config;
}

/** Read and check the data files as a run would (planSweep calls this once per distinct data). */
function checkPointInputs(config: MlpRunConfig): void {
  loadMlpData(config);
}

const WORKER_OPTIONS: OptionSpec[] = [...SHARED_RUN_OPTIONS, { name: 'out', type: 'string', help: 'the sweep directory' }, { name: 'worker', type: 'bool', help: 'internal' }];

function usage(): string {
  return [
    'Usage: lplr sweep EXPERIMENT --grid KEY=V1,V2,... [--grid ...] [--seeds 0-4] --out DIR [--shard I/N] [--parallel P]',
    '',
    'Experiments:',
    ...Object.entries(SWEEPABLE).map(([k, v]) => `  ${k.padEnd(6)} ${v}`),
    '',
    'lplr sweep fig1 --help lists the options. Afterwards: lplr merge DIR.',
  ].join('\n');
}

function sweepContext(args: ParsedArgs, quiet: boolean, holder: { rt?: Runtime }): SweepContext {
  let pending: Promise<Runtime> | undefined;
  return {
    runtime: () =>
      (pending ??= init({ quiet, backend: args.values.backend as string | undefined, adapter: args.values.adapter as string | undefined }).then((rt) => {
        holder.rt = rt;
        return rt;
      })),
    discardRuntime: () => {
      holder.rt?.destroy();
      holder.rt = undefined;
      pending = undefined;
    },
    progress: (label) => createProgress({ quiet, label: label ? `[${label}]` : 'sweep:' }),
    runOptions: {
      checkpointEvery: args.values['checkpoint-every'] as number,
      checkpointMinutes: args.values['checkpoint-minutes'] as number,
      continueOnNonFinite: Boolean(args.values['continue-on-nan']),
      saveParams: Boolean(args.values['save-params']),
      keepCheckpoint: Boolean(args.values['keep-checkpoint']),
    },
    // --ntk-every k adds the theory checks to every run, as in lplr run.
    measureFor: withLinearized(theoryMeasure),
    reuseRoots: [],
  };
}

/** Re-create the flags of the forwarded options for a worker's command line. */
function forwardedArgv(args: ParsedArgs): string[] {
  const out: string[] = [];
  for (const name of WORKER_FORWARDED) {
    if (!args.given.has(name)) continue;
    const v = args.values[name];
    if (typeof v === 'boolean') out.push(v ? `--${name}` : `--no-${name}`);
    else out.push(`--${name}`, String(v));
  }
  return out;
}

async function runWorker(argv: string[]): Promise<number> {
  const args = parseArgs(argv, WORKER_OPTIONS);
  const dir = args.values.out as string | undefined;
  if (!dir) throw new ConfigError('--worker needs --out DIR.');
  const holder: { rt?: Runtime } = {};
  try {
    return await serveSweepWorker(path.resolve(dir), sweepContext(args, Boolean(args.values.quiet), holder), { resume: true, onFailure: 'record' });
  } finally {
    holder.rt?.destroy();
  }
}

const OUTCOME_ORDER: RunOutcome[] = ['skipped', 'reused', 'resumed', 'ran', 'failed', 'stopped', 'not started'];

export const sweepVerb: Verb = {
  name: 'sweep',
  summary: 'run a grid of configurations × seeds (resumable; shards for Slurm arrays / Kubernetes Indexed Jobs)',
  async run(argv) {
    if (argv.includes('--worker')) return runWorker(argv);
    const name = argv[0];
    if (!name || name.startsWith('--')) {
      process.stdout.write(`${usage()}\n`);
      return name === '--help' || name === '-h' ? 0 : 2;
    }
    if (!(name in SWEEPABLE)) {
      const builtIn = name === 'fig4' || name === 'fig5' ? ` ${name} is a built-in sweep: 'lplr run ${name}' (or sweep fig1 with --grid ${name === 'fig4' ? 'init=he,enhanced' : 'width=64,128,...'}).` : '';
      const hint = closest(name, Object.keys(SWEEPABLE));
      throw new ConfigError(`lplr sweep cannot expand '${name}'.${hint ? ` Did you mean '${hint}'?` : ''}${builtIn} Sweepable: ${Object.keys(SWEEPABLE).join(', ')}.`);
    }
    const specs = [...MLP_OPTIONS, ...SWEEP_OPTIONS, ...SHARED_RUN_OPTIONS, { name: 'help', type: 'bool' as const, help: 'show this help' }];
    const args = parseArgs(argv.slice(1), specs);
    if (args.values.help) {
      process.stdout.write(`${helpText(`lplr sweep ${name} --grid KEY=V1,V2,... [options]`, SWEEPABLE[name], specs)}\n`);
      return 0;
    }
    if (args.positionals.length) throw new ConfigError(`Unexpected argument '${args.positionals[0]}'. Options start with --.`);

    // Everything is validated before a device exists or a file is written.
    const axes = ((args.values.grid as string[] | undefined) ?? []).map((g) => parseGridArg(g, MLP_OPTIONS));
    if (args.given.has('seeds') && args.given.has('seed')) throw new ConfigError('Give either --seed or --seeds, not both.');
    const seeds = args.given.has('seeds') ? parseSeeds(String(args.values.seeds)) : [args.values.seed as number];
    const plan = planSweep(name, args, MLP_OPTIONS, axes, seeds, resolvePoint, checkPointInputs);
    const shard = resolveShard(args.values.shard as string | undefined);
    const outArg = args.values.out as string | undefined;
    if (!outArg) throw new ConfigError('lplr sweep needs --out DIR: the directory all shards share (and lplr merge reads).');
    const dir = path.resolve(outArg);
    const mine = plan.runs.filter((r) => inShard(r.index, shard));
    const quiet = Boolean(args.values.quiet) || Boolean(args.values.json);
    const shardText = shard.count > 1 ? `shard ${shard.index}/${shard.count} (${shard.source})` : 'one shard';
    const configs = plan.runs.length / plan.seeds.length;

    if (args.values['dry-run']) {
      // The refusal a real start would meet, without writing anything.
      checkSweepDir(dir, Boolean(args.values.force));
      const lines = [`plan: ${plan.runs.length} runs (${configs} configurations × ${plan.seeds.length} seeds) in ${dir}; ${shardText} owns ${mine.length}`];
      for (const r of plan.runs) {
        const state = runState(path.join(dir, r.dir)).state;
        lines.push(`${String(r.index).padStart(5)}  shard ${r.index % shard.count}${inShard(r.index, shard) ? '*' : ' '}  ${state.padEnd(11)}  ${r.dir}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    }

    writePlan(dir, plan, Boolean(args.values.replan), Boolean(args.values.force));
    const log = createProgress({ quiet, label: 'sweep:' });
    log.log(`${plan.runs.length} runs (${configs} configurations × ${plan.seeds.length} seeds) in ${dir}; ${shardText}: ${mine.length} runs`);

    const holder: { rt?: Runtime } = {};
    const parallel = args.values.parallel as number;
    let execution;
    try {
      execution = await executeSweep(dir, mine, sweepContext(args, quiet, holder), {
        resume: true,
        onFailure: 'record',
        parallel,
        launch: parallel > 1 ? cliWorkerLauncher(['sweep', '--worker', '--out', dir, ...forwardedArgv(args)]) : undefined,
      });
    } finally {
      holder.rt?.destroy();
    }
    const counts = Object.fromEntries(OUTCOME_ORDER.map((o) => [o, execution.results.filter((r) => r.outcome === o).length])) as Record<RunOutcome, number>;
    const failed = execution.results.filter((r) => r.outcome === 'failed');
    if (args.values.json) {
      process.stdout.write(`${JSON.stringify({ dir, shard, planned: plan.runs.length, runs: mine.length, counts, results: execution.results.map((r) => ({ ...r, dir: path.relative(dir, r.dir) })) })}\n`);
    } else {
      const parts = OUTCOME_ORDER.filter((o) => counts[o] > 0 || ['skipped', 'ran', 'failed'].includes(o)).map((o) => `${counts[o]} ${o}`);
      process.stdout.write(`${shardText}: ${mine.length} runs: ${parts.join(', ')}\n`);
      // First lines only: GPU errors run over many lines; failed.json and lplr merge's report keep them whole.
      for (const f of failed) process.stdout.write(`  failed ${f.label}: ${(f.error ?? '').split('\n')[0]}\n`);
      if (execution.stopped) process.stdout.write(`stopped by a signal; run the same command again to resume.\n`);
      else process.stdout.write(`merge with: lplr merge ${path.relative(process.cwd(), dir) || '.'}\n`);
    }
    if (execution.stopped) return 130;
    // 3: the shard finished but some runs failed (their failed.json says why); a scheduler sees the task fail.
    return failed.length > 0 ? 3 : 0;
  },
};

