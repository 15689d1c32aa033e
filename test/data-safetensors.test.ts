import { describe, expect, it } from 'vitest';
import { DataError } from '../src/errors.js';
import { parseSafetensors, serializeSafetensors } from '../src/io/safetensors.js';

// Files are built here byte by byte, independently of serializeSafetensors.
function build(header: string | object, data: Uint8Array = new Uint8Array(0), declaredLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  const v = new DataView(out.buffer);
  const len = declaredLength ?? json.length;
  v.setUint32(0, len % 2 ** 32, true);
  v.setUint32(4, Math.floor(len / 2 ** 32), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function le(kind: 'f32' | 'f64' | 'u16' | 'i64' | 'i32' | 'i16' | 'i8' | 'u8', values: (number | bigint)[]): Uint8Array {
  const size = { f32: 4, f64: 8, u16: 2, i64: 8, i32: 4, i16: 2, i8: 1, u8: 1 }[kind];
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    const o = i * size;
    if (kind === 'f32') v.setFloat32(o, Number(x), true);
    else if (kind === 'f64') v.setFloat64(o, Number(x), true);
    else if (kind === 'u16') v.setUint16(o, Number(x), true);
    else if (kind === 'i64') v.setBigInt64(o, BigInt(x), true);
    else if (kind === 'i32') v.setInt32(o, Number(x), true);
    else if (kind === 'i16') v.setInt16(o, Number(x), true);
    else if (kind === 'i8') v.setInt8(o, Number(x));
    else v.setUint8(o, Number(x));
  });
  return out;
}

const one = (dtype: string, shape: number[], bytes: Uint8Array): Uint8Array =>
  build({ t: { dtype, shape, data_offsets: [0, bytes.length] } }, bytes);

