// Download the official dataset files into the cache (node:http/https only). Each file goes to
// `<name>.part` first, resumes with an HTTP Range request when a partial file exists, and is
// renamed into place only after its MD5 matches, so an interrupted or corrupt download never
// looks like a finished one. Re-running after an interruption resumes.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { ConfigError, DataError } from '../../src/errors.js';
import { cifarCacheDir, defaultCacheDir, mnistCacheDir } from './cache.js';
import { extractTar } from './tar.js';

export { defaultCacheDir, mnistCacheDir, cifarCacheDir } from './cache.js';

export type DatasetName = 'mnist' | 'cifar10';

export const DEFAULT_MNIST_BASE_URL = 'https://ossci-datasets.s3.amazonaws.com/mnist/';
export const DEFAULT_CIFAR_BASE_URL = 'https://www.cs.toronto.edu/~kriz/';

/** The official MNIST .gz files and their published MD5s. */
export const MNIST_FILES: Readonly<Record<string, string>> = {
  'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
  'train-labels-idx1-ubyte.gz': 'd53e105ee54ea40749a09fcbcd1e9432',
  't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
  't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c',
};

export const CIFAR_ARCHIVE = 'cifar-10-binary.tar.gz';
export const CIFAR_ARCHIVE_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
/** The files `loadCifar` needs, as they appear in the archive. */
export const CIFAR_BATCH_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
const CIFAR_UNPACKED_MARKER = '.lplr-unpacked';

export interface FetchOptions {
  /** Cache root; default `$LPLR_CACHE_DIR` or `~/.cache/lplr/data`. */
  cacheDir?: string;
  /** URL folder holding the files (ending in '/'); default: the official mirror. */
  baseUrl?: string;
  /** Replace the MD5 of a file, by file name (for tests and mirrors of other copies). */
  expected?: Record<string, string>;
  log?: (line: string) => void;
  /** Attempts per file before giving up (each resumes from what is already on disk). Default 4. */
  attempts?: number;
  /** Idle-socket timeout in milliseconds. Default 60 s. */
  timeoutMs?: number;
}

export interface FetchResult {
  dataset: DatasetName;
  /** Folder to pass as the loader's data directory. */
  dir: string;
  files: string[];
}

/** A failure worth retrying (connection dropped, timeout, 5xx): the partial file is kept. */
class TransientError extends Error {}

export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

