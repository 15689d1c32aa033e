// lplr sweep never turns a directory that is not a sweep into one: a finished `lplr run` (or any
// non-empty folder without sweep.json) given as --out is refused, byte for byte untouched, and so
// `lplr merge` never gets to replace its summary.json and report.html. --force opts in and keeps
// the folder's files.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../harness/options/args.js';
import { MLP_OPTIONS } from '../harness/experiments/mlp-config.js';
import { checkSweepDir, parseGridArg, planSweep, PLAN_FILE, writePlan } from '../harness/run/sweep.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-sweep-out-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Every file under dir: relative path → content hash and modification time. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, rel);
    const st = fs.statSync(p);
    if (st.isFile()) out[rel] = `${createHash('sha256').update(fs.readFileSync(p)).digest('hex')} ${st.mtimeMs}`;
  }
  return out;
}

function lplr(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 90_000 });
}

function tinyPlan() {
  const args = parseArgs(['--preset', 'tiny'], MLP_OPTIONS);
  return planSweep('fig1', args, MLP_OPTIONS, [parseGridArg('width=8,16', MLP_OPTIONS)], [0]);
}

describe('writePlan into an existing directory', () => {
  it('refuses a non-empty folder without sweep.json, naming the fix; --force keeps its files', () => {
    const dir = path.join(tmp, 'notes');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    expect(() => writePlan(dir, tinyPlan(), false)).toThrow(/is not empty and is not a sweep directory \(no sweep\.json; it holds notes\.txt\)\. Give a new --out .* or add --force/);
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
    expect(writePlan(dir, tinyPlan(), false, true)).toBe('written');
    expect(fs.readdirSync(dir).sort()).toEqual(['notes.txt', PLAN_FILE]);
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    // Once it holds the plan it is a sweep directory: later shards need no --force.
    expect(writePlan(dir, tinyPlan(), false)).toBe('unchanged');
  });

  it('accepts an empty folder, a missing one, and one where another shard is renaming its plan into place', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    expect(() => checkSweepDir(empty, false)).not.toThrow();
    expect(() => checkSweepDir(path.join(tmp, 'absent'), false)).not.toThrow();
    const racing = path.join(tmp, 'racing');
    fs.mkdirSync(racing);
    fs.writeFileSync(path.join(racing, `${PLAN_FILE}.0a1b2c3d4e5f.tmp`), '{');
    expect(writePlan(racing, tinyPlan(), false)).toBe('written');
  });

  it('refuses a file given as --out', () => {
    const file = path.join(tmp, 'file.txt');
    fs.writeFileSync(file, 'x');
    expect(() => checkSweepDir(file, true)).toThrow(/is a file; give a directory/);
  });
});

describe('lplr sweep --out on a finished run', () => {
  it('leaves a finished fig1 run untouched (sweep, sweep --dry-run and merge all refuse)', () => {
    const runDir = path.join(tmp, 'fig1-run');
    const run = lplr(['run', 'fig1', '--preset', 'tiny', '--epochs', '3', '--out', runDir, '--quiet']);
    expect(run.status, run.stderr).toBe(0);
    const before = snapshot(runDir);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['config.json', 'metrics.jsonl', 'summary.json', 'report.html']));

    for (const extra of [[], ['--dry-run']]) {
      const r = lplr(['sweep', 'fig1', '--preset', 'tiny', '--epochs', '3', '--grid', 'width=8,16', '--out', runDir, ...extra]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/is not empty and is not a sweep directory \(no sweep\.json; it is the directory of a single run\)\. Give a new --out/);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('lplr:'))).toHaveLength(1);
    }
    const merge = lplr(['merge', runDir]);
    expect(merge.status).toBe(2);
    expect(merge.stderr).toMatch(/has no sweep\.json: it is not a sweep directory/);
    expect(snapshot(runDir)).toEqual(before);
  });

  it('--force runs the sweep in a non-empty folder and keeps what was there', () => {
    const dir = path.join(tmp, 'forced');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'README.txt'), 'kept');
    const r = lplr(['sweep', 'fig1', '--preset', 'tiny', '--epochs', '2', '--grid', 'width=8', '--out', dir, '--force', '--quiet', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!).counts.ran).toBe(1);
    expect(fs.readFileSync(path.join(dir, 'README.txt'), 'utf8')).toBe('kept');
    expect(fs.existsSync(path.join(dir, PLAN_FILE))).toBe(true);
  });
});
