// Sweep planning, sharding and merging without a GPU: grid parsing and validation, run
// identities, the shard each scheduler's variables select, the plan file, and the statistics
// of lplr merge against hand-computed values.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../harness/options/args.js';
import { MLP_OPTIONS, mlpIdentity, resolveMlpConfig } from '../harness/experiments/mlp-config.js';
import { mergedSections, mergeSweep, stat } from '../harness/report/merge-sections.js';
import { configHash } from '../harness/run/run-dir.js';
import { inShard, parseGridArg, parseSeeds, planSweep, resolveShard, runState, writePlan, type CollectedRun } from '../harness/run/sweep.js';
import type { EpochRow } from '../src/metrics/schema.js';
import { summarizeRun } from '../harness/analysis/summary.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');

function plan(argv: string[], grids: string[], seeds = [0]) {
  const args = parseArgs(argv, MLP_OPTIONS);
  return planSweep('fig1', args, MLP_OPTIONS, grids.map((g) => parseGridArg(g, MLP_OPTIONS)), seeds);
}

describe('grid and seeds', () => {
  it('converts values like their flags; list-valued options separate values with /', () => {
    expect(parseGridArg('width=8,16', MLP_OPTIONS)).toEqual({ key: 'width', values: [8, 16] });
    expect(parseGridArg('lr=0.1,1e-3', MLP_OPTIONS).values).toEqual([0.1, 0.001]);
    expect(parseGridArg('init=he,enhanced', MLP_OPTIONS).values).toEqual(['he', 'enhanced']);
    expect(parseGridArg('digits=0,1/3,8', MLP_OPTIONS).values).toEqual([
      [0, 1],
      [3, 8],
    ]);
  });

  it.each([
    ['widht=8', /Unknown grid key 'widht'\. Did you mean 'width'\?/],
    ['width=8,abc', /In --grid width=8,abc: --width expects an integer, got 'abc'/],
    ['lr=-1', /--lr must be >= 0/],
    ['init=glorot', /--init must be one of/],
    ['width=8,,16', /empty value/],
    ['width=8,8', /lists 8 twice/],
    ['seed=1,2', /Sweep seeds with --seeds/],
    ['width', /--grid expects KEY=V1,V2/],
  ])('rejects --grid %s', (raw, message) => {
    expect(() => parseGridArg(raw, MLP_OPTIONS)).toThrow(message);
  });

  it('parses seed lists and ranges', () => {
    expect(parseSeeds('0-4')).toEqual([0, 1, 2, 3, 4]);
    expect(parseSeeds('7,0-1,3')).toEqual([7, 0, 1, 3]);
    expect(() => parseSeeds('4-2')).toThrow(/backwards/);
    expect(() => parseSeeds('a')).toThrow(/--seeds expects/);
    expect(() => parseSeeds('1,1')).toThrow(/twice/);
  });
});

