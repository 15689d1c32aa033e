// The platform-neutral part of the IDX reader (the MNIST format): header and size checks on
// bytes that are already decompressed. idx.ts adds gzip and file reading for Node; the
// browser page decompresses with DecompressionStream and calls parseIdxBytes directly.
//
// Format: big-endian magic 0x0000TTNN (TT = element type, NN = number of dimensions), NN
// big-endian u32 dimensions, then the elements. Only unsigned bytes (TT = 0x08) with 1
// dimension (labels, 0x801) or 3 (images, 0x803) are accepted.
import { DataError } from '../../src/errors.js';

export interface IdxData {
  /** 'labels' for magic 0x801, 'images' for 0x803. */
  kind: 'labels' | 'images';
  dims: number[];
  /** The elements (a view into the input bytes, or into the decompressed buffer). */
  data: Uint8Array;
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parse decompressed IDX bytes. `fix` is appended to every error message and should say how
 * to get a good copy; `decompressed` only changes the wording of size errors. The total size
 * must equal the header's dimensions exactly.
 */
export function parseIdxBytes(bytes: Uint8Array, source: string, fix = 'Re-download the file.', decompressed = false): IdxData {
  const unzipped = decompressed ? ' after decompression' : '';
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
