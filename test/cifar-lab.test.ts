// The fig3 lab without a GPU: its data path on CIFAR-10 records written here (files, class
// selection and relabelling, per-channel statistics against a float64 computation), the
// missing-data message, the FLOP count of a ResNet against the hand count, the timing rule.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../src/errors.js';
import type { MetricRow } from '../src/metrics/schema.js';
import { cifarTiming, loadCifarRunData, partialRunNote, summarizeCifarRun } from '../harness/experiments/cifar-lab.js';
import { resnetForwardMacs } from '../harness/experiments/cifar-train.js';

const PIXELS = 3072;

/** n records; record i has label labels[i] and pixel p = (seed + 7i + 3p) mod 256. */
function records(labels: number[], seed: number): Uint8Array {
  const out = new Uint8Array(labels.length * (PIXELS + 1));
  labels.forEach((label, i) => {
    const at = i * (PIXELS + 1);
    out[at] = label;
    for (let p = 0; p < PIXELS; p++) out[at + 1 + p] = (seed + 7 * i + 3 * p) % 256;
  });
  return out;
}

function pixel(seed: number, i: number, p: number): number {
  return (seed + 7 * i + 3 * p) % 256;
}

describe('fig3 data path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-cifar-lab-'));
  const labels1 = [0, 3, 1, 3, 9, 1, 5, 3];
  const labels2 = [1, 1, 3, 7];
  const testLabels = [3, 2, 1, 0];
  fs.writeFileSync(path.join(dir, 'data_batch_1.bin'), records(labels1, 11));
  fs.writeFileSync(path.join(dir, 'data_batch_2.bin'), records(labels2, 50));
  fs.writeFileSync(path.join(dir, 'test_batch.bin'), records(testLabels, 99));

  it('reads every batch file present, keeps the chosen classes in order and relabels them', () => {
    const { data, info } = loadCifarRunData({ dataDir: dir, trainBatches: null, classes: [3, 1] });
    expect(info.trainFiles.map((f) => [path.basename(f.path), f.records])).toEqual([
      ['data_batch_1.bin', 8],
      ['data_batch_2.bin', 4],
    ]);
    expect(info.testFiles.map((f) => [path.basename(f.path), f.records])).toEqual([['test_batch.bin', 4]]);
    // Dataset order, class 3 → 0 and class 1 → 1.
    const expected: [number, number, number][] = []; // [file seed, record index, new label]
    labels1.forEach((l, i) => (l === 3 || l === 1) && expected.push([11, i, l === 3 ? 0 : 1]));
    labels2.forEach((l, i) => (l === 3 || l === 1) && expected.push([50, i, l === 3 ? 0 : 1]));
    expect(data.train.count).toBe(expected.length);
    expect([...data.train.labels]).toEqual(expected.map((e) => e[2]));
    expected.forEach(([seed, i], k) => {
      expect(data.train.images[k * PIXELS]).toBe(pixel(seed, i, 0));
      expect(data.train.images[k * PIXELS + 3071]).toBe(pixel(seed, i, 3071));
    });
    expect([...data.test.labels]).toEqual([0, 1]);
    expect(data.classCount).toBe(2);
    expect(info.classes).toEqual([
      { id: 3, name: 'cat', train: 4, test: 1 },
      { id: 1, name: 'automobile', train: 4, test: 1 },
    ]);

    // Per-channel statistics of the training images, in float64 from the generating formula.
    for (let c = 0; c < 3; c++) {
      let s = 0;
      let s2 = 0;
      for (const [seed, i] of expected) {
        for (let p = c * 1024; p < (c + 1) * 1024; p++) {
          const v = pixel(seed, i, p) / 255;
          s += v;
          s2 += v * v;
        }
      }
      const n = expected.length * 1024;
      const mean = s / n;
      expect(data.stats.mean[c]).toBeCloseTo(mean, 10);
      expect(data.stats.std[c]).toBeCloseTo(Math.sqrt(s2 / n - mean * mean), 8);
    }
  });

  it('reads only the batch files asked for', () => {
    const { info, data } = loadCifarRunData({ dataDir: dir, trainBatches: [2], classes: [0, 1, 2, 3, 4] });
    expect(info.trainFiles.map((f) => path.basename(f.path))).toEqual(['data_batch_2.bin']);
    expect(data.train.count).toBe(3); // labels 1, 1, 3
  });

  it('stops with the fetch command when no CIFAR-10 is there, and names a missing batch file', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-cifar-none-'));
    expect(() => loadCifarRunData({ dataDir: empty, trainBatches: [1], classes: [0, 1] })).toThrow(DataError);
    expect(() => loadCifarRunData({ dataDir: empty, trainBatches: [1], classes: [0, 1] })).toThrow(/npx lplr data fetch cifar10.*--data-dir/);
    expect(() => loadCifarRunData({ dataDir: dir, trainBatches: [1, 3], classes: [0, 1] })).toThrow(/data_batch_3\.bin not found/);
  });

  it('refuses a batch file whose size is not a whole number of records', () => {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-cifar-bad-'));
    fs.writeFileSync(path.join(bad, 'data_batch_1.bin'), records([0, 1], 1).subarray(0, 3073 + 100));
    fs.writeFileSync(path.join(bad, 'test_batch.bin'), records([0, 1], 2));
    expect(() => loadCifarRunData({ dataDir: bad, trainBatches: null, classes: [0, 1] })).toThrow(/1 records of 3073 bytes plus 100 extra/);
  });

  it('refuses class choices with too few training images', () => {
    expect(() => loadCifarRunData({ dataDir: dir, trainBatches: [1], classes: [2, 4] })).toThrow(/0 images of classes bird, deer/);
  });
});

