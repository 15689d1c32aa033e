// A GPU failure mid-run (the device destroyed right after a checkpoint, through the test hook
// LPLR_TEST_LOSE_DEVICE_AT) goes through the device.lost handler and explainRunFailure: exit 2,
// one line naming the loss, the kept checkpoint and the exact resume command; resuming then
// gives the rows of an uninterrupted run.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const ARGS = ['run', 'fig1', '--preset', 'tiny', '--epochs', '12', '--checkpoint-every', '2', '--quiet'];

function lplr(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { status: r.status, stderr: r.stderr, errors: r.stderr.split('\n').filter((l) => l.startsWith('lplr:')) };
}

function rowsWithoutTime(dir: string) {
  return fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .map(({ timeMs: _t, ...rest }) => rest);
}

describe('device loss during a run', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-lost-'));
  const lost = path.join(tmp, 'lost');

  it('stops with exit 2, keeps the checkpoint and says how to resume', () => {
    const r = lplr([...ARGS, '--out', lost], { LPLR_TEST_LOSE_DEVICE_AT: '4' });
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(2);
    const ckpt = path.join(lost, 'checkpoints', 'checkpoint.json');
    // One line: the loss (with the kernels that ran last, when known), the checkpoint, the resume command.
    expect(r.errors.length).toBe(1);
    expect(r.errors[0]).toMatch(/^lplr: The GPU device was lost (after kernels [^(]+ )?\(destroyed: device was destroyed\)\. /);
    expect(r.errors[0].endsWith(`Finished work is kept: the last checkpoint is ${ckpt}; continue with 'lplr resume ${lost}'.`)).toBe(true);
    const record = JSON.parse(fs.readFileSync(ckpt, 'utf8'));
    expect(record.nextEpoch).toBe(4);
    expect(fs.existsSync(path.join(lost, 'checkpoints', record.tensorFile))).toBe(true);
    // Rows 0-3 are on disk, no later row was written on the dead device, and nothing was summarized.
    expect(rowsWithoutTime(lost).map((x) => x.epoch)).toEqual([0, 1, 2, 3]);
    expect(fs.statSync(path.join(lost, 'metrics.jsonl')).size).toBe(record.metricsBytes);
    expect(fs.existsSync(path.join(lost, 'summary.json'))).toBe(false);
  });

  it('the advised resume completes with the rows of an uninterrupted run', () => {
    const r = lplr(['resume', lost]);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(0);
    const reference = path.join(tmp, 'reference');
    expect(lplr([...ARGS, '--out', reference]).status).toBe(0);
    expect(rowsWithoutTime(lost).map((x) => x.epoch)).toEqual([...Array(13).keys()]);
    expect(rowsWithoutTime(lost)).toEqual(rowsWithoutTime(reference));
  });
});
