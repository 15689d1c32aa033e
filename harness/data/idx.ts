// IDX files (the MNIST format): big-endian magic 0x0000TTNN (TT = element type, NN = number
// of dimensions), NN big-endian u32 dimensions, then the elements. Only unsigned bytes
// (TT = 0x08) with 1 dimension (labels, 0x801) or 3 (images, 0x803) are accepted.
// Files may be gzipped (detected by the 1f 8b magic).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DataError } from '../../src/errors.js';

export interface IdxData {
  /** 'labels' for magic 0x801, 'images' for 0x803. */
  kind: 'labels' | 'images';
  dims: number[];
  /** The elements (a view into the input bytes, or into the decompressed buffer). */
  data: Uint8Array;
}

/** A gzip member of MNIST size inflates to 47 MB; refuse anything past this to stop gzip bombs. */
const MAX_INFLATED_BYTES = 1 << 30;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

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
  const unzipped = gzipped ? ' after decompression' : '';
  if (bytes.length < 4) {
    throw new DataError(`${source} is truncated: ${bytes.length} bytes${unzipped}, too short for an IDX magic number (4 bytes). ${fix}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  let kind: IdxData['kind'];
  if (magic === 0x801) kind = 'labels';
  else if (magic === 0x803) kind = 'images';
  else {
    throw new DataError(
      `${source} has IDX magic 0x${magic.toString(16).padStart(8, '0')}; expected 0x00000801 (labels) or 0x00000803 (images) of unsigned bytes. ${fix}`,
    );
  }
  const ndims = magic & 0xff;
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DataError(`${source} is truncated: ${bytes.length} bytes${unzipped}, shorter than the ${headerBytes}-byte IDX header. ${fix}`);
  }
  const dims: number[] = [];
  // A float product of u32s is exact up to 2^53 and never wraps, so absurd dimensions
  // become a size mismatch below instead of an allocation.
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = headerBytes + count;
  if (bytes.length !== expected) {
    const shape = dims.join('×');
    // Exact (BigInt) size for the message: absurd headers give sizes past 2^53.
    const exact = dims.reduce((a, d) => a * BigInt(d), 1n) + BigInt(headerBytes);
    const problem = bytes.length < expected ? 'is truncated' : `has ${bytes.length - expected} trailing bytes`;
    throw new DataError(`${source} ${problem}: its header declares ${shape} bytes, so it should be ${exact} bytes${unzipped}, but it is ${bytes.length}. ${fix}`);
  }
  return { kind, dims, data: bytes.subarray(headerBytes) };
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
