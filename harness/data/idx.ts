// IDX files (the MNIST format) in Node: gzip (detected by the 1f 8b magic) and file reading
// around the platform-neutral parser in idx-core.ts, which documents the format.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DataError } from '../../src/errors.js';
import { isGzip, parseIdxBytes, type IdxData } from './idx-core.js';

export { isGzip, parseIdxBytes, type IdxData } from './idx-core.js';

/** A gzip member of MNIST size inflates to 47 MB; refuse anything past this to stop gzip bombs. */
const MAX_INFLATED_BYTES = 1 << 30;

/** Gunzip, turning zlib failures into a DataError that names the file. */
export function gunzipOrFail(bytes: Uint8Array, source: string, fix: string): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ERR_BUFFER_TOO_LARGE' ? `inflates to more than ${MAX_INFLATED_BYTES} bytes` : `is a truncated or corrupt gzip file (${(e as Error).message})`;
    throw new DataError(`${source} ${why}. ${fix}`);
  }
}

/**
 * Parse IDX bytes (gzipped or not). `fix` is appended to every error message and should say how
 * to get a good copy. The total size must equal the header's dimensions exactly.
 */
export function parseIdx(input: Uint8Array, source: string, fix = 'Re-download the file.'): IdxData {
  const gzipped = isGzip(input);
  const bytes = gzipped ? gunzipOrFail(input, source, fix) : input;
  return parseIdxBytes(bytes, source, fix, gzipped);
}

export function readIdxFile(path: string, fix?: string): IdxData {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(`Cannot read ${path}: ${(e as Error).message}. ${fix ?? ''}`.trim());
  }
  return parseIdx(bytes, path, fix);
}
