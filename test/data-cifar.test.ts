import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../src/errors.js';
import { Rng } from '../src/rng.js';
import { augmentBatch, channelStats, loadCifar, normalizeCifar, parseCifarBinary, selectClasses } from '../harness/data/cifar.js';
import { SHARED_DATA, sharedData } from './helpers/requirements.js';

// CIFAR-10 records in ../shared/data/cifar-10 beside the repository.
const SHARED = join(SHARED_DATA, 'cifar-10');
const EXACT = join(SHARED, 'cifar-10-exact-subset');
const JPEG_BIN = join(SHARED, 'cifar-10-jpeg-q75-batches-bin');
const hasExact = sharedData('cifar-10', ['cifar-10-exact-subset/test_batch_first100.bin', 'cifar-10-exact-subset/data_batch_1_first200.bin', 'jpeg/test-labels.txt']) !== undefined;
const hasJpegBin = sharedData('cifar-10', ['cifar-10-jpeg-q75-batches-bin/test_batch.bin', 'cifar-10-jpeg-q75-batches-bin/data_batch_1.bin']) !== undefined;

const FETCH_HINT = "Run 'npx lplr data fetch cifar10', or pass --data-dir DIR containing cifar-10-batches-bin/ (from cifar-10-binary.tar.gz).";
const REDOWNLOAD = "Re-download it with 'npx lplr data fetch cifar10'.";

/** Records built by hand: label byte, then 3072 pixel bytes derived from (record, position, salt). */
function records(labels: number[], salt = 0): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((l, r) => {
    out[r * 3073] = l;
    for (let p = 0; p < 3072; p++) out[r * 3073 + 1 + p] = (p * 31 + r * 17 + salt * 101) % 256;
  });
  return out;
}
const pixelsOf = (rec: Uint8Array, r: number): number[] => [...rec.subarray(r * 3073 + 1, (r + 1) * 3073)];

