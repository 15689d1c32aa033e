// A run killed at a random moment and resumed produces the same metrics as an uninterrupted
// run (bitwise on the same adapter), with no duplicate or torn lines.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const ARGS = ['run', 'fig1', '--preset', 'tiny', '--width', '48', '--subset', '400', '--epochs', '40', '--checkpoint-every', '4', '--quiet'];

function rowsWithoutTime(dir: string) {
  const text = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .map(({ timeMs: _t, ...rest }) => rest);
}

async function killAfterCheckpoint(dir: string, signal: NodeJS.Signals): Promise<{ signal: NodeJS.Signals | null; code: number | null }> {
  const child = spawn(process.execPath, [cli, ...ARGS, '--out', dir], { cwd: root, stdio: 'ignore' });
  const ckpt = path.join(dir, 'checkpoints', 'checkpoint.json');
  const exited = new Promise<{ signal: NodeJS.Signals | null; code: number | null }>((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig })));
  // Wait for the first checkpoint, then a random extra delay so the kill lands anywhere in an epoch.
  for (let i = 0; i < 3000 && !fs.existsSync(ckpt); i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
  child.kill(signal);
  return exited;
}

describe('kill and resume', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-resume-'));
  const reference = path.join(tmp, 'reference');

  it('an uninterrupted reference run', () => {
    const r = spawnSync(process.execPath, [cli, ...ARGS, '--out', reference], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(0);
  });

  it('SIGKILL mid-run, then lplr resume, gives identical metrics', async () => {
    const dir = path.join(tmp, 'killed');
    const { signal } = await killAfterCheckpoint(dir, 'SIGKILL');
    expect(signal).toBe('SIGKILL');
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'checkpoint.json'), 'utf8'));
    expect(record.nextEpoch).toBeLessThan(41); // the kill came before the end
    expect(fs.existsSync(path.join(dir, 'summary.json'))).toBe(false);
    const r = spawnSync(process.execPath, [cli, 'resume', dir, '--quiet'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(0);
    const rows = rowsWithoutTime(dir);
    // The resumed run recomputed epochs nextEpoch..40: at least one.
    expect(41 - record.nextEpoch).toBeGreaterThanOrEqual(1);
    expect(rows.map((x) => x.epoch)).toEqual([...Array(41).keys()]);
    expect(rows).toEqual(rowsWithoutTime(reference));
  });

  it('SIGTERM checkpoints and stops with exit 130; resume completes identically', async () => {
    const dir = path.join(tmp, 'terminated');
    const { code } = await killAfterCheckpoint(dir, 'SIGTERM');
    if (code === 0) return; // finished before the signal arrived: nothing to resume
    expect(code).toBe(130);
    const r = spawnSync(process.execPath, [cli, 'resume', dir, '--quiet'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(rowsWithoutTime(dir)).toEqual(rowsWithoutTime(reference));
  });
});