describe('fig3 bookkeeping', () => {
  it('counts the multiply-accumulates of ResNet-20 as He et al.’s CIFAR network has them', () => {
    // By hand: stem 3·16·9·32² = 442,368; stage 1: 6 convs 16·16·9·32² = 14,155,776; stages 2
    // and 3: a strided conv (1,179,648), five more convs (5 · 2,359,296) and a 1×1 projection
    // (131,072) each = 13,107,200; head 64·10.
    expect(resnetForwardMacs(20, [16, 32, 64], 10)).toBe(442_368 + 14_155_776 + 2 * 13_107_200 + 640);
    // ResNet-8 has one block per stage.
    expect(resnetForwardMacs(8, [16, 32, 64], 5)).toBe(442_368 + 2 * 2_359_296 + 2 * (1_179_648 + 2_359_296 + 131_072) + 64 * 5);
  });

  it('times steps by the mean inside epochs, leaving out compilation and the gaps between epochs', () => {
    const step = (s: number, epoch: number, timeMs: number) => ({ kind: 'step', step: s, epoch, loss: 1, gradNormSq: 1, lr: 0.1, timeMs }) as MetricRow;
    const rows: MetricRow[] = [
      step(0, 0, 5000), // compilation
      step(1, 0, 9000),
      step(2, 0, 9000), // resolved together with step 1
      step(3, 0, 9300),
      step(4, 1, 20000), // after the evaluation
      step(5, 1, 20100),
      step(6, 1, 20200),
    ];
    const t = cifarTiming(rows, 128);
    expect(t.intervals).toBe(4); // 1→3 and 4→6
    expect(t.msPerStep).toBe(125); // (300 + 200) / 4
    expect(t.imagesPerSecond).toBe(1024);
    expect(t.wallSeconds).toBe(20.2);
  });

  it('a run whose rows end before its planned epochs is called partial, first among its warnings', () => {
    const rows: MetricRow[] = [];
    for (let epoch = 0; epoch < 3; epoch++) {
      for (let i = 0; i < 4; i++) rows.push({ kind: 'step', step: 4 * epoch + i, epoch, loss: 2 - 0.1 * (4 * epoch + i), gradNormSq: 1, lr: 0.1, timeMs: 100 * (4 * epoch + i) } as MetricRow);
      rows.push({ kind: 'epoch', epoch, loss: 1.8 - 0.4 * epoch, gradNormSq: 1, drift: epoch, acc: 0.5, lr: 0.1, timeMs: 400 * (epoch + 1) } as MetricRow);
    }
    // A step of epoch 3 ran before the stop: two more rows than three epochs, no epoch row.
    rows.push({ kind: 'step', step: 12, epoch: 3, loss: 0.8, gradNormSq: 1, lr: 0.1, timeMs: 1300 } as MetricRow);
    expect(partialRunNote(rows, 30)).toBe(
      "Partial run: 3 of 30 epochs finished (step rows up to step 12). The numbers and verdicts cover only these; 'lplr resume DIR' continues the run from its checkpoint.",
    );
    const summary = summarizeCifarRun(rows, { epochs: 30, emaBeta: 0.9, batchSize: 8, fitWindow: undefined });
    expect(summary.warnings[0]).toMatch(/^Partial run: 3 of 30 epochs/);
    // Complete (or no plan known): no such note.
    expect(partialRunNote(rows, 3)).toBeUndefined();
    expect(partialRunNote(rows, undefined)).toBeUndefined();
    expect(summarizeCifarRun(rows, { epochs: 3, emaBeta: 0.9, batchSize: 8, fitWindow: undefined }).warnings.some((w) => w.startsWith('Partial run'))).toBe(false);
  });
});