describe('planSweep', () => {
  it('expands axes in order with seeds innermost; each run is the config `lplr run fig1` gets for the same flags', () => {
    const p = plan(['--preset', 'tiny'], ['width=8,16', 'lr=0.1,0.01'], [0, 1]);
    expect(p.runs.map((r) => r.label)).toEqual([
      'w8-lr0.1-s0', 'w8-lr0.1-s1', 'w8-lr0.01-s0', 'w8-lr0.01-s1',
      'w16-lr0.1-s0', 'w16-lr0.1-s1', 'w16-lr0.01-s0', 'w16-lr0.01-s1',
    ]);
    expect(p.runs.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const r = p.runs[5];
    const single = resolveMlpConfig(parseArgs(['--preset', 'tiny', '--width', '16', '--lr', '0.1', '--seed', '1'], MLP_OPTIONS));
    expect(r.config).toEqual(single);
    expect(r.hash).toBe(configHash(mlpIdentity(single)));
    expect(r.dir).toBe(path.join('runs', `w16-lr0.1-s1-${r.hash}`));
  });

  it('gives every run a new directory when a shared option such as --epochs changes', () => {
    const a = plan(['--preset', 'tiny'], ['width=8,16']);
    const b = plan(['--preset', 'tiny', '--epochs', '7'], ['width=8,16']);
    expect(new Set([...a.runs, ...b.runs].map((r) => r.dir)).size).toBe(4);
    expect(b.runs.every((r) => r.config.epochs === 7)).toBe(true);
  });

  it('validates every grid point before anything runs', () => {
    expect(() => plan(['--preset', 'tiny', '--depth-factor', '0.5'], ['init=enhanced,he'])).toThrow(/Grid point init=he, seed=0: --depth-factor only applies to --init enhanced/);
    expect(() => plan(['--preset', 'tiny', '--width', '8'], ['width=8,16'])).toThrow(/--width is given both as a flag and in --grid/);
    expect(() => plan(['--preset', 'tiny'], ['width=8', 'width=16'])).toThrow(/given twice/);
    // With every preset value given explicitly, the two presets resolve to one configuration.
    const explicit = ['--width', '16', '--depth', '3', '--epochs', '6', '--lstar-extend', '0', '--lr', '0.01', '--subset', '64', '--init', 'he'];
    expect(() => plan(explicit, ['preset=tiny,default'])).toThrow(/Grid points preset=tiny, seed=0 and preset=default, seed=0 resolve to the same configuration/);
  });
});

describe('shards', () => {
  it('--shard I/N wins; otherwise Slurm arrays, then Kubernetes Indexed Jobs', () => {
    expect(resolveShard('2/5', { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '3' })).toEqual({ index: 2, count: 5, source: '--shard' });
    expect(resolveShard(undefined, { SLURM_ARRAY_TASK_ID: '12', SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_COUNT: '4' })).toMatchObject({ index: 2, count: 4 });
    // --array=1-7:2 has tasks 1, 3, 5, 7
    expect(resolveShard(undefined, { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_STEP: '2', SLURM_ARRAY_TASK_COUNT: '4' })).toMatchObject({ index: 2, count: 4 });
    expect(resolveShard(undefined, { JOB_COMPLETION_INDEX: '3', LPLR_SHARD_COUNT: '8' })).toEqual({ index: 3, count: 8, source: 'Kubernetes Indexed Job' });
    expect(resolveShard(undefined, {})).toEqual({ index: 0, count: 1, source: 'none' });
  });

  it.each([
    ['3/3', {}, /shard index 3 is not below the shard count 3/],
    ['1-3', {}, /--shard expects I\/N/],
    [undefined, { SLURM_ARRAY_TASK_ID: '2' }, /SLURM_ARRAY_TASK_COUNT is not/],
    [undefined, { SLURM_ARRAY_TASK_ID: '9', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '3' }, /--array=0-2/],
    [undefined, { JOB_COMPLETION_INDEX: '0' }, /LPLR_SHARD_COUNT is not/],
    [undefined, { JOB_COMPLETION_INDEX: 'x', LPLR_SHARD_COUNT: '2' }, /JOB_COMPLETION_INDEX='x'/],
  ])('rejects shard %s with %j', (flag, env, message) => {
    expect(() => resolveShard(flag, env)).toThrow(message);
  });

  it('N shards partition the runs', () => {
    for (const n of [1, 2, 3, 7]) {
      const owners = Array.from({ length: 20 }, (_, i) => Array.from({ length: n }, (_, s) => s).filter((s) => inShard(i, { index: s, count: n, source: '' })));
      expect(owners.every((o) => o.length === 1)).toBe(true);
    }
  });
});

describe('the plan file', () => {
  it('is rewritten identically, and a different plan needs --replan', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-plan-'));
    const a = plan(['--preset', 'tiny'], ['width=8,16']);
    expect(writePlan(dir, a, false)).toBe('written');
    const bytes = fs.readFileSync(path.join(dir, 'sweep.json'), 'utf8');
    expect(writePlan(dir, plan(['--preset', 'tiny'], ['width=8,16']), false)).toBe('unchanged');
    const b = plan(['--preset', 'tiny', '--epochs', '9'], ['width=8,16']);
    expect(() => writePlan(dir, b, false)).toThrow(/describes a different sweep \(options \{"preset":"tiny"\} → \{"epochs":9,"preset":"tiny"\}\).*--replan/);
    expect(fs.readFileSync(path.join(dir, 'sweep.json'), 'utf8')).toBe(bytes);
    expect(writePlan(dir, b, true)).toBe('written');
    expect(fs.readdirSync(dir)).toEqual(['sweep.json']);
  });
});