const root = mkdtempSync(join(tmpdir(), 'lplr-cifar-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function dirWith(files: Record<string, Uint8Array>, nested: boolean): string {
  const dir = join(root, `d${n++}`);
  const target = nested ? join(dir, 'cifar-10-batches-bin') : dir;
  mkdirSync(target, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(target, name), bytes);
  return dir;
}

describe('parseCifarBinary', () => {
  it('splits records into labels and CHW pixels', () => {
    const rec = records([3, 9, 0]);
    const d = parseCifarBinary(rec, 'r');
    expect(d.count).toBe(3);
    expect([...d.labels]).toEqual([3, 9, 0]);
    for (let r = 0; r < 3; r++) expect([...d.images.subarray(r * 3072, (r + 1) * 3072)]).toEqual(pixelsOf(rec, r));
  });

  const bad: [string, Uint8Array, string][] = [
    ['one byte short', records([1, 2]).subarray(0, 6145), `f is 6145 bytes: 1 records of 3073 bytes plus 3072 extra; a CIFAR-10 binary batch is a whole number of records (1 label byte + 3072 pixel bytes). ${REDOWNLOAD}`],
    ['one byte long', new Uint8Array([...records([1, 2]), 7]), `f is 6147 bytes: 2 records of 3073 bytes plus 1 extra; a CIFAR-10 binary batch is a whole number of records (1 label byte + 3072 pixel bytes). ${REDOWNLOAD}`],
    ['empty', new Uint8Array(0), `f is empty; a CIFAR-10 batch holds 3073-byte records. ${REDOWNLOAD}`],
    ['label above 9', records([1, 10]), `f: record 1 has label 10; CIFAR-10 labels are 0..9. Is this a CIFAR-100 file? ${REDOWNLOAD}`],
  ];
  it.each(bad)('rejects a file %s', (_label, bytes, message) => {
    let caught: unknown;
    try {
      parseCifarBinary(bytes, 'f');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DataError);
    expect((caught as Error).message).toBe(message);
  });
});

describe('loadCifar', () => {
  const b1 = records([0, 1, 2], 1);
  const b3 = records([7, 8], 3);
  const test = records([4, 4, 5, 6], 9);

  it('finds batches in cifar-10-batches-bin/ or directly in the folder, in batch order', () => {
    for (const nested of [true, false]) {
      const dir = dirWith({ 'data_batch_3.bin': b3, 'data_batch_1.bin': b1, 'test_batch.bin': test }, nested);
      const sub = nested ? join(dir, 'cifar-10-batches-bin') : dir;
      const train = loadCifar({ dataDir: dir, split: 'train' });
      expect(train.count).toBe(5);
      expect([...train.labels]).toEqual([0, 1, 2, 7, 8]);
      expect(train.files).toEqual([
        { path: join(sub, 'data_batch_1.bin'), records: 3 },
        { path: join(sub, 'data_batch_3.bin'), records: 2 },
      ]);
      expect([...train.images.subarray(3 * 3072, 4 * 3072)]).toEqual(pixelsOf(b3, 0));
      const only3 = loadCifar({ dataDir: dir, split: 'train', batches: [3] });
      expect([...only3.labels]).toEqual([7, 8]);
      const t = loadCifar({ dataDir: dir, split: 'test' });
      expect([...t.labels]).toEqual([4, 4, 5, 6]);
    }
  });

  it('says how to get the data when nothing is there, and names missing batches', () => {
    const empty = dirWith({}, false);
    expect(() => loadCifar({ dataDir: empty, split: 'test' })).toThrow(
      new DataError(`CIFAR-10 test data not found: looked for test_batch.bin in ${join(empty, 'cifar-10-batches-bin')} and ${empty}. ${FETCH_HINT}`),
    );
    const dir = dirWith({ 'data_batch_1.bin': b1 }, true);
    expect(() => loadCifar({ dataDir: dir, split: 'train', batches: [1, 2] })).toThrow(
      new DataError(`CIFAR-10 batch file data_batch_2.bin not found in ${join(dir, 'cifar-10-batches-bin')}. ${FETCH_HINT}`),
    );
    expect(() => loadCifar({ dataDir: dir, split: 'train', batches: [0] })).toThrow(ConfigError);
    expect(() => loadCifar({ dataDir: dir, split: 'test', batches: [1] })).toThrow(ConfigError);
  });

  it('reports a corrupt batch by path', () => {
    const dir = dirWith({ 'test_batch.bin': test.subarray(0, 3073 * 2 + 5) }, true);
    expect(() => loadCifar({ dataDir: dir, split: 'test' })).toThrow(`${join(dir, 'cifar-10-batches-bin', 'test_batch.bin')} is 6151 bytes: 2 records of 3073 bytes plus 5 extra`);
  });
});

describe('class selection, statistics, normalisation, augmentation', () => {
  it('selectClasses keeps order and relabels in the given class order', () => {
    const d = parseCifarBinary(records([3, 5, 1, 3, 5, 9]), 'r');
    const s = selectClasses(d, [5, 3]);
    expect(s.count).toBe(4);
    expect([...s.labels]).toEqual([1, 0, 1, 0]);
    expect([...s.images.subarray(3072, 2 * 3072)]).toEqual([...d.images.subarray(3072, 2 * 3072)]);
    expect([...s.images.subarray(2 * 3072, 3 * 3072)]).toEqual([...d.images.subarray(3 * 3072, 4 * 3072)]);
    expect(() => selectClasses(d, [1, 1])).toThrow(ConfigError);
    expect(() => selectClasses(d, [])).toThrow(ConfigError);
  });

  it('channelStats matches a two-pass reference and normalizeCifar standardises', () => {
    const count = 3;
    const images = new Uint8Array(count * 3072);
    const rng = new Rng(5, 'test-pixels');
    for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
    const { mean, std } = channelStats(images, count);
    for (let c = 0; c < 3; c++) {
      const vals: number[] = [];
      for (let i = 0; i < count; i++) for (let p = 0; p < 1024; p++) vals.push(images[i * 3072 + c * 1024 + p] / 255);
      const m = vals.reduce((a, b) => a + b, 0) / vals.length;
      const s = Math.sqrt(vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length);
      expect(mean[c]).toBeCloseTo(m, 12);
      expect(std[c]).toBeCloseTo(s, 12);
    }
    const x = normalizeCifar(images, count, mean, std);
    expect(x.length).toBe(count * 3072);
    const k = 2 * 3072 + 1024 + 77; // image 2, channel G
    expect(x[k]).toBe(Math.fround((images[k] / 255 - mean[1]) / std[1]));
    const after = channelStats(images, count); // unchanged input
    expect(after).toEqual({ mean, std });
    expect(() => normalizeCifar(images, count, mean, [1, 0, 1])).toThrow(ConfigError);
  });

  it('augmentBatch crops from a zero-padded 40×40 image and flips, replaying the same rng draws', () => {
    const count = 40;
    const x = new Float32Array(count * 3072);
    for (let i = 0; i < x.length; i++) x[i] = 1 + (i % 997) / 997; // never 0, so padding is visible
    const out = augmentBatch(x, count, new Rng(11, 'augment'));
    const replay = new Rng(11, 'augment');
    let flips = 0;
    let shifted = 0;
    let mismatches = 0;
    for (let i = 0; i < count; i++) {
      const top = replay.int(9); // crop origin in the padded image
      const left = replay.int(9);
      const flip = replay.uniform() < 0.5;
      flips += flip ? 1 : 0;
      shifted += top !== 4 || left !== 4 ? 1 : 0;
      for (let c = 0; c < 3; c++) {
        const padded = new Float32Array(40 * 40);
        for (let r = 0; r < 32; r++) for (let q = 0; q < 32; q++) padded[(r + 4) * 40 + q + 4] = x[i * 3072 + c * 1024 + r * 32 + q];
        for (let r = 0; r < 32; r++) {
          for (let q = 0; q < 32; q++) {
            const srcCol = flip ? 31 - q : q;
            if (out[i * 3072 + c * 1024 + r * 32 + q] !== padded[(top + r) * 40 + left + srcCol]) mismatches++;
          }
        }
      }
    }
    expect(mismatches).toBe(0);
    expect(flips).toBeGreaterThan(5);
    expect(flips).toBeLessThan(35);
    expect(shifted).toBeGreaterThan(20);
    expect([...augmentBatch(x, count, new Rng(11, 'augment'))]).toEqual([...out]);
  });
});

describe.skipIf(!hasExact)(`shared CIFAR-10 exact subset (skipped when ${EXACT} is absent)`, () => {
  it('parses the exact test and train records', () => {
    const t = parseCifarBinary(readFileSync(join(EXACT, 'test_batch_first100.bin')), 'test100');
    const b = parseCifarBinary(readFileSync(join(EXACT, 'data_batch_1_first200.bin')), 'train200');
    expect(t.count).toBe(100);
    expect(b.count).toBe(200);
    // Known first test labels (cat, ship, ship, airplane, frog, frog, automobile, frog, cat, automobile).
    expect([...t.labels.subarray(0, 10)]).toEqual([3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
    const listed = readFileSync(join(SHARED, 'jpeg', 'test-labels.txt'), 'utf8').trim().split('\n').map(Number);
    expect([...t.labels]).toEqual(listed.slice(0, 100));
  });

  it.skipIf(!hasJpegBin)('(needs the JPEG-derived batches) first records equal the JPEG-derived batches: same labels, close pixels', () => {
    const pairs: [string, string][] = [
      ['test_batch_first100.bin', 'test_batch.bin'],
      ['data_batch_1_first200.bin', 'data_batch_1.bin'],
    ];
    for (const [exactName, jpegName] of pairs) {
      const exact = parseCifarBinary(readFileSync(join(EXACT, exactName)), exactName);
      const jpeg = loadCifar({ dataDir: JPEG_BIN, split: jpegName === 'test_batch.bin' ? 'test' : 'train' });
      expect(jpeg.count).toBe(10000);
      expect([...jpeg.labels.subarray(0, exact.count)]).toEqual([...exact.labels]);
      // JPEG pixels differ, but the mean absolute error per image stays small (SOURCES.md: ≤ 13).
      for (let r = 0; r < exact.count; r++) {
        let err = 0;
        for (let p = 0; p < 3072; p++) err += Math.abs(exact.images[r * 3072 + p] - jpeg.images[r * 3072 + p]);
        expect(err / 3072).toBeLessThan(14);
      }
    }
  });

  it.skipIf(!hasJpegBin)('(needs the JPEG-derived batches) the JPEG-derived test batch has the known class counts and channel means', () => {
    const t = loadCifar({ dataDir: JPEG_BIN, split: 'test' });
    const counts = new Array(10).fill(0);
    for (const l of t.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    const { mean } = channelStats(t.images, t.count);
    expect(mean.map((m) => m * 255)).toEqual([expect.closeTo(125.99, 1), expect.closeTo(123.69, 1), expect.closeTo(114.85, 1)]);
  });
});
