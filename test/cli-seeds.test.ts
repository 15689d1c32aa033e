// `lplr run fig1|fig2|fig4 --seeds` through the CLI on the tiny preset: the set's files, the
// printed lines, the median and min–max band checked against the members' metrics.jsonl, runs
// reused (a sweep's, fig1's, a second invocation's: nothing computed twice) and `lplr report`
// rebuilding the set. The commands run in a scratch working directory whose runs/ is where
// `lplr run` looks for finished runs to reuse.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-cli-seeds-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function lplr(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: 'utf8', timeout: 180_000, env: { ...process.env, LPLR_CACHE_DIR: path.join(tmp, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[]) {
  const r = lplr(args);
  if (r.code !== 0) throw new Error(`lplr ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

function json(...parts: string[]) {
  return JSON.parse(fs.readFileSync(path.join(tmp, ...parts), 'utf8'));
}

interface Member {
  label: string;
  seed: number;
  dir: string;
  configHash: string;
}

/** Each member's metrics.jsonl, by label (bytes: a reused run is a copy, a new run has other timings). */
function metricsBytes(set: string): Map<string, string> {
  const members: Member[] = json('runs', set, 'config.json').runs;
  return new Map(members.map((m) => [m.label, fs.readFileSync(path.join(tmp, 'runs', set, m.dir, 'metrics.jsonl'), 'utf8')]));
}

function epochLosses(text: string): Map<number, number> {
  const rows = text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.kind === 'epoch');
  return new Map(rows.map((r) => [r.epoch as number, r.loss as number]));
}

const tiny = ['--preset', 'tiny', '--quiet'];

describe('lplr run --seeds (tiny preset)', () => {
  it('refuses --seeds with --seed, a malformed list, and fig2 --from with --seeds, before anything runs', () => {
    const both = lplr(['run', 'fig1', ...tiny, '--seeds', '0-1', '--seed', '2', '--out', 'runs/bad']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--seeds 0-1 and --seed 2 were both given/);
    const backwards = lplr(['run', 'fig4', ...tiny, '--seeds', '2-0', '--out', 'runs/bad']);
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toMatch(/runs backwards; write 0-2/);
    const from = lplr(['run', 'fig2', ...tiny, '--seeds', '0', '--from', 'runs/x', '--out', 'runs/bad']);
    expect(from.code).toBe(2);
    expect(from.stderr).toMatch(/Drop --from or --seeds/);
    expect(fs.existsSync(path.join(tmp, 'runs', 'bad'))).toBe(false);
    expect(ok(['run', 'fig5', '--help']).stdout).toMatch(/--seeds LIST/);
  });

  it('fig1 --seeds 0-1: one run per seed, the set’s config, summary and report, a line per verdict with k of n seeds', () => {
    // Seed 1 first as a sweep would run it: the set reuses it.
    ok(['sweep', 'fig1', ...tiny, '--seeds', '1', '--out', 'runs/sweep']);
    const r = ok(['run', 'fig1', ...tiny, '--seeds', '0-1', '--out', 'runs/a']);
    const config = json('runs', 'a', 'config.json');
    expect(config.experiment).toBe('fig1');
    expect(config.seeds).toEqual([0, 1]);
    expect(config.runs.map((m: Member) => m.label)).toEqual(['s0', 's1']);
    for (const m of config.runs as Member[]) {
      expect(json('runs', 'a', m.dir, 'config.json').configHash).toBe(m.configHash);
      expect(m.dir).toBe(path.join('runs', `${m.label}-${m.configHash}`));
    }
    const sweepRun = fs.readdirSync(path.join(tmp, 'runs', 'sweep', 'runs'))[0];
    expect(metricsBytes('a').get('s1')).toBe(fs.readFileSync(path.join(tmp, 'runs', 'sweep', 'runs', sweepRun, 'metrics.jsonl'), 'utf8'));

    const summary = json('runs', 'a', 'summary.json');
    expect(summary.seeds).toEqual([0, 1]);
    for (const rec of summary.members) {
      const own = json('runs', 'a', rec.dir, 'summary.json');
      expect(rec.q).toBe(own.rate.q);
      expect(rec.rateMiddle).toBe(own.rate.middle.rate);
      expect(rec.rateLast).toBe(own.rate.last.rate);
      expect(rec.plRatio).toBe(own.lStar[own.primary].pl.ratio);
      // The tiny preset is not extended: its members have zero, fit and min.
      expect(rec.lStar.extended).toBeUndefined();
      for (const c of ['zero', 'fit', 'min']) {
        expect(rec.lStar[c].value, c).toBe(own.lStar[c].lStar);
        expect(rec.lStar[c].obtained, c).toBe(own.lStar[c].obtained);
      }
      expect(rec.verdicts.map((v: { outcome: string }) => v.outcome)).toEqual(own.verdicts.map((v: { outcome: string }) => v.outcome));
    }
    // The tiny preset's 6 epochs are too few to judge: every seed inconclusive, so is the set.
    for (const v of summary.verdicts) expect(v).toMatchObject({ outcome: 'inconclusive', reading: '0 of 2 seeds' });

    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('median over 2 seeds (0,1):');
    expect(lines[1]).toMatch(/^final loss \S+, q \S+, PL ratio \S+ \(L\* = zero\)$/);
    expect(lines.slice(2, -1)).toEqual(summary.verdicts.map((v: { name: string }) => expect.stringMatching(new RegExp(`^  ${v.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +inconclusive \\(0 of 2 seeds\\)$`))));
    for (const line of lines.slice(0, -1)) expect(line.length).toBeLessThanOrEqual(80);

    // The loss chart: the median and the band across the two seeds, from their metrics.jsonl.
    const html = fs.readFileSync(path.join(tmp, 'runs', 'a', 'report.html'), 'utf8');
    const payload = JSON.parse(/<script type="application\/json" id="lplr-data">(.*?)<\/script>/s.exec(html)![1]);
    const chart = payload.charts.find((c: { id: string }) => c.id === 'fig1-seeds-loss');
    const [s0, s1] = [...metricsBytes('a').values()].map(epochLosses);
    const [med, max, min] = chart.series;
    expect(med.x).toEqual([0, 1, 2, 3, 4, 5, 6]);
    med.x.forEach((t: number, i: number) => {
      expect(med.y[i]).toBeCloseTo((s0.get(t)! + s1.get(t)!) / 2, 12);
      expect(max.y[i]).toBe(Math.max(s0.get(t)!, s1.get(t)!));
      expect(min.y[i]).toBe(Math.min(s0.get(t)!, s1.get(t)!));
    });
    expect(chart.bands).toEqual([{ upper: 1, lower: 2, color: med.color }]);
    expect(html).toContain('fig1-seeds-per-seed');
  });

  it('reuses finished runs: fig2 and a second fig1 compute nothing; fig4 trains only the enhanced runs', () => {
    const a = metricsBytes('a');
    ok(['run', 'fig2', ...tiny, '--seeds', '0-1', '--out', 'runs/b']);
    ok(['run', 'fig1', ...tiny, '--seeds', '0,1', '--out', 'runs/again']);
    for (const set of ['b', 'again']) expect([...metricsBytes(set).values()]).toEqual([...a.values()]);
    const r = ok(['run', 'fig4', ...tiny, '--seeds', '0-1', '--out', 'runs/c']);
    const c = metricsBytes('c');
    expect(c.get('he-s0')).toBe(a.get('s0'));
    expect(c.get('he-s1')).toBe(a.get('s1'));
    expect(c.get('enhanced-s0')).not.toBe(a.get('s0'));
    const summary = json('runs', 'c', 'summary.json');
    expect(summary.verdicts[0]).toMatchObject({ name: 'enhanced init converges more slowly', reading: expect.stringMatching(/^\d of 2 seeds$/) });
    expect(summary.perSeed.map((p: { seed: number }) => p.seed)).toEqual([0, 1]);
    expect(r.stdout).toMatch(/^  enhanced init converges more slowly +(pass|fail|inconclusive) \(\d of 2 seeds\)$/m);
    expect(r.stdout).toMatch(/^he: final loss /m);
  });

  it('lplr report rebuilds a seed set from its members’ metrics.jsonl; --fit-window refits every seed', () => {
    const dir = path.join(tmp, 'runs', 'c');
    const before = json('runs', 'c', 'summary.json');
    fs.rmSync(path.join(dir, 'summary.json'));
    fs.rmSync(path.join(dir, 'report.html'));
    for (const m of json('runs', 'c', 'config.json').runs as Member[]) fs.rmSync(path.join(dir, m.dir, 'summary.json'));
    const r = ok(['report', 'runs/c']);
    expect(r.stdout).toMatch(/wrote runs\/c\/report\.html/);
    expect(json('runs', 'c', 'summary.json')).toEqual(before);
    ok(['report', 'runs/c', '--fit-window', '1:5']);
    const refit = json('runs', 'c', 'summary.json');
    for (const m of refit.members) expect(m.window).toMatchObject({ start: 1, end: 5 });
  });
});
