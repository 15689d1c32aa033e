// CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B,
// each a row-major 32×32 plane), plus class selection, normalisation and augmentation.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DataError } from '../../src/errors.js';
import type { Rng } from '../../src/rng.js';
import { cifarCacheDir } from './cache.js';

export const CIFAR_SIDE = 32;
export const CIFAR_CHANNELS = 3;
export const CIFAR_PIXELS = CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_RECORD = 1 + CIFAR_PIXELS;
export const CIFAR_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

export interface CifarData {
  /** count·3072 bytes, CHW per image. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export interface CifarFile {
  path: string;
  records: number;
}

export interface LoadedCifar extends CifarData {
  files: CifarFile[];
}

const FETCH_HINT = "Run 'npx lplr data fetch cifar10', or pass --data-dir DIR containing cifar-10-batches-bin/ (from cifar-10-binary.tar.gz).";
const REDOWNLOAD_HINT = "Re-download it with 'npx lplr data fetch cifar10'.";

export function parseCifarBinary(bytes: Uint8Array, source: string): CifarData {
  if (bytes.length === 0) throw new DataError(`${source} is empty; a CIFAR-10 batch holds 3073-byte records. ${REDOWNLOAD_HINT}`);
  const count = Math.floor(bytes.length / CIFAR_RECORD);
  const remainder = bytes.length % CIFAR_RECORD;
  if (remainder !== 0) {
    throw new DataError(
      `${source} is ${bytes.length} bytes: ${count} records of ${CIFAR_RECORD} bytes plus ${remainder} extra; ` +
        `a CIFAR-10 binary batch is a whole number of records (1 label byte + 3072 pixel bytes). ${REDOWNLOAD_HINT}`,
    );
  }
  const images = new Uint8Array(count * CIFAR_PIXELS);
  const labels = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    const at = r * CIFAR_RECORD;
    const label = bytes[at];
    if (label > 9) throw new DataError(`${source}: record ${r} has label ${label}; CIFAR-10 labels are 0..9. Is this a CIFAR-100 file? ${REDOWNLOAD_HINT}`);
    labels[r] = label;
    images.set(bytes.subarray(at + 1, at + CIFAR_RECORD), r * CIFAR_PIXELS);
  }
  return { images, labels, count };
}

export interface LoadCifarOptions {
  /** Folder containing cifar-10-batches-bin/ or the .bin files; default: the fetch cache. */
  dataDir?: string;
  split: 'train' | 'test';
  /** Training batches to read (1..5); default: every data_batch_N.bin present. */
  batches?: number[];
}

function batchFileNames(split: 'train' | 'test', batches: number[] | undefined): string[] {
  if (split === 'test') return ['test_batch.bin'];
  return (batches ?? [1, 2, 3, 4, 5]).map((b) => `data_batch_${b}.bin`);
}

export function loadCifar(opts: LoadCifarOptions): LoadedCifar {
  const { split, batches } = opts;
  if (split !== 'train' && split !== 'test') throw new ConfigError(`Unknown CIFAR-10 split '${String(split)}'; use 'train' or 'test'.`);
  if (batches !== undefined) {
    if (split === 'test') throw new ConfigError(`CIFAR-10 batches apply to the train split only; the test split is test_batch.bin.`);
    if (batches.length === 0 || !batches.every((b) => Number.isInteger(b) && b >= 1 && b <= 5) || new Set(batches).size !== batches.length) {
      throw new ConfigError(`CIFAR-10 batches must be distinct numbers 1..5, got [${batches.join(', ')}].`);
    }
  }
  const dataDir = opts.dataDir ?? cifarCacheDir();
  const nested = join(dataDir, 'cifar-10-batches-bin');
  const names = batchFileNames(split, batches);

  // Use the first folder that has any of the wanted files; never mix folders.
  const dirs = [nested, dataDir];
  const dir = dirs.find((dd) => names.some((n) => existsSync(join(dd, n))));
  if (dir === undefined) {
    throw new DataError(`CIFAR-10 ${split} data not found: looked for ${names.join(', ')} in ${nested} and ${dataDir}. ${FETCH_HINT}`);
  }
  const present = names.filter((n) => existsSync(join(dir, n)));
  if (batches !== undefined && present.length !== names.length) {
    const missing = names.filter((n) => !present.includes(n));
    throw new DataError(`CIFAR-10 batch file${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found in ${dir}. ${FETCH_HINT}`);
  }

  const parts: CifarData[] = [];
  const files: CifarFile[] = [];
  for (const name of present) {
    const path = join(dir, name);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new DataError(`Cannot read ${path}: ${(e as Error).message}. ${REDOWNLOAD_HINT}`);
    }
    const part = parseCifarBinary(bytes, path);
    parts.push(part);
    files.push({ path, records: part.count });
  }
  const count = parts.reduce((s, p) => s + p.count, 0);
  const images = new Uint8Array(count * CIFAR_PIXELS);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * CIFAR_PIXELS);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { images, labels, count, files };
}