describe('safetensors', () => {
  it('writes the documented byte layout for a hand-built file', () => {
    const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    expect(header.length).toBe(54);
    const expected = new Uint8Array(8 + 56 + 8);
    expected[0] = 56; // u64 LE header length, padded to a multiple of 8
    expected.set(new TextEncoder().encode(header + '  '), 8);
    expected.set([0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0], 64); // 1.5, -2 as f32 LE
    const written = serializeSafetensors([{ name: 'a', shape: [2], data: new Float32Array([1.5, -2]) }]);
    expect([...written]).toEqual([...expected]);

    const parsed = parseSafetensors(expected, 'hand.safetensors');
    const a = parsed.tensors.get('a')!;
    expect(a).toEqual({ name: 'a', dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) });
    expect(parsed.metadata).toEqual({});
  });

  it('round-trips several tensors, metadata, scalars and empty tensors in order', () => {
    const tensors = [
      { name: 'w', shape: [2, 3], data: new Float32Array([1, -2, 3.25, 0, 1e-30, -7]) },
      { name: 'scalar', shape: [], data: new Float32Array([42]) },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
      { name: 'b', shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) },
    ];
    const bytes = serializeSafetensors(tensors, { step: '12', note: 'ünïcode' });
    const headerLen = new DataView(bytes.buffer).getUint32(0, true);
    expect(headerLen % 8).toBe(0);
    const back = parseSafetensors(bytes, 'rt');
    expect([...back.tensors.keys()]).toEqual(['w', 'scalar', 'empty', 'b']);
    for (const t of tensors) expect(back.tensors.get(t.name)).toEqual({ ...t, dtype: 'F32' });
    expect(back.metadata).toEqual({ step: '12', note: 'ünïcode' });
    // Data offsets follow the given order.
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
    expect(header.w.data_offsets).toEqual([0, 24]);
    expect(header.scalar.data_offsets).toEqual([24, 28]);
    expect(header.b.data_offsets).toEqual([28, 40]);
  });

  it('parses a view at an unaligned offset inside a larger buffer (e.g. a pooled Node Buffer)', () => {
    const file = serializeSafetensors([{ name: 'v', shape: [3], data: new Float32Array([1, 2, 3]) }]);
    const big = new Uint8Array(file.length + 10).fill(0xee);
    big.set(file, 3);
    const view = big.subarray(3, 3 + file.length);
    expect([...parseSafetensors(view, 'view').tensors.get('v')!.data]).toEqual([1, 2, 3]);
    expect([...parseSafetensors(Buffer.from(file), 'buffer').tensors.get('v')!.data]).toEqual([1, 2, 3]);
  });

  it('converts every supported dtype to f32', () => {
    const cases: [string, Uint8Array, number[]][] = [
      ['F64', le('f64', [0.5, -1e10, 3]), [0.5, -1e10, 3]],
      // F16: 1, -2, smallest subnormal 2^-24, largest finite 65504, -0
      ['F16', le('u16', [0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000]), [1, -2, 2 ** -24, 65504, -0]],
      // BF16: 1, -3, 0.15625 (0x3E20)
      ['BF16', le('u16', [0x3f80, 0xc040, 0x3e20]), [1, -3, 0.15625]],
      ['I64', le('i64', [-5n, 2n ** 40n, 0n]), [-5, 2 ** 40, 0]],
      ['I32', le('i32', [-2147483648, 7]), [-2147483648, 7]],
      ['I16', le('i16', [-32768, 32767]), [-32768, 32767]],
      ['I8', le('i8', [-128, 127, 0]), [-128, 127, 0]],
      ['U8', le('u8', [255, 0, 9]), [255, 0, 9]],
      ['F32', le('f32', [1.25, -0.5]), [1.25, -0.5]],
    ];
    for (const [dtype, bytes, values] of cases) {
      const t = parseSafetensors(one(dtype, [values.length], bytes), dtype).tensors.get('t')!;
      expect(t.dtype).toBe(dtype);
      expect([...t.data]).toEqual(values.map(Math.fround));
    }
  });

  it('accepts non-finite values only when allowed', () => {
    const file = one('F32', [3], le('f32', [1, NaN, Infinity]));
    const t = parseSafetensors(file, 'nf', { allowNonFinite: true }).tensors.get('t')!;
    expect(t.data[0]).toBe(1);
    expect(Number.isNaN(t.data[1])).toBe(true);
    expect(t.data[2]).toBe(Infinity);
  });

  const fix = 'Check that it is a safetensors file and re-create it if it was damaged.';
  const f32x2 = le('f32', [1, 2]);
  const bad: [string, Uint8Array, string][] = [
    ['too short', new Uint8Array(5), `f: is 5 bytes, too short for a safetensors file (at least 8 bytes of header length). ${fix}`],
    ['absurd header length', build('{}', new Uint8Array(0), 2 ** 40), `f: declares a 1099511627776-byte header but the file has only 2 bytes after the length field. ${fix}`],
    ['header length past the end', build('{}', new Uint8Array(0), 3), `f: declares a 3-byte header but the file has only 2 bytes after the length field. ${fix}`],
    ['invalid UTF-8', build('{"x":1}').map((b, i) => (i === 10 ? 0xff : b)), `f: header is not valid UTF-8. ${fix}`],
    ['header is an array', build('[1,2]'), `f: header must be a JSON object of tensors. ${fix}`],
    ['unsupported dtype', one('C64', [1], new Uint8Array(8)), 'f: tensor "t" has unsupported dtype "C64"; supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8.'],
    ['negative dimension', one('F32', [-2], f32x2), 'f: tensor "t" has shape [-2]; a shape must be a list of non-negative integers.'],
    ['fractional dimension', one('F32', [1.5], f32x2), 'f: tensor "t" has shape [1.5]; a shape must be a list of non-negative integers.'],
    ['size mismatch', one('F32', [3], f32x2), 'f: tensor "t" (F32, shape [3]) needs 12 bytes but data_offsets [0, 8] span 8.'],
    ['absurd shape', build({ t: { dtype: 'F32', shape: [2 ** 31, 2 ** 31], data_offsets: [0, 8] } }, f32x2), 'f: tensor "t" (F32, shape [2147483648, 2147483648]) needs 18446744073709551616 bytes but data_offsets [0, 8] span 8.'],
    ['offsets past the data', build({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)), `f: tensor "t" has data_offsets [0, 8] past the end of the 4-byte data section (file truncated?). ${fix}`],
    ['begin after end', build({ t: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, f32x2), 'f: tensor "t" has data_offsets [8, 4] with begin after end.'],
    ['bad offsets', build({ t: { dtype: 'F32', shape: [2], data_offsets: [0] } }, f32x2), 'f: tensor "t" has data_offsets [0]; expected [begin, end] with non-negative integers.'],
    [
      'overlap',
      build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32x2),
      'f: tensor "b" data_offsets [4, 8] overlap another tensor\'s data.',
    ],
    ['hole', build({ t: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32x2), `f: bytes 0..4 of the data section belong to no tensor (a hole before "t"). ${fix}`],
    ['trailing bytes', build({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32x2), `f: has 4 trailing bytes after the last tensor's data (data section 8 bytes, tensors cover 4). ${fix}`],
    ['metadata not strings', build({ __metadata__: { a: 1 } }), 'f: "__metadata__" value for "a" must be a string, found 1.'],
    ['NaN', one('F32', [2], le('f32', [1, NaN])), 'f: tensor "t" element 1 is NaN; non-finite values are not accepted. Fix the data that produced this file.'],
    ['F16 infinity', one('F16', [1], le('u16', [0xfc00])), 'f: tensor "t" element 0 is -Infinity; non-finite values are not accepted. Fix the data that produced this file.'],
    ['F64 beyond f32', one('F64', [2], le('f64', [0, 1e300])), 'f: tensor "t" element 1 is 1e+300, which overflows float32; non-finite values are not accepted. Fix the data that produced this file.'],
  ];
  it.each(bad)('rejects %s with a DataError', (_label, bytes, message) => {
    let caught: unknown;
    try {
      parseSafetensors(bytes, 'f');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DataError);
    expect((caught as Error).message).toBe(message);
  });

  it('reports invalid JSON with the parser message', () => {
    expect(() => parseSafetensors(build('{"a":'), 'f')).toThrow(/^f: header is not valid JSON \(.+\)\. Check that it is a safetensors file/);
  });

  it('refuses to serialize inconsistent tensors', () => {
    expect(() => serializeSafetensors([{ name: 'a', shape: [3], data: new Float32Array(2) }])).toThrow(
      'Tensor "a" has shape [3] (3 elements) but 2 values; make them agree.',
    );
    const t = { name: 'a', shape: [1], data: new Float32Array(1) };
    expect(() => serializeSafetensors([t, t])).toThrow('Tensor name "a" is used twice');
    expect(() => serializeSafetensors([{ ...t, name: '__metadata__' }])).toThrow(DataError);
  });
});
