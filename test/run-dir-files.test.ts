// Run directory files: a damaged JSON file is an error that says what to do (not only that the
// JSON is invalid), the advice for a damaged sweep plan works when followed, and default run
// directories are claimed atomically, so processes started in the same second never share one.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultRunDir, readJson } from '../harness/run/run-dir.js';
import { readPlan } from '../harness/run/sweep.js';
import { DataError } from '../src/errors.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-run-dir-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('readJson on a damaged file', () => {
  const run = path.join(tmp, 'fig1-run');
  fs.mkdirSync(path.join(run, 'checkpoints'), { recursive: true });

  it('a checkpoint: names the file, says it cannot be resumed from, and how to start again', () => {
    const file = path.join(run, 'checkpoints', 'checkpoint.json');
    fs.writeFileSync(file, '{"nextEpoch": 4, "metricsBy');
    const e = thrown(() => readJson(file));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toBe(
      `${file} is damaged: not valid JSON (${thrown(() => JSON.parse('{"nextEpoch": 4, "metricsBy')).message}). ` +
        `The run cannot resume from this checkpoint; start it again: in a sweep, delete ${run} and run the same lplr sweep command; otherwise a fresh run with a new --out, or the same --out with --force.`,
    );
  });

  it('a config.json (also when empty): the run directory is damaged', () => {
    const file = path.join(run, 'config.json');
    fs.writeFileSync(file, '');
    const e = thrown(() => readJson(file));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged: not valid JSON \\(.+\\)\\. The run directory is damaged; start it again: .*a new --out, or the same --out with --force\\.$`));
  });

  it('a missing file is still reported as missing', () => {
    expect(() => readJson(path.join(run, 'summary.json'))).toThrow(/summary\.json: the file is missing/);
  });

  it('a damaged sweep plan: delete it and rerun the sweep with --force', () => {
    const dir = path.join(tmp, 'sweep-damaged');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'sweep.json'), '{"format": "lplr-sweep", "runs": [');
    expect(() => readPlan(dir)).toThrow(/sweep\.json is damaged: not valid JSON \(.+\)\. Delete it and run the same lplr sweep command again with --force/);
  });
});

describe('following the advice for a damaged sweep plan', () => {
  it('merge refuses with the fix; deleting the plan and rerunning with --force keeps the finished run', () => {
    const dir = path.join(tmp, 'sweep');
    const sweep = ['sweep', 'fig1', '--preset', 'tiny', '--epochs', '2', '--grid', 'width=8', '--out', dir, '--quiet', '--json'];
    const lplr = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 90_000 });
    const first = lplr(sweep);
    expect(first.status, first.stderr).toBe(0);
    const runDirs = fs.readdirSync(path.join(dir, 'runs'));
    expect(runDirs).toHaveLength(1);
    const metricsBefore = fs.readFileSync(path.join(dir, 'runs', runDirs[0], 'metrics.jsonl'), 'utf8');

    const plan = path.join(dir, 'sweep.json');
    fs.writeFileSync(plan, fs.readFileSync(plan, 'utf8').slice(0, 100));
    const merge = lplr(['merge', dir]);
    expect(merge.status).toBe(2);
    expect(merge.stderr.split('\n').filter((l) => l.startsWith('lplr:'))).toEqual([expect.stringMatching(/sweep\.json is damaged: .*with --force/)]);

    fs.rmSync(plan);
    expect(lplr(sweep).status).toBe(2); // without --force: not a sweep directory any more
    const again = lplr([...sweep, '--force']);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').pop()!).counts).toMatchObject({ skipped: 1, ran: 0 });
    expect(fs.readFileSync(path.join(dir, 'runs', runDirs[0], 'metrics.jsonl'), 'utf8')).toBe(metricsBefore);
    expect(lplr(['merge', dir]).status).toBe(0);
  });
});

describe('defaultRunDir', () => {
  const at = new Date(2024, 4, 17, 9, 3, 7);

  it('creates the directory, and the next call in the same second gets the next suffix', () => {
    const runs = path.join(tmp, 'seq');
    const a = defaultRunDir('fig1', runs, at);
    const b = defaultRunDir('fig1', runs, at);
    const c = defaultRunDir('fig1', runs, at);
    expect([a, b, c]).toEqual(['fig1-20240517-090307', 'fig1-20240517-090307-2', 'fig1-20240517-090307-3'].map((n) => path.join(runs, n)));
    for (const d of [a, b, c]) expect(fs.statSync(d).isDirectory()).toBe(true);
  });

  it('processes racing for the same second each get their own directory', async () => {
    // The TypeScript module bundled for plain node child processes.
    const lib = path.join(tmp, 'run-dir.mjs');
    await build({ entryPoints: [path.join(root, 'harness/run/run-dir.ts')], bundle: true, format: 'esm', platform: 'node', outfile: lib, logLevel: 'silent' });
    const runs = path.join(tmp, 'race');
    const script = `const { defaultRunDir } = await import(${JSON.stringify(lib)}); const at = new Date(${at.getTime()}); const got = []; for (let i = 0; i < 10; i++) got.push(defaultRunDir('fig1', ${JSON.stringify(runs)}, at)); console.log(JSON.stringify(got));`;
    const children = Array.from({ length: 3 }, () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      return new Promise<string[]>((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`child exited ${code}`)))));
    });
    const all = (await Promise.all(children)).flat();
    expect(all).toHaveLength(30);
    expect(new Set(all).size).toBe(30);
    expect(fs.readdirSync(runs)).toHaveLength(30);
  });
});