/** Keep only the given classes (in dataset order), relabelled 0..k-1 in the order given. */
export function selectClasses(data: CifarData, classes: number[]): CifarData {
  if (classes.length === 0 || !classes.every((c) => Number.isInteger(c) && c >= 0 && c <= 9) || new Set(classes).size !== classes.length) {
    throw new ConfigError(`CIFAR-10 classes must be distinct numbers 0..9, got [${classes.join(', ')}].`);
  }
  const remap = new Int16Array(10).fill(-1);
  classes.forEach((c, k) => (remap[c] = k));
  let count = 0;
  for (let i = 0; i < data.count; i++) if (remap[data.labels[i]] >= 0) count++;
  const images = new Uint8Array(count * CIFAR_PIXELS);
  const labels = new Uint8Array(count);
  let o = 0;
  for (let i = 0; i < data.count; i++) {
    const k = remap[data.labels[i]];
    if (k < 0) continue;
    images.set(data.images.subarray(i * CIFAR_PIXELS, (i + 1) * CIFAR_PIXELS), o * CIFAR_PIXELS);
    labels[o++] = k;
  }
  return { images, labels, count };
}

export interface ChannelStats {
  mean: [number, number, number];
  std: [number, number, number];
}

/** Per-channel mean and (population) standard deviation of pixel/255 over `count` images. */
export function channelStats(images: Uint8Array, count: number): ChannelStats {
  if (count <= 0 || images.length < count * CIFAR_PIXELS) {
    throw new ConfigError(`channelStats needs at least one image and ${count}·${CIFAR_PIXELS} pixel bytes, got ${images.length}.`);
  }
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  const mean: [number, number, number] = [0, 0, 0];
  const std: [number, number, number] = [0, 0, 0];
  for (let c = 0; c < CIFAR_CHANNELS; c++) {
    // Integer sums of bytes and squared bytes are exact in float64 for any realistic count.
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < count; i++) {
      const base = i * CIFAR_PIXELS + c * plane;
      for (let p = 0; p < plane; p++) {
        const v = images[base + p];
        sum += v;
        sumSq += v * v;
      }
    }
    const n = count * plane;
    const m = sum / n;
    mean[c] = m / 255;
    std[c] = Math.sqrt(Math.max(0, sumSq / n - m * m)) / 255;
  }
  return { mean, std };
}

/** (pixel/255 − mean[c]) / std[c] as a Float32Array of shape [count, 3, 32, 32] (NCHW). */
export function normalizeCifar(images: Uint8Array, count: number, mean: readonly number[], std: readonly number[]): Float32Array {
  if (mean.length !== 3 || std.length !== 3 || std.some((s) => !(s > 0))) {
    throw new ConfigError(`normalizeCifar needs 3 means and 3 positive standard deviations, got mean [${mean.join(', ')}], std [${std.join(', ')}].`);
  }
  if (images.length < count * CIFAR_PIXELS) throw new ConfigError(`normalizeCifar: ${count} images need ${count * CIFAR_PIXELS} bytes, got ${images.length}.`);
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  const out = new Float32Array(count * CIFAR_PIXELS);
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < CIFAR_CHANNELS; c++) {
      const base = i * CIFAR_PIXELS + c * plane;
      const m = mean[c];
      const s = std[c];
      for (let p = 0; p < plane; p++) out[base + p] = (images[base + p] / 255 - m) / s;
    }
  }
  return out;
}

export const CROP_PADDING = 4;

/**
 * Standard CIFAR augmentation on an NCHW f32 batch: pad 4 pixels of zeros on every side, take a
 * random 32×32 crop, then flip horizontally with probability 1/2. On normalised input the zero
 * padding is the channel mean. Per image the rng gives the row offset, the column offset
 * (each int(9)), then one uniform for the flip. Returns a new array.
 */
export function augmentBatch(x: Float32Array, count: number, rng: Rng): Float32Array {
  if (x.length !== count * CIFAR_PIXELS) throw new ConfigError(`augmentBatch: ${count} images need ${count * CIFAR_PIXELS} values, got ${x.length}.`);
  const S = CIFAR_SIDE;
  const out = new Float32Array(x.length);
  for (let i = 0; i < count; i++) {
    const dy = rng.int(2 * CROP_PADDING + 1) - CROP_PADDING;
    const dx = rng.int(2 * CROP_PADDING + 1) - CROP_PADDING;
    const flip = rng.uniform() < 0.5;
    for (let c = 0; c < CIFAR_CHANNELS; c++) {
      const base = i * CIFAR_PIXELS + c * S * S;
      for (let r = 0; r < S; r++) {
        const sr = r + dy;
        if (sr < 0 || sr >= S) continue; // stays zero (padding)
        for (let col = 0; col < S; col++) {
          // Crop first, then flip: output column col shows crop column (flip ? S-1-col : col).
          const sc = (flip ? S - 1 - col : col) + dx;
          if (sc < 0 || sc >= S) continue;
          out[base + r * S + col] = x[base + sr * S + sc];
        }
      }
    }
  }
  return out;
}
