// The platform-neutral part of MNIST: checking a parsed image/label pair and the binary
// two-digit task (stratified seeded subset) the paper's MNIST experiments use. mnist.ts finds
// and reads the files in Node; the browser page fetches them (or takes user-picked files) and
// calls these functions, so both select exactly the same samples.
import { ConfigError, DataError } from '../../src/errors.js';
import { Rng } from '../../src/rng.js';
import type { IdxData } from './idx-core.js';

export type MnistSplit = 'train' | 'test';

export interface MnistData {
  /** count·rows·cols pixels, 0..255, row-major per image. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
  /** The image file and the label file that were read. */
  files: string[];
}

/**
 * Check that two parsed IDX files are an MNIST split (28×28 images, as many labels as images,
 * labels 0..9). `fix` ends messages about bad copies, `wrongFiles` the one about other images.
 */
export function mnistFromIdx(images: IdxData, labels: IdxData, imageSource: string, labelSource: string, fix: string, wrongFiles: string): MnistData {
  if (images.kind !== 'images') throw new DataError(`${imageSource} holds IDX labels, not images (magic 0x00000801). ${fix}`);
  if (labels.kind !== 'labels') throw new DataError(`${labelSource} holds IDX images, not labels (magic 0x00000803). ${fix}`);
  const [count, rows, cols] = images.dims;
  if (rows !== 28 || cols !== 28) {
    throw new DataError(`${imageSource} holds ${rows}×${cols} images; MNIST images are 28×28. ${wrongFiles}`);
  }
  if (labels.dims[0] !== count) {
    throw new DataError(`${labelSource} has ${labels.dims[0]} labels but ${imageSource} has ${count} images; they must be the same split. ${fix}`);
  }
  for (let i = 0; i < count; i++) {
    if (labels.data[i] > 9) throw new DataError(`${labelSource}: label ${i} is ${labels.data[i]}; MNIST labels are 0..9. ${fix}`);
  }
  return { images: images.data, labels: labels.data, count, rows, cols, files: [imageSource, labelSource] };
}

/**
 * Per-class sample counts for a stratified subset of `subset` samples from classes of the given
 * sizes, by largest remainder: each class first gets floor(subset·size/total); the slots left
 * go to the classes with the largest fractional parts, ties to the earlier class.
 */
export function stratifiedCounts(classSizes: readonly number[], subset: number): number[] {
  const total = classSizes.reduce((a, b) => a + b, 0);
  if (!Number.isInteger(subset) || subset < 0 || subset > total) {
    throw new ConfigError(`Subset size ${subset} must be an integer between 0 and ${total} (the number of samples available).`);
  }
  if (total === 0) return classSizes.map(() => 0);
  const quotas = classSizes.map((c) => (subset * c) / total);
  const counts = quotas.map(Math.floor);
  let left = subset - counts.reduce((a, b) => a + b, 0);
  const order = quotas.map((q, k) => ({ k, frac: q - Math.floor(q) })).sort((a, b) => b.frac - a.frac || a.k - b.k);
  for (const { k } of order) {
    if (left === 0) break;
    counts[k]++;
    left--;
  }
  return counts;
}

export interface BinaryDigitsOptions {
  /** [a, b]: samples of digit a get y = 0, digit b gets y = 1. */
  digits: [number, number];
  /** Keep only this many samples: a stratified seeded subset, still in dataset order. */
  subset?: number;
  seed: number;
}

export interface BinaryDataset {
  /** n·784 pixels scaled to [0, 1] (pixel/255). */
  x: Float32Array;
  /** 0 for digits[0], 1 for digits[1]. */
  y: Float32Array;
  n: number;
  d: number;
  /** Index of each sample in the split. */
  indices: Uint32Array;
}

export function checkBinaryDigits(digits: readonly number[]): void {
  const [a, b] = digits;
  const isDigit = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 9;
  if (digits.length !== 2 || !isDigit(a) || !isDigit(b) || a === b) {
    throw new ConfigError(`digits must be two different digits 0..9, got [${digits.join(', ')}]; e.g. --digits 0,1.`);
  }
}

/** The binary task on loaded data: samples of the two digits (optionally a stratified subset), x scaled to [0, 1]. */
export function selectBinaryDigits(data: MnistData, split: MnistSplit, opts: BinaryDigitsOptions): BinaryDataset {
  checkBinaryDigits(opts.digits);
  const [a, b] = opts.digits;
  const d = data.rows * data.cols;

  const byClass: number[][] = [[], []];
  for (let i = 0; i < data.count; i++) {
    const l = data.labels[i];
    if (l === a) byClass[0].push(i);
    else if (l === b) byClass[1].push(i);
  }
  let chosen: number[];
  if (opts.subset === undefined) {
    chosen = [...byClass[0], ...byClass[1]].sort((p, q) => p - q);
  } else {
    const available = byClass[0].length + byClass[1].length;
    if (!Number.isInteger(opts.subset) || opts.subset < 1 || opts.subset > available) {
      throw new ConfigError(
        `subset ${opts.subset} is not possible: the MNIST ${split} split has ${available} samples of digits ${a} and ${b}; use a whole number from 1 to ${available}.`,
      );
    }
    const counts = stratifiedCounts([byClass[0].length, byClass[1].length], opts.subset);
    // One stream for the whole subset draw: class a's permutation first, then class b's.
    const rng = new Rng(opts.seed, 'mnist-subset');
    chosen = [];
    for (let k = 0; k < 2; k++) {
      const perm = rng.permutation(byClass[k].length);
      for (let j = 0; j < counts[k]; j++) chosen.push(byClass[k][perm[j]]);
    }
    chosen.sort((p, q) => p - q);
  }

  const n = chosen.length;
  const x = new Float32Array(n * d);
  const y = new Float32Array(n);
  const indices = Uint32Array.from(chosen);
  for (let s = 0; s < n; s++) {
    const src = chosen[s] * d;
    for (let j = 0; j < d; j++) x[s * d + j] = data.images[src + j] / 255;
    y[s] = data.labels[chosen[s]] === a ? 0 : 1;
  }
  return { x, y, n, d, indices };
}