describe('merge statistics', () => {
  it('stat: mean, sample std (n − 1), min, max over finite values only', () => {
    const s = stat([1, 2, null, 3, 4, NaN, Infinity]);
    expect(s.n).toBe(4);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 14);
    expect([s.min, s.max]).toEqual([1, 4]);
    expect(stat([7])).toEqual({ n: 1, mean: 7, std: null, min: 7, max: 7 });
    expect(stat([])).toEqual({ n: 0, mean: null, std: null, min: null, max: null });
  });

  /** Epoch rows of L_t = L∞ + c·ρ^t: the semi-log fit with L* = min recovers about ρ. */
  function rowsFor(rho: number, floor: number, epochs = 30): EpochRow[] {
    return Array.from({ length: epochs + 1 }, (_, t) => ({ kind: 'epoch', epoch: t, loss: floor + rho ** t, gradNormSq: 2 * rho ** t, acc: 1, drift: 0.1 * t, timeMs: 10 * t }) as EpochRow);
  }

  it('groups seeds per configuration; width ablation and missing runs', () => {
    const p = plan(['--preset', 'tiny'], ['width=8,16,32'], [0, 1]);
    const finals: Record<number, number[]> = { 8: [0.3, 0.5], 16: [0.2, 0.25], 32: [0.1, 0.12] };
    const collected: CollectedRun[] = p.runs.map((spec) => {
      const width = spec.point.width as number;
      const seed = spec.point.seed as number;
      if (width === 32 && seed === 1) return { spec, state: 'missing' };
      return { spec, state: 'complete', summary: JSON.parse(JSON.stringify(summarizeRun(rowsFor(0.9 - 0.1 * seed, finals[width][seed])))) };
    });
    const m = mergeSweep(p, collected);
    expect(m.configurations.map((c) => c.label)).toEqual(['width=8', 'width=16', 'width=32']);
    const w8 = m.configurations[0];
    const last = 0.3 + 0.9 ** 30;
    const last1 = 0.5 + 0.8 ** 30;
    expect(w8.finalLoss.mean).toBeCloseTo((last + last1) / 2, 12);
    // The sample std of two values is |a − b| / √2.
    expect(w8.finalLoss.std).toBeCloseTo(Math.abs(last - last1) / Math.SQRT2, 12);
    const rhos = collected.slice(0, 2).map((c) => c.summary!.lStar.min.semiLog.rho);
    expect(w8.rates.min.rho.mean).toBeCloseTo((rhos[0] + rhos[1]) / 2, 12);
    expect(w8.curves.epochs).toHaveLength(31);
    expect(w8.curves.loss.mean[2]).toBeCloseTo((0.3 + 0.81 + 0.5 + 0.64) / 2, 12);
    expect(w8.curves.loss.std[2]).toBeCloseTo(Math.abs(0.3 + 0.81 - 0.5 - 0.64) / Math.SQRT2, 12);
    const w32 = m.configurations[2];
    expect(w32.finalLoss).toMatchObject({ n: 1, std: null });
    expect(w32.completedSeeds).toEqual([0]);
    expect(m.counts).toEqual({ planned: 6, complete: 5, failed: 0, unfinished: 0, missing: 1, diverged: 0 });
    expect(m.problems).toEqual([{ index: 5, label: 'w32-s1', dir: p.runs[5].dir, state: 'missing' }]);
    expect(m.widthAblation).toHaveLength(1);
    const ab = m.widthAblation![0];
    expect(ab.points.map((x) => x.width)).toEqual([8, 16, 32]);
    expect(ab.points[0].seeds.map((s) => s.finalLoss)).toEqual([last, last1]);
    // Mean final loss falls with width: Spearman −1, the verdict passes.
    expect(ab.verdict.passed).toBe(true);
  });
});

