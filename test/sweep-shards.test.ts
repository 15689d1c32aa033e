// lplr sweep end to end (tiny preset, 2 widths × 2 seeds): three shards in parallel processes
// against the same sweep in one process, --parallel workers, merge, rerunning a shard, and a
// shard killed with SIGKILL mid-run that resumes from its checkpoint.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-sweep-'));
// 12 epochs and a checkpoint every 2: long enough to be killed mid-run on a CPU adapter.
const SWEEP = ['sweep', 'fig1', '--preset', 'tiny', '--epochs', '12', '--grid', 'width=8,16', '--seeds', '0-1', '--checkpoint-every', '2', '--json'];

interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function lplr(args: string[]): { done: Promise<Done>; pid: number; kill: (s: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<Done>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { done, pid: child.pid!, kill: (s) => child.kill(s) };
}

function json(r: Done) {
  expect(r.stderr).not.toMatch(/internal error/);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function runDirs(dir: string): string[] {
  return fs.readdirSync(path.join(dir, 'runs')).sort();
}

/** Every metrics row of a run, without the wall-clock field. */
function metrics(runDir: string) {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .map(({ timeMs: _t, ...rest }) => rest);
}

function mergedSummary(dir: string) {
  const r = spawnSync(process.execPath, [cli, 'merge', dir], { cwd: root, encoding: 'utf8' });
  expect(r.stderr).not.toMatch(/lplr:/);
  expect(r.status).toBe(0);
  const { timing: _timing, ...numbers } = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  return numbers;
}

describe('lplr sweep across shards and processes', () => {
  const single = path.join(tmp, 'single');
  const sharded = path.join(tmp, 'sharded');

  it('3 shards in parallel processes (one with 2 worker processes) give the same runs and merged numbers as one process', async () => {
    const jobs = [
      lplr([...SWEEP, '--out', single]),
      // Shard 0 owns two runs: it spreads them over two worker processes.
      lplr([...SWEEP, '--out', sharded, '--shard', '0/3', '--parallel', '2']),
      ...[1, 2].map((i) => lplr([...SWEEP, '--out', sharded, '--shard', `${i}/3`])),
    ];
    const results = await Promise.all(jobs.map((j) => j.done));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const [one, ...shards] = results.map(json);
    expect(one.counts.ran).toBe(4);
    // Runs 0..3 over 3 shards: shard 0 owns runs 0 and 3, the others one each.
    expect(shards.map((s) => s.results.map((r: { index: number; outcome: string }) => [r.index, r.outcome]))).toEqual([[[0, 'ran'], [3, 'ran']], [[1, 'ran']], [[2, 'ran']]]);

    const names = runDirs(single);
    expect(names).toHaveLength(4);
    expect(runDirs(sharded)).toEqual(names);
    for (const name of names) {
      const ref = metrics(path.join(single, 'runs', name));
      expect(ref.filter((r) => r.kind === 'epoch')).toHaveLength(13);
      expect(metrics(path.join(sharded, 'runs', name))).toEqual(ref);
    }
    // Every shard wrote the same plan.
    expect(fs.readFileSync(path.join(sharded, 'sweep.json'), 'utf8')).toBe(fs.readFileSync(path.join(single, 'sweep.json'), 'utf8'));

    const merged = mergedSummary(single);
    expect(mergedSummary(sharded)).toEqual(merged);
    expect(merged.counts).toEqual({ planned: 4, complete: 4, failed: 0, unfinished: 0, missing: 0, diverged: 0 });
    // The merged numbers against the runs' own summaries: mean and |a − b|/√2 for two seeds.
    for (const c of merged.configurations) {
      const finals = c.runs.map((r: { dir: string }) => JSON.parse(fs.readFileSync(path.join(single, r.dir, 'summary.json'), 'utf8')).final.loss);
      expect(finals).toHaveLength(2);
      expect(c.finalLoss.mean).toBeCloseTo((finals[0] + finals[1]) / 2, 12);
      expect(c.finalLoss.std).toBeCloseTo(Math.abs(finals[0] - finals[1]) / Math.SQRT2, 12);
    }
    expect(merged.widthAblation[0].points.map((p: { width: number }) => p.width)).toEqual([8, 16]);
    const html = fs.readFileSync(path.join(sharded, 'report.html'), 'utf8');
    for (const id of ['sweep-verdicts-table', 'sweep-rates-table', 'sweep-curves-loss', 'sweep-width-final-loss', 'sweep-problems']) expect(html).toContain(`id="${id}"`);
  });

  it('lplr report on the sweep directory rebuilds every run’s summary from its metrics, then the merge', () => {
    const names = runDirs(single);
    const summaryFile = path.join(single, 'runs', names[0], 'summary.json');
    const original = JSON.parse(fs.readFileSync(summaryFile, 'utf8'));
    // A summary written under other rules: the rebuild must replace it.
    fs.writeFileSync(summaryFile, JSON.stringify({ ...original, final: { ...original.final, loss: 1e-9 }, verdicts: [] }));
    const before = mergedSummary(single);
    expect(before.configurations.some((c: { finalLoss: { min: number } }) => c.finalLoss.min === 1e-9)).toBe(true);
    const r = spawnSync(process.execPath, [cli, 'report', single], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/lplr:/);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(5);
    const rebuilt = JSON.parse(fs.readFileSync(summaryFile, 'utf8'));
    expect(rebuilt.final.loss).toBe(original.final.loss);
    expect(rebuilt.verdicts).toEqual(original.verdicts);
    const { timing: _t, ...after } = JSON.parse(fs.readFileSync(path.join(single, 'summary.json'), 'utf8'));
    expect(after).toEqual(mergedSummary(sharded));
  });

  it('rerunning a shard skips its completed runs and leaves their files alone', async () => {
    const files = runDirs(sharded).map((n) => path.join(sharded, 'runs', n, 'metrics.jsonl'));
    const before = files.map((f) => fs.statSync(f).mtimeMs);
    const r = await lplr([...SWEEP, '--out', sharded, '--shard', '0/3']).done;
    expect(r.code).toBe(0);
    expect(json(r).counts).toMatchObject({ skipped: 2, ran: 0, resumed: 0, failed: 0 });
    expect(r.stderr).not.toMatch(/using .*adapter|lplr: using/); // nothing to run, no device created
    expect(files.map((f) => fs.statSync(f).mtimeMs)).toEqual(before);
  });

  it('a shard killed with SIGKILL mid-run resumes from its checkpoint and ends with the uninterrupted metrics', async () => {
    const killed = path.join(tmp, 'killed');
    // Shard 0 of 4 owns run 0 only.
    const job = lplr([...SWEEP, '--out', killed, '--shard', '0/4']);
    // Wait until some run has a checkpoint but no summary: the shard is in the middle of it.
    let victim: string | undefined;
    const deadline = Date.now() + 60_000;
    while (!victim && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
      const runs = fs.existsSync(path.join(killed, 'runs')) ? runDirs(killed) : [];
      victim = runs.find((n) => fs.existsSync(path.join(killed, 'runs', n, 'checkpoints', 'checkpoint.json')) && !fs.existsSync(path.join(killed, 'runs', n, 'summary.json')));
    }
    expect(victim).toBeDefined();
    job.kill('SIGKILL');
    const dead = await job.done;
    expect(dead.signal).toBe('SIGKILL');
    const victimDir = path.join(killed, 'runs', victim!);
    expect(fs.existsSync(path.join(victimDir, 'summary.json'))).toBe(false);

    const merge = spawnSync(process.execPath, [cli, 'merge', killed], { cwd: root, encoding: 'utf8' });
    expect(merge.status).toBe(0);
    const partial = JSON.parse(fs.readFileSync(path.join(killed, 'summary.json'), 'utf8'));
    expect(partial.problems.map((p: { dir: string }) => path.basename(p.dir))).toContain(victim);
    expect(partial.counts.planned).toBe(4);

    const again = await lplr([...SWEEP, '--out', killed, '--shard', '0/4']).done;
    expect(again.code, again.stderr).toBe(0);
    const res = json(again);
    expect(res.results.find((r: { dir: string }) => path.basename(r.dir) === victim).outcome).toBe('resumed');
    expect(runDirs(killed)).toEqual([victim]);
    // No epoch recomputed after the checkpoint appears twice, none is missing, every value matches.
    expect(metrics(victimDir)).toEqual(metrics(path.join(single, 'runs', victim!)));
  });
});
