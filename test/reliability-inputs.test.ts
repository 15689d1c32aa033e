// Bad input through the CLI: each case gets one line naming the problem and the fix, exit
// code 2, and leaves no run directory behind.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serializeSafetensors } from '../src/io/safetensors.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-bad-'));

function idx(magic: number, dims: number[], payload: number): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.alloc(payload)]);
}

function mnistDir(name: string, images: Buffer, labels: Buffer): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), images);
  fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), labels);
  return dir;
}

const goodLabels = idx(0x801, [10], 10);
const cases: [string, string[], RegExp][] = [
  ['truncated IDX', ['--data-dir', mnistDir('trunc', idx(0x803, [10, 28, 28], 100), goodLabels)], /train-images-idx3-ubyte is truncated: .*should be 7856 bytes, but it is 116\. Re-download it/],
  ['wrong magic', ['--data-dir', mnistDir('magic', idx(0x804, [10, 28, 28], 7840), goodLabels)], /has IDX magic 0x00000804; expected 0x00000801 \(labels\) or 0x00000803 \(images\)/],
  ['label count mismatch', ['--data-dir', mnistDir('count', idx(0x803, [10, 28, 28], 7840), idx(0x801, [9], 9))], /has 9 labels but .* has 10 images/],
  ['absurd header size', ['--data-dir', mnistDir('absurd', idx(0x803, [4000000000, 28, 28], 16), goodLabels)], /train-images-idx3-ubyte/],
  ['missing data dir', ['--data-dir', path.join(tmp, 'nope')], /--data-dir .*nope does not exist\. Check the path\./],
];

// A dataset file with a NaN, and parameters of the wrong shape.
const nanFile = path.join(tmp, 'nan.safetensors');
fs.writeFileSync(nanFile, serializeSafetensors([{ name: 'x', shape: [2, 3], data: new Float32Array([1, 2, NaN, 4, 5, 6]) }, { name: 'y', shape: [2], data: new Float32Array([0, 1]) }]));
cases.push(['non-finite values in a safetensors dataset', ['--dataset', nanFile], /nan\.safetensors.*(non-finite|NaN)/i]);
const wrongInit = path.join(tmp, 'init.safetensors');
fs.writeFileSync(wrongInit, serializeSafetensors([{ name: '0.weight', shape: [3, 3], data: new Float32Array(9) }]));
cases.push(['init-from with wrong names/shapes', ['--init-from', wrongInit], /init\.safetensors lacks parameters .*0\.bias/]);

describe('bad input through the CLI', () => {
  it.each(cases)('%s', (_name, extra, message) => {
    const out = path.join(tmp, `out-${_name.replace(/\W+/g, '-')}`);
    const r = spawnSync(process.execPath, [cli, 'run', 'fig1', '--preset', 'tiny', '--quiet', '--out', out, ...extra], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('lplr:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a NaN during training names the epoch and the last checkpoint', () => {
    const out = path.join(tmp, 'diverge');
    const r = spawnSync(process.execPath, [cli, 'run', 'fig1', '--preset', 'tiny', '--lr', '1e30', '--epochs', '20', '--checkpoint-every', '1', '--quiet', '--out', out], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Training diverged at epoch \d+: .*The last good checkpoint is .*checkpoint\.json.*--continue-on-nan/);
    // Finished work is kept.
    expect(fs.existsSync(path.join(out, 'metrics.jsonl'))).toBe(true);
  });
});