describe('merge: diverged runs and verdict outcomes', () => {
  /** L_t = floor + a·t^(−1): a power law (sublinear); ‖∇L‖² tracks the gap squared-ish. */
  function powerRows(epochs = 60): EpochRow[] {
    return Array.from({ length: epochs + 1 }, (_, t) => ({ kind: 'epoch', epoch: t, loss: 0.01 + 1 / (t + 1), gradNormSq: 2 / (t + 1) ** 2, acc: 1, drift: 0.01 * t, timeMs: t }) as EpochRow);
  }
  /** Exponential decay to 0 with ‖∇L‖² = 2·L: linear convergence, PL holds. */
  function expRows(rho: number, epochs = 60): EpochRow[] {
    return Array.from({ length: epochs + 1 }, (_, t) => ({ kind: 'epoch', epoch: t, loss: rho ** t, gradNormSq: 2 * rho ** t, acc: 1, drift: 0.01 * t, timeMs: t }) as EpochRow);
  }
  /** A loss that grows every epoch but stays finite (a run past the stable step size with --continue-on-nan off). */
  function blowUpRows(epochs = 60): EpochRow[] {
    return Array.from({ length: epochs + 1 }, (_, t) => ({ kind: 'epoch', epoch: t, loss: 0.3 * 1.5 ** t, gradNormSq: 1.5 ** (2 * t), acc: 0.5, drift: t, timeMs: t }) as EpochRow);
  }
  const summaryOf = (rows: EpochRow[]) => JSON.parse(JSON.stringify(summarizeRun(rows)));

  it('counts NaN stops and runs that end above their start as diverged, leaves them out of the statistics, and counts each verdict outcome', () => {
    const p = plan(['--preset', 'tiny'], ['lr=0.01,0.1'], [0, 1, 2]);
    const collected: CollectedRun[] = p.runs.map((spec) => {
      const lr = spec.point.lr as number;
      const seed = spec.point.seed as number;
      if (lr === 0.01) return { spec, state: 'complete', summary: summaryOf(seed === 2 ? powerRows() : expRows(0.9 - 0.05 * seed)) };
      if (seed === 0) return { spec, state: 'failed', detail: 'Training diverged at epoch 4', diverged: { epoch: 4 } };
      if (seed === 1) return { spec, state: 'complete', summary: summaryOf(blowUpRows()) };
      return { spec, state: 'complete', summary: summaryOf(expRows(0.8)) };
    });
    const m = mergeSweep(p, collected);
    const [small, large] = m.configurations;
    expect(small.diverged).toEqual({ runs: 0, of: 3, epochs: [] });
    expect(large.diverged).toEqual({ runs: 2, of: 3, epochs: [4, null] });
    expect(m.counts).toMatchObject({ planned: 6, complete: 5, failed: 1, diverged: 2 });
    // The blown-up run is not in the loss statistics or the verdicts of its configuration.
    expect(large.finalLoss.n).toBe(1);
    expect(large.finalLoss.mean).toBeCloseTo(0.8 ** 60, 20);
    const lin = (c: typeof small) => c.verdicts.find((v) => v.name === 'linear convergence')!;
    expect(lin(large).of).toBe(1);
    // Each outcome is counted: the exponential seeds pass the rate rule, the power law does not.
    const perSeed = collected.slice(0, 3).map((r) => r.summary!.verdicts.find((v) => v.name === 'linear convergence')!.outcome);
    expect(perSeed.slice(0, 2)).toEqual(['pass', 'pass']);
    expect(perSeed[2]).not.toBe('pass');
    const o = lin(small).outcomes;
    expect(o.pass + o.fail + o.inconclusive).toBe(3);
    expect(o).toEqual({ pass: 2, fail: perSeed[2] === 'fail' ? 1 : 0, inconclusive: perSeed[2] === 'inconclusive' ? 1 : 0 });
    expect(lin(small).passed).toBe(2);
    // q over seeds is the mean of the runs' own q.
    const qs = collected.slice(0, 3).map((r) => r.summary!.rate.q);
    expect(small.convergence.q.mean).toBeCloseTo((qs[0] + qs[1] + qs[2]) / 3, 12);
    expect(small.linearized).toBeNull();
  });

  it('lr scaling: exponentials at a rate ∝ lr give slope 1, a power law in lr·t gives slope near 0', () => {
    const p = plan(['--preset', 'tiny'], ['lr=0.01,0.02,0.04,0.08'], [0]);
    const curves = (f: (lr: number, t: number) => number) =>
      p.runs.map((spec): CollectedRun => {
        const lr = spec.point.lr as number;
        const rows = Array.from({ length: 61 }, (_, t) => ({ kind: 'epoch', epoch: t, loss: f(lr, t), gradNormSq: 2 * f(lr, t) ** 1.5, acc: 1, drift: 0, timeMs: t }) as EpochRow);
        return { spec, state: 'complete', summary: summaryOf(rows) };
      });
    const exp = mergeSweep(p, curves((lr, t) => Math.exp(-2 * lr * t)));
    expect(exp.lrScaling).toHaveLength(1);
    expect(exp.lrScaling![0].points.map((x) => x.lr)).toEqual([0.01, 0.02, 0.04, 0.08]);
    expect(exp.lrScaling![0].slope).toBeCloseTo(1, 6);
    // The report plots each configuration's mean loss against η·t (epoch 0 left out).
    const flow = mergedSections(exp).find((x) => x.id === 'sweep-lr-scaling')!.charts![0];
    expect(flow.series.map((x) => x.label)).toEqual(['lr=0.01', 'lr=0.02', 'lr=0.04', 'lr=0.08']);
    expect(flow.series[1].x.slice(0, 2)).toEqual([0.02, 0.04]);
    expect(flow.series[1].y[0]).toBeCloseTo(Math.exp(-2 * 0.02), 12);
    const power = mergeSweep(p, curves((lr, t) => (1 + 1000 * lr * t) ** -2));
    expect(Math.abs(power.lrScaling![0].slope)).toBeLessThan(0.1);
    // Without lr in the grid there is nothing to report.
    const widths = plan(['--preset', 'tiny'], ['width=8,16,32'], [0]);
    expect(mergeSweep(widths, widths.runs.map((spec) => ({ spec, state: 'complete', summary: summaryOf(expRows(0.9)) }))).lrScaling).toBeNull();
  });

  it('runState reads a divergence from failed.json, with its epoch', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-diverged-'));
    fs.writeFileSync(path.join(dir, 'failed.json'), JSON.stringify({ message: 'Training diverged at epoch 7', error: 'DivergenceError', at: 'now', epoch: 7 }));
    expect(runState(dir)).toEqual({ state: 'failed', detail: 'Training diverged at epoch 7', diverged: { epoch: 7 } });
    fs.writeFileSync(path.join(dir, 'failed.json'), JSON.stringify({ message: 'device lost', error: 'GpuError', at: 'now' }));
    expect(runState(dir)).toEqual({ state: 'failed', detail: 'device lost' });
  });
});

