// The autotune cache file under concurrent writers: two processes updating different keys
// at the same time keep all of them; a lock left by a dead process or held too long is
// broken; a live lock is waited for; a failed write leaves the old file intact.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileAutotuneStore, LOCK_STALE_MS } from '../src/gpu/autotune-store-node.js';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

const UPDATES_PER_WRITER = 40;
let dir = '';
let writer = '';

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-autotune-store-'));
  // A child that waits for a start time, then does UPDATES_PER_WRITER updates, each adding one key.
  const cacheDir = path.join(REPO_ROOT, 'node_modules', '.cache', 'lplr-tests');
  fs.mkdirSync(cacheDir, { recursive: true });
  const entry = path.join(cacheDir, `autotune-writer-${process.pid}.ts`);
  fs.writeFileSync(
    entry,
    `import { fileAutotuneStore } from ${JSON.stringify(path.join(REPO_ROOT, 'src', 'gpu', 'autotune-store-node.ts'))};\n` +
      `const [file, prefix, count, startAt] = process.argv.slice(2);\n` +
      `while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 1));\n` +
      `const store = fileAutotuneStore(file);\n` +
      // Each mutation takes 2 ms, as a real one may (tuning bookkeeping): without a lock the
      // two writers' read-change-write cycles overlap and entries get lost.
      `for (let i = 0; i < Number(count); i++) await store.update((d) => { const until = Date.now() + 2; while (Date.now() < until); d.entries[prefix + i] = { kernel: prefix } as never; });\n`,
  );
  writer = path.join(cacheDir, `autotune-writer-${process.pid}.mjs`);
  await build({ entryPoints: [entry], outfile: writer, bundle: true, format: 'esm', platform: 'node', target: 'node20', loader: { '.wgsl': 'text' }, external: ['webgpu'], logLevel: 'error' });
  fs.rmSync(entry);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (writer) fs.rmSync(writer, { force: true });
});

function runWriter(file: string, prefix: string, startAt: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [writer, file, prefix, String(UPDATES_PER_WRITER), String(startAt)], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('close', (code) => resolve(code));
  });
}

describe('fileAutotuneStore', () => {
  it('two processes writing different keys at the same time keep every key', async () => {
    const file = path.join(dir, 'concurrent.json');
    // Both children start their loops at the same moment (after their Node startup).
    const startAt = Date.now() + 1500;
    const codes = await Promise.all([runWriter(file, 'a', startAt), runWriter(file, 'b', startAt)]);
    expect(codes).toEqual([0, 0]);
    const keys = Object.keys((await fileAutotuneStore(file).read()).entries).sort();
    const expected = ['a', 'b'].flatMap((p) => Array.from({ length: UPDATES_PER_WRITER }, (_, i) => `${p}${i}`)).sort();
    expect(keys).toEqual(expected);
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('concurrent.json.'))).toEqual([]);
  }, 60_000);

  it('breaks a lock whose owner process is gone', async () => {
    const file = path.join(dir, 'dead-owner.json');
    // A pid that is not running: a child that has exited.
    const deadPid = await new Promise<number>((resolve) => {
      const c = spawn(process.execPath, ['-e', '0']);
      c.on('close', () => resolve(c.pid!));
    });
    fs.writeFileSync(`${file}.lock`, JSON.stringify({ pid: deadPid, host: os.hostname(), token: 'dead' }));
    const t0 = Date.now();
    await fileAutotuneStore(file).update((d) => {
      d.entries.k = { kernel: 'x' } as never;
    });
    expect(Date.now() - t0).toBeLessThan(LOCK_STALE_MS / 2);
    expect(Object.keys((await fileAutotuneStore(file).read()).entries)).toEqual(['k']);
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });

  it('breaks a lock older than LOCK_STALE_MS, even of a live process', async () => {
    const file = path.join(dir, 'old-lock.json');
    fs.writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, host: os.hostname(), token: 'old' }));
    const old = new Date(Date.now() - LOCK_STALE_MS - 5000);
    fs.utimesSync(`${file}.lock`, old, old);
    await fileAutotuneStore(file).update((d) => {
      d.entries.k = { kernel: 'x' } as never;
    });
    expect(Object.keys((await fileAutotuneStore(file).read()).entries)).toEqual(['k']);
  });

  it('waits for a live, fresh lock and writes after it is released', async () => {
    const file = path.join(dir, 'live-lock.json');
    fs.writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, host: os.hostname(), token: 'live' }));
    let done = false;
    const t0 = Date.now();
    const update = fileAutotuneStore(file)
      .update((d) => {
        d.entries.k = { kernel: 'x' } as never;
      })
      .then(() => (done = true));
    await new Promise((r) => setTimeout(r, 400));
    expect(done).toBe(false);
    expect(fs.existsSync(file)).toBe(false);
    fs.rmSync(`${file}.lock`);
    await update;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(Object.keys((await fileAutotuneStore(file).read()).entries)).toEqual(['k']);
  });

  it('a mutation that throws leaves the file as it was and releases the lock', async () => {
    const file = path.join(dir, 'throwing.json');
    const store = fileAutotuneStore(file);
    await store.update((d) => {
      d.entries.kept = { kernel: 'x' } as never;
    });
    const before = fs.readFileSync(file, 'utf8');
    await expect(
      store.update(() => {
        throw new Error('mutation failed');
      }),
    ).rejects.toThrow('mutation failed');
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });
});
