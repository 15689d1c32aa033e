// safetensors reader/writer on plain bytes (no Node imports, so the browser build can use it).
// Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data section.
// The JSON maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to
// the data section) plus an optional "__metadata__" object of string values.
// Every tensor is converted to f32 on reading; writing always produces F32.
import { DataError } from '../errors.js';

export interface SafetensorsTensor {
  name: string;
  /** dtype as stored in the file (the data is always converted to f32). */
  dtype: string;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export interface ParseSafetensorsOptions {
  /** Accept NaN and ±Infinity values (default: they are an error). */
  allowNonFinite?: boolean;
}

type Reader = (view: DataView, byteOffset: number) => number;

interface DtypeInfo {
  bytes: number;
  read: Reader;
}

const DTYPES: Record<string, DtypeInfo> = {
  F64: { bytes: 8, read: (v, o) => v.getFloat64(o, true) },
  F32: { bytes: 4, read: (v, o) => v.getFloat32(o, true) },
  F16: { bytes: 2, read: (v, o) => halfToFloat(v.getUint16(o, true)) },
  // bfloat16 is the upper half of an f32.
  BF16: { bytes: 2, read: (v, o) => bitsToFloat(v.getUint16(o, true) << 16) },
  // I64 values beyond 2^53 lose precision; they are rounded to f32 anyway.
  I64: { bytes: 8, read: (v, o) => Number(v.getBigInt64(o, true)) },
  I32: { bytes: 4, read: (v, o) => v.getInt32(o, true) },
  I16: { bytes: 2, read: (v, o) => v.getInt16(o, true) },
  I8: { bytes: 1, read: (v, o) => v.getInt8(o) },
  U8: { bytes: 1, read: (v, o) => v.getUint8(o) },
};

const SUPPORTED = Object.keys(DTYPES).join(', ');

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const bitsView = new DataView(new ArrayBuffer(4));
function bitsToFloat(bits: number): number {
  bitsView.setUint32(0, bits >>> 0, true);
  return bitsView.getFloat32(0, true);
}

/** IEEE 754 binary16 to a JS number (exact: every half value is representable). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function fail(source: string, problem: string): never {
  throw new DataError(`${source}: ${problem}`);
}

const NOT_SAFETENSORS = 'Check that it is a safetensors file and re-create it if it was damaged.';

/** Parse a safetensors file held in memory. Every failure is a DataError naming `source`. */
export function parseSafetensors(bytes: Uint8Array, source: string, opts: ParseSafetensorsOptions = {}): SafetensorsFile {
  if (bytes.length < 8) {
    fail(source, `is ${bytes.length} bytes, too short for a safetensors file (at least 8 bytes of header length). ${NOT_SAFETENSORS}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenLo = view.getUint32(0, true);
  const lenHi = view.getUint32(4, true);
  const headerLen = lenHi * 2 ** 32 + lenLo;
  // Bound the declared header length by the real size before decoding anything.
  if (headerLen > bytes.length - 8) {
    fail(source, `declares a ${headerLen}-byte header but the file has only ${bytes.length - 8} bytes after the length field. ${NOT_SAFETENSORS}`);
  }
  if (headerLen < 2) fail(source, `declares a ${headerLen}-byte header, too short for a JSON object. ${NOT_SAFETENSORS}`);

  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    fail(source, `header is not valid UTF-8. ${NOT_SAFETENSORS}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    fail(source, `header is not valid JSON (${(e as Error).message}). ${NOT_SAFETENSORS}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(source, `header must be a JSON object of tensors. ${NOT_SAFETENSORS}`);
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: string; info: DtypeInfo; shape: number[]; begin: number; end: number }[] = [];

  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(source, `"__metadata__" must be an object of strings.`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(source, `"__metadata__" value for "${k}" must be a string, found ${JSON.stringify(v)}.`);
        metadata[k] = v;
      }
      continue;
    }
    const what = `tensor "${name}"`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(source, `${what} must be an object with dtype, shape and data_offsets.`);
    const entry = raw as Record<string, unknown>;
    const dtype = entry.dtype;
    if (typeof dtype !== 'string') fail(source, `${what} has no string "dtype".`);
    const info = DTYPES[dtype];
    if (info === undefined) fail(source, `${what} has unsupported dtype ${JSON.stringify(dtype)}; supported: ${SUPPORTED}.`);
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
      fail(source, `${what} has shape ${JSON.stringify(shape)}; a shape must be a list of non-negative integers.`);
    }
    const offsets = entry.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(source, `${what} has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with non-negative integers.`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(source, `${what} has data_offsets [${begin}, ${end}] with begin after end.`);
    if (end > dataLen) {
      fail(source, `${what} has data_offsets [${begin}, ${end}] past the end of the ${dataLen}-byte data section (file truncated?). ${NOT_SAFETENSORS}`);
    }
    // numel·size is compared as a float product: any shape whose real size exceeds the
    // (already bounded) byte range fails here without allocating.
    let numel = 1;
    for (const d of shape as number[]) numel *= d;
    const expected = numel * info.bytes;
    if (expected !== end - begin) {
      const exact = (shape as number[]).reduce((a, d) => a * BigInt(d), BigInt(info.bytes));
      fail(source, `${what} (${dtype}, shape [${(shape as number[]).join(', ')}]) needs ${exact} bytes but data_offsets [${begin}, ${end}] span ${end - begin}.`);
    }
    entries.push({ name, dtype, info, shape: shape as number[], begin, end });
  }

  // The data section must be covered exactly: no overlaps and no holes (as the format requires).
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const e of byOffset) {
    if (e.begin < covered) fail(source, `tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap another tensor's data.`);
    if (e.begin > covered) fail(source, `bytes ${covered}..${e.begin} of the data section belong to no tensor (a hole before "${e.name}"). ${NOT_SAFETENSORS}`);
    covered = e.end;
  }
  if (covered !== dataLen) {
    fail(source, `has ${dataLen - covered} trailing bytes after the last tensor's data (data section ${dataLen} bytes, tensors cover ${covered}). ${NOT_SAFETENSORS}`);
  }

  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const numel = (e.end - e.begin) / e.info.bytes;
    let data: Float32Array;
    if (e.dtype === 'F32' && LITTLE_ENDIAN) {
      // Fast path: a copy into a fresh (aligned) buffer is already the f32 array. (Not
      // bytes.slice: on a Node Buffer that is a view into a shared pool.)
      data = new Float32Array(new Uint8Array(bytes.subarray(dataStart + e.begin, dataStart + e.end)).buffer);
    } else {
      data = new Float32Array(numel);
      let base = dataStart + e.begin;
      for (let i = 0; i < numel; i++, base += e.info.bytes) data[i] = e.info.read(view, base);
    }
    if (!opts.allowNonFinite) {
      for (let i = 0; i < numel; i++) {
        if (Number.isFinite(data[i])) continue;
        const original = e.info.read(view, dataStart + e.begin + i * e.info.bytes);
        const why = Number.isFinite(original) ? `${original}, which overflows float32` : `${original}`;
        fail(source, `tensor "${e.name}" element ${i} is ${why}; non-finite values are not accepted. Fix the data that produced this file.`);
      }
    }
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: [...e.shape], data });
  }
  return { tensors, metadata };
}

export interface TensorToSave {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Serialize f32 tensors, in the given order, with the header padded by spaces so the data
 * section starts at a multiple of 8 bytes.
 */
export function serializeSafetensors(tensors: TensorToSave[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new DataError(`safetensors metadata value for "${k}" must be a string.`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__') throw new DataError(`"__metadata__" is reserved in safetensors and cannot name a tensor; rename it.`);
    if (Object.prototype.hasOwnProperty.call(header, t.name)) throw new DataError(`Tensor name "${t.name}" is used twice; names in a safetensors file must be unique.`);
    let numel = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new DataError(`Tensor "${t.name}" has shape [${t.shape.join(', ')}]; dimensions must be non-negative integers.`);
      numel *= d;
    }
    if (numel !== t.data.length) {
      throw new DataError(`Tensor "${t.name}" has shape [${t.shape.join(', ')}] (${numel} elements) but ${t.data.length} values; make them agree.`);
    }
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + numel * 4] };
    offset += numel * 4;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length % 2 ** 32, true);
  view.setUint32(4, Math.floor(json.length / 2 ** 32), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++, pos += 4) view.setFloat32(pos, t.data[i], true);
  }
  return out;
}
