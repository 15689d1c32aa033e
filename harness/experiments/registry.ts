// The experiments `lplr run NAME` knows. Each resolves and validates its config before a
// device exists (prepare), then runs into its directory (run).
import * as path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { summarizeRun, type RunSummary } from '../../src/metrics/summary.js';
import { widthEffectVerdict, type Verdict } from '../../src/metrics/verdicts.js';
import type { MetricRow } from '../../src/metrics/schema.js';
import type { OptionSpec, ParsedArgs } from '../cli/args.js';
import type { Progress } from '../run/progress.js';
import { readJson, readMetrics, writeJsonAtomic } from '../run/run-dir.js';
import { copyRun } from '../run/grid.js';
import { ensureRun, executeSweep, runSpec, type SweepRunSpec } from '../run/sweep.js';
import { writeMlpReport, writeSetReport } from '../run/reports.js';
import { MLP_OPTIONS, type MlpRunConfig } from './mlp-config.js';
import { resolveMlpConfigWithFiles } from './mlp-lab.js';
import { type RunMlpOptions } from './mlp-lab.js';
import { fig3 } from './cifar-lab.js';
import { ntkExperiment, theoryMeasure } from './ntk.js';
import * as fs from 'node:fs';

export interface ExperimentContext {
  rt: Runtime;
  dir: string;
  progress: Progress;
  /** Where to look for completed runs to reuse (the runs/ root). */
  reuseRoots: string[];
  /** Checkpoint cadence and divergence handling for every single run. */
  runOptions: Pick<RunMlpOptions, 'checkpointEvery' | 'checkpointMinutes' | 'continueOnNonFinite' | 'saveParams'>;
  /** Continue interrupted runs from their checkpoints (lplr resume). */
  resume?: boolean;
}

export interface ExperimentResult {
  headline: string;
  summary: unknown;
}

export interface Experiment<P = unknown> {
  name: string;
  description: string;
  options: OptionSpec[];
  /** Resolve and validate everything that can be checked without a GPU. */
  prepare(args: ParsedArgs): P;
  /** Whether run() needs a GPU (a pure re-analysis does not). */
  needsGpu?(prepared: P): boolean;
  run(ctx: ExperimentContext, prepared: P): Promise<ExperimentResult>;
}

function fmtRate(s: RunSummary): string {
  const f = s.lStar.min.semiLog;
  return `ρ=${Number.isFinite(f.rho) ? f.rho.toFixed(5) : '?'}/epoch (R² ${Number.isFinite(f.r2) ? f.r2.toFixed(3) : '?'})`;
}

function passed(verdicts: Verdict[]): string {
  return verdicts.map((v) => `${v.name}: ${v.passed ? 'yes' : 'no'}`).join(', ');
}

/**
 * Run one MLP configuration in `dir`: skip it when complete, continue it from its
 * checkpoint when resuming, copy a matching completed run found elsewhere (reuse), or train.
 */
async function runOrReuse(
  ctx: ExperimentContext,
  config: MlpRunConfig,
  dir: string,
  title: string,
  opts: { reuse?: boolean; measure?: RunMlpOptions['measure'] } = {},
): Promise<{ rows: MetricRow[]; summary: RunSummary; reused?: string }> {
  const res = await ensureRun(
    // --ntk-every k adds the theory checks (ntk/hessian rows) to any MLP run.
    { runtime: async () => ctx.rt, progress: ctx.progress, runOptions: ctx.runOptions, measureFor: theoryMeasure, resume: Boolean(ctx.resume), reuseRoots: ctx.reuseRoots },
    config,
    dir,
    title,
    opts,
  );
  return { rows: res.rows, summary: res.summary, reused: res.reusedFrom };
}

const fig1: Experiment<MlpRunConfig> = {
  name: 'fig1',
  description: 'Figure 1: full-batch GD on binary MNIST; semi-log suboptimality gap vs epoch with the fitted line (also Figure 2).',
  options: MLP_OPTIONS,
  prepare: (args) => resolveMlpConfigWithFiles(args),
  async run(ctx, config) {
    const res = await runOrReuse(ctx, config, ctx.dir, 'Figure 1 — linear convergence of full-batch GD', { reuse: false });
    return { headline: `final loss ${res.summary.final.loss.toExponential(4)}, ${fmtRate(res.summary)}; ${passed(res.summary.verdicts)}`, summary: res.summary };
  },
};