function sizeOrZero(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

interface TransferOptions {
  timeoutMs: number;
  log: (line: string) => void;
}

/** One HTTP request: append to (or restart) `part`; resolves when the body was fully written. */
function transfer(url: string, part: string, opts: TransferOptions, redirectsLeft = 5): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`Invalid download URL ${JSON.stringify(url)}; pass a full http:// or https:// base URL.`);
  }
  const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
  if (client === undefined) throw new ConfigError(`Cannot download ${url}: only http:// and https:// URLs are supported.`);
  const offset = sizeOrZero(part);
  const headers: Record<string, string> = { 'user-agent': 'lplr-data-fetch' };
  if (offset > 0) headers.range = `bytes=${offset}-`;

  return new Promise<void>((resolvePromise, reject) => {
    // Once the body is being written, failures are reported only after the file is closed,
    // so the caller never measures (and resumes from) a file that is still being written.
    let writing = false;
    const req = client.get(parsed, { headers }, (res) => {
      const status = res.statusCode ?? 0;
      const done = (p: Promise<void>): void => void p.then(resolvePromise, reject);
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location !== undefined) {
        res.resume();
        if (redirectsLeft === 0) return reject(new DataError(`Too many redirects while downloading ${url}.`));
        const next = new URL(res.headers.location, parsed).toString();
        return done(Promise.resolve().then(() => transfer(next, part, opts, redirectsLeft - 1)));
      }
      if (status === 416 && offset > 0) {
        // The partial file is as long as (or longer than) the resource: keep it if exactly
        // complete, the checksum decides; otherwise start over.
        res.resume();
        const total = /\/(\d+)$/.exec(res.headers['content-range'] ?? '')?.[1];
        if (total !== undefined && Number(total) === offset) return resolvePromise();
        unlinkSync(part);
        return reject(new TransientError(`server refused to resume at byte ${offset}; starting over`));
      }
      let flags: 'a' | 'w';
      let expectedLength: number | undefined;
      const contentLength = res.headers['content-length'];
      if (status === 206 && offset > 0) {
        const start = /^bytes (\d+)-/.exec(res.headers['content-range'] ?? '')?.[1];
        if (start === undefined || Number(start) !== offset) {
          res.resume();
          unlinkSync(part);
          return reject(new TransientError(`server sent range ${res.headers['content-range'] ?? '(none)'} for a resume at byte ${offset}; starting over`));
        }
        flags = 'a';
      } else if (status === 200) {
        if (offset > 0) opts.log(`  server does not support resuming; downloading ${url} from the start`);
        flags = 'w';
      } else {
        res.resume();
        const err = `HTTP ${status} ${res.statusMessage ?? ''} for ${url}`.replace(/ +/g, ' ');
        if (status >= 500) return reject(new TransientError(err));
        return reject(new DataError(`${err}. Check the URL (--base-url) or download the files by hand and pass --data-dir.`));
      }
      if (contentLength !== undefined) expectedLength = Number(contentLength);
      // Piped by hand (not stream.pipeline) so that when the connection drops, every byte
      // received is still flushed to the partial file before we report the failure.
      const out = createWriteStream(part, { flags });
      writing = true;
      let writeError: Error | undefined;
      out.on('error', (e) => {
        writeError = e;
        res.destroy();
      });
      res.on('error', () => undefined); // a dropped connection shows as res.complete === false
      res.pipe(out, { end: false });
      res.on('close', () => {
        if (!out.destroyed) out.end();
      });
      out.on('close', () => {
        const received = out.bytesWritten;
        if (writeError !== undefined) {
          reject(new DataError(`Cannot write ${part}: ${writeError.message}. Check free disk space and the permissions of the cache folder (LPLR_CACHE_DIR).`));
        } else if (!res.complete) {
          reject(new TransientError(`connection lost after ${received} bytes`));
        } else if (expectedLength !== undefined && received !== expectedLength) {
          reject(new TransientError(`connection closed after ${received} of ${expectedLength} bytes`));
        } else resolvePromise();
      });
    });
    req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`no data for ${opts.timeoutMs / 1000} s`)));
    req.on('error', (e) => {
      if (!writing) reject(new TransientError(e.message));
    });
  });
}

/**
 * Download `url` to `dest`, verified by MD5. Resumes from `dest.part` if present; on a checksum
 * mismatch the partial file is deleted (after one fresh retry if the bad file was a resume).
 */
export async function downloadVerified(url: string, dest: string, md5: string, opts: FetchOptions = {}): Promise<void> {
  const log = opts.log ?? (() => {});
  const attempts = opts.attempts ?? 4;
  const transferOpts: TransferOptions = { timeoutMs: opts.timeoutMs ?? 60_000, log };
  const part = `${dest}.part`;
  let freshRetryLeft = true;
  for (;;) {
    const resumedFrom = sizeOrZero(part);
    for (let attempt = 1; ; attempt++) {
      const at = sizeOrZero(part);
      log(at > 0 ? `  resuming ${url} at byte ${at}` : `  downloading ${url}`);
      try {
        await transfer(url, part, transferOpts);
        break;
      } catch (e) {
        if (!(e instanceof TransientError)) throw e;
        if (attempt >= attempts) {
          throw new DataError(
            `Download of ${url} failed after ${attempts} attempts (${e.message}); ${sizeOrZero(part)} bytes are kept in ${part}. ` +
              `Run the same command again to resume, or check the network / --base-url.`,
          );
        }
        log(`  ${e.message}; retrying`);
      }
    }
    const got = await md5File(part);
    if (got === md5) break;
    unlinkSync(part);
    if (resumedFrom > 0 && freshRetryLeft) {
      // The old partial file may have come from a different copy: try once from scratch.
      log(`  checksum mismatch after resuming; downloading ${url} again from the start`);
      freshRetryLeft = false;
      continue;
    }
    throw new DataError(
      `Checksum mismatch for ${url}: expected MD5 ${md5}, got ${got}. The download was deleted. ` +
        `Try again later, or check that --base-url serves the official files.`,
    );
  }
  renameSync(part, dest);
}

