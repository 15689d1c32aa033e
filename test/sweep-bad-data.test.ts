// A corrupt or truncated data file stops `lplr sweep` while it plans: one DataError line, exit
// code 2 (a scheduler fails the job instead of retrying it) and nothing written, rather than
// every run failing with failed.json and exit code 3. The files are read once per distinct data.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../harness/options/args.js';
import { MLP_OPTIONS, resolveMlpConfig, type MlpRunConfig } from '../harness/experiments/mlp-config.js';
import { loadMlpData } from '../harness/experiments/mlp-lab.js';
import { parseGridArg, planSweep } from '../harness/run/sweep.js';
import { DataError } from '../src/errors.js';
import { serializeSafetensors } from '../src/io/safetensors.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-sweep-data-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A valid dataset file: x [n, 4], y [n]. */
function goodDataset(name: string, n: number): string {
  const file = path.join(tmp, name);
  const x = Float32Array.from({ length: n * 4 }, (_, i) => ((i * 7) % 11) / 11);
  const y = Float32Array.from({ length: n }, (_, i) => i % 2);
  fs.writeFileSync(file, serializeSafetensors([
    { name: 'x', shape: [n, 4], data: x },
    { name: 'y', shape: [n], data: y },
  ]));
  return file;
}

/** The same file cut short: its header promises more bytes than remain. */
function truncatedDataset(name: string): string {
  const good = fs.readFileSync(goodDataset(`${name}.src`, 8));
  const file = path.join(tmp, name);
  fs.writeFileSync(file, good.subarray(0, good.length - 20));
  return file;
}

/** A --data-dir whose training images file has the IDX header of 60000 images but 1000 pixel bytes. */
function truncatedMnistDir(): string {
  const dir = path.join(tmp, 'mnist-truncated');
  fs.mkdirSync(dir);
  const images = Buffer.alloc(16 + 1000);
  images.writeUInt32BE(0x00000803, 0);
  images.writeUInt32BE(60000, 4);
  images.writeUInt32BE(28, 8);
  images.writeUInt32BE(28, 12);
  fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), images);
  const labels = Buffer.alloc(8 + 60000);
  labels.writeUInt32BE(0x00000801, 0);
  labels.writeUInt32BE(60000, 4);
  fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), labels);
  return dir;
}

function plan(argv: string[], grids: string[], seeds: number[], checkInputs: (c: MlpRunConfig) => void) {
  const args = parseArgs(argv, MLP_OPTIONS);
  return planSweep('fig1', args, MLP_OPTIONS, grids.map((g) => parseGridArg(g, MLP_OPTIONS)), seeds, resolveMlpConfig, checkInputs);
}

describe('planSweep checks the data files once per distinct data', () => {
  it('reads each dataset once however many widths and seeds use it', () => {
    const a = goodDataset('a.safetensors', 6);
    const b = goodDataset('b.safetensors', 10);
    const seen: string[] = [];
    const p = plan(['--preset', 'tiny'], ['width=8,16', `dataset=${a},${b}`], [0, 1, 2], (c) => {
      seen.push(c.dataset!);
      loadMlpData(c);
    });
    expect(p.runs).toHaveLength(12);
    expect(seen).toEqual([a, b]);
  });

  it('a truncated dataset file is a DataError while planning, naming the grid point that reads it', () => {
    const good = goodDataset('good.safetensors', 6);
    const bad = truncatedDataset('cut.safetensors');
    let err: unknown;
    try {
      plan(['--preset', 'tiny'], [`dataset=${good},${bad}`], [0], loadMlpData);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(new RegExp(`^Grid point dataset=${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, seed=0: .*${path.basename(bad)}`));
  });
});

describe('lplr sweep with a corrupt data file', () => {
  it.each([
    ['a truncated --dataset file', () => ['--dataset', truncatedDataset('cli-cut.safetensors')], /cli-cut\.safetensors/],
    ['random bytes as --dataset', () => {
      const f = path.join(tmp, 'noise.safetensors');
      fs.writeFileSync(f, Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 255)));
      return ['--dataset', f];
    }, /noise\.safetensors/],
    ['a truncated MNIST images file in --data-dir', () => ['--data-dir', truncatedMnistDir()], /train-images-idx3-ubyte is truncated/],
  ])('%s: exit 2, one line, nothing written', (_name, flags, message) => {
    const out = path.join(tmp, `out-${Math.random().toString(36).slice(2)}`);
    const r = spawnSync(process.execPath, [cli, 'sweep', 'fig1', '--preset', 'tiny', '--grid', 'width=8,16', '--seeds', '0-1', ...flags(), '--out', out], {
      cwd: root,
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(r.status, r.stderr).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('lplr:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(fs.existsSync(out)).toBe(false);
  });
});
