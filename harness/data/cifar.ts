// CIFAR-10 binary batches read from disk; the parsing and the pure functions live in
// cifar-core.ts (no Node imports, the browser page shares them) and are re-exported here.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DataError } from '../../src/errors.js';
import { cifarCacheDir } from './cache.js';
import { concatCifar, parseCifarBinary, type CifarData } from './cifar-core.js';

export * from './cifar-core.js';

export interface CifarFile {
  path: string;
  records: number;
}

export interface LoadedCifar extends CifarData {
  files: CifarFile[];
}

const FETCH_HINT = "Run 'npx lplr data fetch cifar10', or pass --data-dir DIR containing cifar-10-batches-bin/ (from cifar-10-binary.tar.gz).";
const REDOWNLOAD_HINT = "Re-download it with 'npx lplr data fetch cifar10'.";

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
  return { ...concatCifar(parts), files };
}
