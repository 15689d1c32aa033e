// Where fetched datasets live. `npx lplr data fetch` writes here and the loaders look here
// when no --data-dir is given.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$LPLR_CACHE_DIR`, else `~/.cache/lplr/data`. */
export function defaultCacheDir(): string {
  const fromEnv = process.env.LPLR_CACHE_DIR;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(homedir(), '.cache', 'lplr', 'data');
}

/** Folder holding the four MNIST .gz files after `npx lplr data fetch mnist`. */
export function mnistCacheDir(cacheDir: string = defaultCacheDir()): string {
  return join(cacheDir, 'mnist');
}

/** Folder holding `cifar-10-batches-bin/` after `npx lplr data fetch cifar10`. */
export function cifarCacheDir(cacheDir: string = defaultCacheDir()): string {
  return join(cacheDir, 'cifar10');
}