interface Fig2Prepared {
  from?: string;
  config: MlpRunConfig;
}

const fig2: Experiment<Fig2Prepared> = {
  name: 'fig2',
  description: 'Figure 2: log-log ‖∇L‖² vs gap with the fitted slope; reuses a fig1 run (--from RUN_DIR) or runs one.',
  options: [...MLP_OPTIONS, { name: 'from', type: 'string', help: 'an existing fig1 run directory to analyse', placeholder: 'RUN_DIR' }],
  prepare(args) {
    const from = args.values.from as string | undefined;
    if (from && !fs.existsSync(path.join(from, 'metrics.jsonl'))) {
      throw new ConfigError(`--from ${from}: no metrics.jsonl there. Point it at a finished 'lplr run fig1' directory.`);
    }
    return { from, config: resolveMlpConfigWithFiles(args) };
  },
  needsGpu: (p) => !p.from,
  async run(ctx, p) {
    let rows: MetricRow[];
    let config = p.config;
    if (p.from) {
      rows = readMetrics(path.join(p.from, 'metrics.jsonl')) as MetricRow[];
      const srcConfig = readJson<{ config?: MlpRunConfig }>(path.join(p.from, 'config.json')).config;
      if (srcConfig) config = { ...srcConfig, fitWindow: p.config.fitWindow ?? srcConfig.fitWindow };
      copyRun(p.from, ctx.dir);
    } else {
      rows = (await runOrReuse(ctx, config, ctx.dir, 'Figure 2 — local PL check', { reuse: false })).rows;
    }
    const summary = summarizeRun(rows, { fitWindow: config.fitWindow });
    writeJsonAtomic(path.join(ctx.dir, 'summary.json'), summary);
    writeMlpReport(ctx.dir, 'Figure 2 — local PL check: ‖∇L‖² vs gap', config, rows, summary, { focus: 'fig2' });
    const ll = summary.lStar.min.logLog;
    return { headline: `log-log slope ${ll.slope.toFixed(3)} (R² ${ll.r2.toFixed(3)}); ${passed(summary.verdicts)}`, summary };
  },
};

function subRun(base: MlpRunConfig, index: number, label: string, patch: Partial<MlpRunConfig>, point: Record<string, unknown>): SweepRunSpec {
  return runSpec(index, label, { ...base, ...patch }, point);
}

/**
 * fig4 and fig5 are built-in sweeps: the executor of lplr sweep (runs/<label>-<hash>, complete
 * runs skipped, matching runs elsewhere reused), here in this process, stopping at the first error.
 */
async function runSet(ctx: ExperimentContext, runs: SweepRunSpec[]) {
  const dirs = new Map(runs.map((r) => [r.label, path.join(ctx.dir, r.dir)]));
  await executeSweep(
    ctx.dir,
    runs,
    {
      runtime: async () => ctx.rt,
      progress: (label) => {
        ctx.progress.log(`run ${label} → ${dirs.get(label)}`);
        return ctx.progress;
      },
      runOptions: ctx.runOptions,
      measureFor: theoryMeasure,
      reuseRoots: ctx.reuseRoots,
    },
    { resume: Boolean(ctx.resume), onFailure: 'throw' },
  );
  return runs.map((r) => {
    const dir = path.resolve(ctx.dir, r.dir);
    return { label: r.label, dir, config: r.config, rows: readMetrics(path.join(dir, 'metrics.jsonl')) as MetricRow[], summary: readJson<RunSummary>(path.join(dir, 'summary.json')) };
  });
}

