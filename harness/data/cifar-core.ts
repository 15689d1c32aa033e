// CIFAR-10 binary batches without file access (the browser page uses these too): records of 1
// label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, each a row-major 32×32 plane), plus
// class selection, normalisation and augmentation. harness/data/cifar.ts re-exports them and
// adds reading the batch files from disk.
import { ConfigError, DataError } from '../../src/errors.js';
import type { Rng } from '../../src/rng.js';

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

const REDOWNLOAD_HINT = "Re-download it with 'npx lplr data fetch cifar10'.";

/** Parse one batch file; `fix` is the remedy named in errors (the browser page names its own). */
export function parseCifarBinary(bytes: Uint8Array, source: string, fix: string = REDOWNLOAD_HINT): CifarData {
  if (bytes.length === 0) throw new DataError(`${source} is empty; a CIFAR-10 batch holds 3073-byte records. ${fix}`);
  const count = Math.floor(bytes.length / CIFAR_RECORD);
  const remainder = bytes.length % CIFAR_RECORD;
  if (remainder !== 0) {
    throw new DataError(
      `${source} is ${bytes.length} bytes: ${count} records of ${CIFAR_RECORD} bytes plus ${remainder} extra; ` +
        `a CIFAR-10 binary batch is a whole number of records (1 label byte + 3072 pixel bytes). ${fix}`,
    );
  }
  const images = new Uint8Array(count * CIFAR_PIXELS);
  const labels = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    const at = r * CIFAR_RECORD;
    const label = bytes[at];
    if (label > 9) throw new DataError(`${source}: record ${r} has label ${label}; CIFAR-10 labels are 0..9. Is this a CIFAR-100 file? ${fix}`);
    labels[r] = label;
    images.set(bytes.subarray(at + 1, at + CIFAR_RECORD), r * CIFAR_PIXELS);
  }
  return { images, labels, count };
}

/** The records of several batches, in the order given. */
export function concatCifar(parts: readonly CifarData[]): CifarData {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const images = new Uint8Array(count * CIFAR_PIXELS);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * CIFAR_PIXELS);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { images, labels, count };
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