function withSlash(base: string): string {
  return base.endsWith('/') ? base : `${base}/`;
}

export async function fetchDataset(dataset: DatasetName, opts: FetchOptions = {}): Promise<FetchResult> {
  const log = opts.log ?? (() => {});
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  if (dataset === 'mnist') {
    const dir = mnistCacheDir(cacheDir);
    mkdirSync(dir, { recursive: true });
    const base = withSlash(opts.baseUrl ?? DEFAULT_MNIST_BASE_URL);
    const files: string[] = [];
    for (const [name, officialMd5] of Object.entries(MNIST_FILES)) {
      const md5 = opts.expected?.[name] ?? officialMd5;
      const dest = join(dir, name);
      files.push(dest);
      if (existsSync(dest)) {
        if ((await md5File(dest)) === md5) {
          log(`mnist: ${name} already present and verified`);
          continue;
        }
        log(`mnist: ${name} in the cache fails its checksum; downloading it again`);
        unlinkSync(dest);
      }
      await downloadVerified(base + name, dest, md5, opts);
      log(`mnist: ${name} verified`);
    }
    return { dataset, dir, files };
  }
  if (dataset === 'cifar10') {
    const dir = cifarCacheDir(cacheDir);
    const batchDir = join(dir, 'cifar-10-batches-bin');
    const md5 = opts.expected?.[CIFAR_ARCHIVE] ?? CIFAR_ARCHIVE_MD5;
    const files = CIFAR_BATCH_FILES.map((f) => join(batchDir, f));
    const marker = join(batchDir, CIFAR_UNPACKED_MARKER);
    if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === md5 && files.every((f) => existsSync(f))) {
      log(`cifar10: already unpacked in ${batchDir}`);
      return { dataset, dir, files };
    }
    mkdirSync(dir, { recursive: true });
    const archive = join(dir, CIFAR_ARCHIVE);
    if (!existsSync(archive) || (await md5File(archive)) !== md5) {
      rmSync(archive, { force: true });
      await downloadVerified(withSlash(opts.baseUrl ?? DEFAULT_CIFAR_BASE_URL) + CIFAR_ARCHIVE, archive, md5, opts);
    }
    log(`cifar10: ${CIFAR_ARCHIVE} verified; unpacking into ${dir}`);
    let tar: Uint8Array;
    try {
      tar = await promisify(gunzip)(readFileSync(archive), { maxOutputLength: 1 << 30 });
    } catch (e) {
      rmSync(archive, { force: true });
      throw new DataError(`${archive} could not be decompressed (${(e as Error).message}); it was deleted. Run 'npx lplr data fetch cifar10' again.`);
    }
    try {
      extractTar(tar, dir, archive);
    } catch (e) {
      rmSync(archive, { force: true });
      throw e;
    }
    const missing = files.filter((f) => !existsSync(f));
    if (missing.length > 0) {
      throw new DataError(`${archive} did not contain ${missing.join(', ')}; it is not the CIFAR-10 binary archive. Check --base-url.`);
    }
    // The marker is written last (temp name + rename): its presence means unpacking finished.
    writeFileSync(`${marker}.tmp`, `${md5}\n`);
    renameSync(`${marker}.tmp`, marker);
    rmSync(archive, { force: true });
    log(`cifar10: unpacked ${files.length} batch files into ${batchDir}`);
    return { dataset, dir, files };
  }
  throw new ConfigError(`Unknown dataset '${String(dataset)}'; use 'mnist' or 'cifar10'.`);
}