const fig4: Experiment<MlpRunConfig> = {
  name: 'fig4',
  description: 'Figure 4: He vs enhanced (depth-scaled) initialization, both curves on one plot, rates side by side.',
  options: MLP_OPTIONS,
  prepare: (args) => resolveMlpConfigWithFiles(args),
  async run(ctx, base) {
    const runs = [subRun(base, 0, 'he', { init: 'he', depthFactor: undefined }, { init: 'he' }), subRun(base, 1, 'enhanced', { init: 'enhanced', depthFactor: base.depthFactor }, { init: 'enhanced' })];
    const results = await runSet(ctx, runs);
    const rates = results.map((r) => ({ label: r.label, rho: r.summary.lStar.min.semiLog.rho, r2: r.summary.lStar.min.semiLog.r2, finalLoss: r.summary.final.loss, dir: path.relative(ctx.dir, r.dir) }));
    const slowerEnhanced = rates[1].rho > rates[0].rho;
    const summary = {
      experiment: 'fig4',
      runs: rates,
      comparison: {
        enhancedSlower: slowerEnhanced,
        rule: 'the paper reports that the enhanced init converges more slowly (larger ρ per epoch)',
      },
    };
    writeJsonAtomic(path.join(ctx.dir, 'summary.json'), summary);
    writeSetReport(ctx.dir, 'fig4', 'Figure 4 — He vs enhanced initialization', results);
    return { headline: `He ρ=${rates[0].rho.toFixed(5)}, enhanced ρ=${rates[1].rho.toFixed(5)} per epoch; enhanced slower: ${slowerEnhanced ? 'yes' : 'no'}`, summary };
  },
};

const WIDTH_OPTION: OptionSpec = { name: 'widths', type: 'int-list', help: 'widths of the ablation', default: [64, 128, 256, 512, 1024, 2048], min: 1 };

const fig5: Experiment<{ base: MlpRunConfig; widths: number[] }> = {
  name: 'fig5',
  description: 'Figure 5: width ablation: final loss vs width (log axes), each width’s rate and final drift.',
  options: [...MLP_OPTIONS, WIDTH_OPTION],
  prepare: (args) => {
    const widths = args.values.widths as number[];
    if (new Set(widths).size !== widths.length) throw new ConfigError('--widths has duplicates.');
    return { base: resolveMlpConfigWithFiles(args), widths };
  },
  async run(ctx, { base, widths }) {
    const runs = widths.map((w, i) => subRun(base, i, `w${w}`, { width: w }, { width: w }));
    const results = await runSet(ctx, runs);
    const points = results.map((r) => ({ width: r.config.width, finalLoss: r.summary.final.loss }));
    const verdict = widthEffectVerdict(points);
    const summary = {
      experiment: 'fig5',
      runs: results.map((r) => ({
        width: r.config.width,
        finalLoss: r.summary.final.loss,
        rho: r.summary.lStar.min.semiLog.rho,
        r2: r.summary.lStar.min.semiLog.r2,
        finalDrift: r.summary.final.drift,
        dir: path.relative(ctx.dir, r.dir),
      })),
      verdicts: [verdict],
    };
    writeJsonAtomic(path.join(ctx.dir, 'summary.json'), summary);
    writeSetReport(ctx.dir, 'fig5', 'Figure 5 — width ablation', results, [verdict]);
    return { headline: `final loss by width: ${points.map((p) => `${p.width}: ${p.finalLoss.toExponential(3)}`).join(', ')}; ${verdict.name}: ${verdict.passed ? 'yes' : 'no'}`, summary };
  },
};

const all: Experiment<{ base: MlpRunConfig; widths: number[] }> = {
  name: 'all',
  description: 'fig1, fig2, fig4 and fig5 in sub-directories of one run directory (runs are reused across them).',
  options: [...MLP_OPTIONS, WIDTH_OPTION],
  prepare: fig5.prepare,
  async run(ctx, p) {
    const headlines: string[] = [];
    const summaries: Record<string, unknown> = {};
    const sub = (name: string) => {
      const dir = path.join(ctx.dir, name);
      fs.mkdirSync(dir, { recursive: true });
      return { ...ctx, dir, reuseRoots: [ctx.dir, ...ctx.reuseRoots] };
    };
    const r1 = await fig1.run(sub('fig1'), p.base);
    const r2 = await fig2.run(sub('fig2'), { from: path.join(ctx.dir, 'fig1'), config: p.base });
    const r4 = await fig4.run(sub('fig4'), p.base);
    const r5 = await fig5.run(sub('fig5'), p);
    for (const [name, r] of Object.entries({ fig1: r1, fig2: r2, fig4: r4, fig5: r5 })) {
      headlines.push(`${name}: ${r.headline}`);
      summaries[name] = r.summary;
    }
    writeJsonAtomic(path.join(ctx.dir, 'summary.json'), summaries);
    return { headline: headlines.join('\n'), summary: summaries };
  },
};

export const EXPERIMENTS: Experiment<any>[] = [fig1, fig2, fig3, fig4, fig5, all, ntkExperiment];

export function registerExperiment(e: Experiment<any>): void {
  EXPERIMENTS.push(e);
}
