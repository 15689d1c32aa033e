// Seed sets without a device: how a set's verdict counts its seeds (k of n, inconclusive seeds are
// not passes, fig4's comparison needs every seed), what summary.json records per seed, how
// --seeds expands into member runs named like a sweep's, and its parsing errors.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MetricRow } from '../src/metrics/schema.js';
import { summarizeRun, type RunSummary } from '../harness/analysis/summary.js';
import type { VerdictOutcome } from '../harness/analysis/verdicts.js';
import { parseArgs } from '../harness/options/args.js';
import { MLP_OPTIONS, resolveMlpConfig } from '../harness/experiments/mlp-config.js';
import { finishSeedSet, SEEDS_OPTION, seedSetRuns, seedsFromArgs } from '../harness/experiments/registry.js';
import { buildSeedSetSummary, median, seedList, seedSetHeadline, seedSetVerdict, seedsNeeded, type SeedMember } from '../harness/experiments/seed-set.js';
import { planSweep } from '../harness/run/sweep.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-seed-set-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const outcomes = (spec: string): VerdictOutcome[] => [...spec].map((c) => (c === 'p' ? 'pass' : c === 'f' ? 'fail' : 'inconclusive'));

describe('seedSetVerdict: k of n seeds', () => {
  it('passes with 4 of 5 seeds at seedPassFraction 0.8, and says so', () => {
    const v = seedSetVerdict('linear convergence', outcomes('ppppf'));
    expect(v).toMatchObject({ outcome: 'pass', passed: true, reading: '4 of 5 seeds' });
    expect(v.values).toEqual({ seeds: 5, passed: 4, failed: 1, inconclusive: 0, needed: 4 });
    expect(v.rule).toMatch(/at least 4 of 5 seeds pass \(seedPassFraction = 0\.8/);
  });

  it('fails with 3 of 5 when the other two fail', () => {
    expect(seedSetVerdict('x', outcomes('pppff'))).toMatchObject({ outcome: 'fail', passed: false, reading: '3 of 5 seeds' });
    expect(seedSetVerdict('x', outcomes('fffff')).outcome).toBe('fail');
  });

  it('does not count inconclusive seeds as passes: undecided sets are inconclusive, never pass', () => {
    expect(seedSetVerdict('x', outcomes('pppii'))).toMatchObject({ outcome: 'inconclusive', passed: false, reading: '3 of 5 seeds', note: '2 seeds inconclusive' });
    expect(seedSetVerdict('x', outcomes('iiiii')).outcome).toBe('inconclusive');
    // One failure and one inconclusive: 3 passes cannot reach 4 whatever the inconclusive seed says.
    expect(seedSetVerdict('x', outcomes('pppfi')).outcome).toBe('inconclusive');
    expect(seedSetVerdict('x', outcomes('ppffi')).outcome).toBe('fail');
    expect(seedSetVerdict('x', outcomes('ppppi')).outcome).toBe('pass');
    expect(seedSetVerdict('x', []).outcome).toBe('inconclusive');
  });

  it('follows seedPassFraction', () => {
    expect(seedSetVerdict('x', outcomes('pppff'), { seedPassFraction: 0.6 }).outcome).toBe('pass');
    expect(seedSetVerdict('x', outcomes('ppppf'), { seedPassFraction: 1 }).outcome).toBe('fail');
    expect([1, 2, 3, 4, 5, 10].map((n) => seedsNeeded(n, 0.8))).toEqual([1, 2, 3, 4, 4, 8]);
  });

  it('writes seed lists as ranges where consecutive', () => {
    expect(seedList([0, 1, 2, 3, 4])).toBe('0-4');
    expect(seedList([0, 1, 3, 7, 8, 9])).toBe('0,1,3,7-9');
  });

  it('median of the finite values', () => {
    expect(median([3, 1, NaN, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([NaN])).toBeNaN();
  });
});

const geometricRuns = new Map<number, RunSummary>();

/** A run whose ‖∇L‖² falls at `rate` per epoch (GD-like: the gap contracts at the same rate); one summary per rate. */
function geometricRun(rate: number, epochs = 60): RunSummary {
  const known = geometricRuns.get(rate);
  if (known) return known;
  const rows: MetricRow[] = [];
  for (let t = 0; t <= epochs; t++) rows.push({ kind: 'epoch', epoch: t, loss: Math.exp(-rate * t), gradNormSq: 2 * rate * Math.exp(-rate * t), drift: 0, acc: 1, lr: 1e-3, timeMs: t });
  const summary = summarizeRun(rows);
  geometricRuns.set(rate, summary);
  return summary;
}

function member(seed: number, group: string, summary: RunSummary): SeedMember {
  return { label: group ? `${group}-s${seed}` : `s${seed}`, seed, group, dir: `runs/${group}-s${seed}-x`, configHash: `h${seed}${group}`, summary };
}

/** A summary whose verdicts are replaced by the given outcomes (the rest stays a real summary). */
function withOutcomes(s: RunSummary, linear: VerdictOutcome): RunSummary {
  return { ...s, verdicts: s.verdicts.map((v) => (v.name === 'linear convergence' ? { ...v, outcome: linear, passed: linear === 'pass' } : v)) };
}

describe('a seed set judged from its members', () => {
  it('each member verdict becomes k of n seeds; summary.json records every seed’s numbers', () => {
    const base = geometricRun(0.05);
    const members = outcomes('ppppf').map((o, seed) => member(seed, '', withOutcomes(base, o)));
    const s = buildSeedSetSummary('fig1', [0, 1, 2, 3, 4], members);
    const linear = s.verdicts.find((v) => v.name === 'linear convergence')!;
    expect(linear).toMatchObject({ outcome: 'pass', reading: '4 of 5 seeds' });
    expect(s.members).toHaveLength(5);
    const m = s.members[4];
    expect(m.verdicts.find((v) => v.name === 'linear convergence')?.outcome).toBe('fail');
    expect(m.q).toBeCloseTo(base.rate.q, 12);
    expect(m.rateMiddle).toBeCloseTo(0.05, 6);
    expect(m.rateLast).toBeCloseTo(0.05, 6);
    for (const c of ['zero', 'fit', 'min'] as const) {
      expect(m.lStar[c]?.value).toBe(base.lStar[c].lStar);
      expect(m.lStar[c]?.obtained).toBe(base.lStar[c].obtained);
    }
    expect(m.plRatio).toBe(base.lStar[base.primary]!.pl.ratio);
    expect(s.groups[0]).toMatchObject({ group: '', seeds: 5 });
    expect(s.passRule).toEqual({ fraction: 0.8, needed: 4 });
  });

  it('a member without the verdict counts as inconclusive, not as a pass', () => {
    const base = geometricRun(0.05);
    const members = [0, 1, 2, 3, 4].map((seed) => member(seed, '', seed === 0 ? { ...base, verdicts: [] } : withOutcomes(base, seed === 4 ? 'fail' : 'pass')));
    expect(buildSeedSetSummary('fig1', [0, 1, 2, 3, 4], members).verdicts.find((v) => v.name === 'linear convergence')).toMatchObject({
      outcome: 'inconclusive',
      reading: '3 of 5 seeds',
      note: '1 seed inconclusive',
    });
  });

  const fig4Members = (slowerSeeds: number) =>
    [0, 1, 2, 3, 4].flatMap((seed) => [member(seed, 'he', geometricRun(0.05)), member(seed, 'enhanced', geometricRun(seed < slowerSeeds ? 0.03 : 0.07))]);

  it('fig4 passes “enhanced converges more slowly” only when every seed agrees (5 of 5)', () => {
    for (const d of ['fig4-pass', 'fig4-fail']) fs.mkdirSync(path.join(tmp, d));
    const all = finishSeedSet('fig4', path.join(tmp, 'fig4-pass'), [0, 1, 2, 3, 4], fig4Members(5));
    expect(all.summary.verdicts[0]).toMatchObject({ name: 'enhanced init converges more slowly', outcome: 'pass', reading: '5 of 5 seeds' });
    const four = finishSeedSet('fig4', path.join(tmp, 'fig4-fail'), [0, 1, 2, 3, 4], fig4Members(4));
    expect(four.summary.verdicts[0]).toMatchObject({ name: 'enhanced init converges more slowly', outcome: 'fail', reading: '4 of 5 seeds' });
    // Per seed: the comparison of that seed's two runs.
    expect(four.summary.perSeed.map((p) => p.verdicts[0].outcome)).toEqual(['pass', 'pass', 'pass', 'pass', 'fail']);
    // Member verdicts per group, and the printed lines.
    expect(four.summary.verdicts.map((v) => v.name)).toContain('enhanced: linear convergence');
    expect(four.verdictLines?.[0]).toEqual({ name: 'enhanced init converges more slowly', passed: false, outcome: 'fail (4 of 5 seeds)' });
    for (const f of ['summary.json', 'report.html']) expect(fs.existsSync(path.join(tmp, 'fig4-fail', f))).toBe(true);
  });

  it('fig5 judges the width effect per seed, then k of n', () => {
    fs.mkdirSync(path.join(tmp, 'fig5'));
    // Wider ends lower in seeds 0-3; seed 4 reverses the order.
    const members = [0, 1, 2, 3, 4].flatMap((seed) =>
      [8, 16, 32].map((w, i) => ({ ...member(seed, `w${w}`, geometricRun(0.02 + 0.01 * (seed === 4 ? 2 - i : i))), width: w })),
    );
    const res = finishSeedSet('fig5', path.join(tmp, 'fig5'), [0, 1, 2, 3, 4], members);
    expect(res.summary.perSeed.map((p) => p.verdicts[0].outcome)).toEqual(['pass', 'pass', 'pass', 'pass', 'fail']);
    expect(res.summary.verdicts[0]).toMatchObject({ name: 'width effect', outcome: 'pass', reading: '4 of 5 seeds' });
    // The headline: medians by width, three widths a line.
    expect(seedSetHeadline(res.summary).split('\n')).toEqual([
      'median over 5 seeds (0-4), final loss by width:',
      expect.stringMatching(/^8: \S+, 16: \S+, 32: \S+$/),
    ]);
    const html = fs.readFileSync(path.join(tmp, 'fig5', 'report.html'), 'utf8');
    // A median curve and its min–max band per width.
    const payload = JSON.parse(/<script type="application\/json" id="lplr-data">(.*?)<\/script>/s.exec(html)![1]);
    const loss = payload.charts.find((c: { id: string }) => c.id === 'fig5-seeds-loss');
    expect(loss.bands).toHaveLength(3);
    expect(loss.series.filter((s: { style?: string }) => s.style === 'band')).toHaveLength(6);
  });
});

describe('--seeds expands into member runs', () => {
  const specs = [...MLP_OPTIONS, SEEDS_OPTION];

  it('names each seed’s run by the hash lplr sweep --seeds gives it, so either reuses the other', () => {
    const args = parseArgs(['--preset', 'tiny', '--seeds', '0-2'], specs);
    const seeds = seedsFromArgs(args)!;
    expect(seeds).toEqual([0, 1, 2]);
    const runs = seedSetRuns({ kind: 'fig1', base: resolveMlpConfig(args), seeds });
    const sweep = planSweep('fig1', parseArgs(['--preset', 'tiny'], MLP_OPTIONS), MLP_OPTIONS, [], seeds);
    expect(runs.map((r) => r.spec.label)).toEqual(['s0', 's1', 's2']);
    expect(runs.map((r) => r.spec.hash)).toEqual(sweep.runs.map((r) => r.hash));
    expect(runs.map((r) => r.spec.dir)).toEqual(sweep.runs.map((r) => r.dir));
  });

  it('fig4 has he and enhanced per seed, fig5 every width per seed', () => {
    const base = resolveMlpConfig(parseArgs(['--preset', 'tiny'], specs));
    const fig4 = seedSetRuns({ kind: 'fig4', base, seeds: [0, 3] });
    expect(fig4.map((r) => [r.spec.label, r.spec.config.init, r.spec.config.seed])).toEqual([
      ['he-s0', 'he', 0],
      ['enhanced-s0', 'enhanced', 0],
      ['he-s3', 'he', 3],
      ['enhanced-s3', 'enhanced', 3],
    ]);
    const fig5 = seedSetRuns({ kind: 'fig5', base, seeds: [1], widths: [8, 16] });
    expect(fig5.map((r) => [r.spec.label, r.spec.config.width, r.group])).toEqual([
      ['w8-s1', 8, 'w8'],
      ['w16-s1', 16, 'w16'],
    ]);
    expect(new Set([...fig4, ...fig5].map((r) => r.spec.hash)).size).toBe(6);
  });

  it('refuses --seeds with --seed, and malformed lists', () => {
    expect(seedsFromArgs(parseArgs(['--seed', '3'], specs))).toBeUndefined();
    expect(seedsFromArgs(parseArgs(['--seeds', '0,3,7'], specs))).toEqual([0, 3, 7]);
    expect(() => seedsFromArgs(parseArgs(['--seeds', '0-4', '--seed', '1'], specs))).toThrow(/--seeds 0-4 and --seed 1 were both given.*Keep one/);
    expect(() => seedsFromArgs(parseArgs(['--seeds', '4-0'], specs))).toThrow(/backwards/);
    expect(() => seedsFromArgs(parseArgs(['--seeds', '1,1'], specs))).toThrow(/twice/);
    expect(() => seedsFromArgs(parseArgs(['--seeds', 'x'], specs))).toThrow(/--seeds expects/);
  });
});