describe('lplr sweep: bad input is a one-line error before anything is written', () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-sweep-bad-')), 'never');
  it.each([
    [['--grid', 'widht=8'], {}, /Unknown grid key 'widht'\. Did you mean 'width'\?/],
    [['--grid', 'width=8,x'], {}, /--width expects an integer, got 'x'/],
    [['--grid', 'init=he,enhanced', '--depth-factor', '0.5'], {}, /Grid point init=he, seed=0: --depth-factor only applies/],
    [['--seeds', '3-1'], {}, /backwards/],
    [['--shard', '4/4'], {}, /not below the shard count/],
    [[], { SLURM_ARRAY_TASK_ID: '1' }, /SLURM_ARRAY_TASK_COUNT is not/],
    [['--widht', '8'], {}, /Unknown option --widht\. Did you mean --width\?/],
  ])('%j %j', (extra, env, message) => {
    const r = spawnSync(process.execPath, [cli, 'sweep', 'fig1', '--preset', 'tiny', '--out', out, ...extra], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('lplr:'))).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('names the built-in sweeps when asked to sweep fig5', () => {
    const r = spawnSync(process.execPath, [cli, 'sweep', 'fig5', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/fig5 is a built-in sweep: 'lplr run fig5'/);
  });

  it('--dry-run lists each run with its shard', () => {
    const r = spawnSync(process.execPath, [cli, 'sweep', 'fig1', '--preset', 'tiny', '--grid', 'width=8,16', '--seeds', '0-2', '--shard', '1/4', '--out', out, '--dry-run'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/plan: 6 runs \(2 configurations × 3 seeds\).*owns 2/);
    expect(lines.filter((l) => /shard 1\*/.test(l)).map((l) => l.match(/runs\/(\S+)-[0-9a-f]{16}$/)?.[1])).toEqual(['w8-s1', 'w16-s2']);
    expect(fs.existsSync(out)).toBe(false);
  });
});
