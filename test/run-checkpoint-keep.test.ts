// A finished run keeps no checkpoint (they only serve an interrupted run: 57 MB on the paper
// preset) unless --keep-checkpoint, which keeps one of the final state that resume restores
// exactly; `lplr resume` of a finished run says there is nothing to resume and changes nothing;
// sweeps still skip finished runs; and README describes every file a run directory can hold.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

const cli = path.join(REPO_ROOT, 'bin', 'lplr.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-keep-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function lplr(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, LPLR_CACHE_DIR: path.join(tmp, 'cache') } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file below `dir` (relative paths) with its bytes. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) files.set(path.relative(dir, path.join(e.parentPath, e.name)), fs.readFileSync(path.join(e.parentPath, e.name), 'base64'));
  }
  return files;
}

const RUN = ['run', 'fig1', '--preset', 'tiny', '--epochs', '6', '--checkpoint-every', '2', '--quiet'];

describe('checkpoints of finished runs', () => {
  const plain = path.join(tmp, 'plain');
  const kept = path.join(tmp, 'kept');

  it('a finished run has no checkpoints/ left (--checkpoint-every 2 took three); invocation.json says when it finished', () => {
    const r = lplr([...RUN, '--out', plain]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readdirSync(plain).sort()).toEqual(['config.json', 'invocation.json', 'metrics.jsonl', 'report.html', 'summary.json']);
    const inv = JSON.parse(fs.readFileSync(path.join(plain, 'invocation.json'), 'utf8'));
    expect(Date.parse(inv.finishedAt)).toBeGreaterThanOrEqual(Date.parse(inv.startedAt));
  });

  it('lplr resume of a finished run: nothing to resume, exit 0, no file changed', () => {
    const before = snapshot(plain);
    const r = lplr(['resume', plain]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${plain.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} finished \\(.+\\): nothing to resume\\. `));
    expect(snapshot(plain)).toEqual(before);
  });

  it('--keep-checkpoint keeps one checkpoint, of the final state (after the last epoch)', () => {
    const r = lplr([...RUN, '--keep-checkpoint', '--out', kept]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readdirSync(path.join(kept, 'checkpoints')).sort()).toEqual(['checkpoint.json', 'ckpt-000007.safetensors']);
    const record = JSON.parse(fs.readFileSync(path.join(kept, 'checkpoints', 'checkpoint.json'), 'utf8'));
    // 7 epochs (0..6) done; the record covers every metrics row.
    expect(record.nextEpoch).toBe(7);
    expect(record.metricsBytes).toBe(fs.statSync(path.join(kept, 'metrics.jsonl')).size);
    // The same training as without the option.
    expect(fs.readFileSync(path.join(kept, 'metrics.jsonl'), 'utf8').replace(/"timeMs":[^,}]+/g, '')).toBe(
      fs.readFileSync(path.join(plain, 'metrics.jsonl'), 'utf8').replace(/"timeMs":[^,}]+/g, ''),
    );
  });

  it('the kept final checkpoint restores: a resume from it recomputes nothing and gives the same summary', () => {
    const copy = path.join(tmp, 'kept-copy');
    fs.cpSync(kept, copy, { recursive: true });
    const summary = fs.readFileSync(path.join(copy, 'summary.json'), 'utf8');
    const metrics = fs.readFileSync(path.join(copy, 'metrics.jsonl'), 'utf8');
    // As if the run had been stopped right after its final checkpoint.
    fs.rmSync(path.join(copy, 'summary.json'));
    const invFile = path.join(copy, 'invocation.json');
    const { finishedAt: _f, ...inv } = JSON.parse(fs.readFileSync(invFile, 'utf8'));
    fs.writeFileSync(invFile, JSON.stringify({ ...inv, argv: inv.argv.map((a: string) => (a === kept ? copy : a)) }));
    const r = lplr(['resume', copy, '--no-quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('resuming at epoch 7 from');
    expect(fs.readFileSync(path.join(copy, 'metrics.jsonl'), 'utf8')).toBe(metrics);
    expect(fs.readFileSync(path.join(copy, 'summary.json'), 'utf8')).toBe(summary);
    // The resume was not given --keep-checkpoint again, but the run recorded it.
    expect(fs.existsSync(path.join(copy, 'checkpoints', 'checkpoint.json'))).toBe(true);
  });

  it('a sweep leaves no checkpoints in its finished runs and still skips them when run again', () => {
    const dir = path.join(tmp, 'sweep');
    const sweep = ['sweep', 'fig1', '--preset', 'tiny', '--epochs', '4', '--checkpoint-every', '1', '--grid', 'width=8,16', '--out', dir, '--quiet', '--json'];
    const first = lplr(sweep);
    expect(first.status, first.stderr).toBe(0);
    const runs = fs.readdirSync(path.join(dir, 'runs'));
    expect(runs).toHaveLength(2);
    for (const run of runs) expect(fs.existsSync(path.join(dir, 'runs', run, 'checkpoints'))).toBe(false);
    const again = lplr(sweep);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').pop()!).counts).toMatchObject({ skipped: 2, ran: 0, resumed: 0 });
  });
});

describe('README', () => {
  it('describes every file a run directory holds', () => {
    const dir = path.join(tmp, 'all-files');
    const r = lplr([...RUN, '--keep-checkpoint', '--save-params', '--out', dir]);
    expect(r.status, r.stderr).toBe(0);
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const names = [...snapshot(dir).keys()].map((f) => f.replace(/ckpt-\d{6}/, 'ckpt-NNNNNN').replace(/^checkpoints\//, ''));
    expect(names.length).toBe(8);
    for (const name of names) expect(readme, name).toContain(`\`${name}\``);
    // Written by other experiments and verbs: theory checks, PNG figures.
    for (const name of ['theory.json', 'figures/*.png', 'checkpoints/']) expect(readme).toContain(`\`${name}\``);
  });
});
