// Property tests: on random and mutated inputs the IDX, CIFAR and safetensors parsers either
// succeed with output bounded by the input, or throw a DataError: never another exception,
// never a hang, never an allocation sized by an unchecked header field.
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError } from '../src/errors.js';
import { parseSafetensors, serializeSafetensors } from '../src/io/safetensors.js';
import { parseIdx } from '../harness/data/idx.js';
import { parseCifarBinary } from '../harness/data/cifar.js';
import { readTar } from '../harness/data/tar.js';

// Fixed seed so CI is reproducible; FUZZ_SEED=<n> explores other inputs.
const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20261128;
const params = { seed, numRuns: 300 };
/** Per-call bound: generous for a slow CI machine, far below what a hang or a huge allocation costs. */
const MAX_MS = 250;

/** Run `parse`; it must return (checked by `onSuccess`) or throw a DataError, quickly. */
function checkParser<T>(parse: () => T, onSuccess: (result: T) => void): void {
  const start = performance.now();
  let result: T | undefined;
  try {
    result = parse();
  } catch (e) {
    if (!(e instanceof DataError)) throw new Error(`expected a DataError, got ${String(e)}`);
    expect(e.message.length).toBeGreaterThan(0);
  }
  expect(performance.now() - start).toBeLessThan(MAX_MS);
  if (result !== undefined) onSuccess(result);
}

/** Byte edits applied to a valid file: overwrite bytes, then cut or extend it. */
const mutation = fc.record({
  writes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
  extra: fc.uint8Array({ maxLength: 16 }),
});
function mutate(bytes: Uint8Array, m: { writes: [number, number][]; cut?: number; extra: Uint8Array }): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (const [pos, value] of m.writes) if (out.length > 0) out[pos % out.length] = value;
  const cut = m.cut === undefined ? out.length : m.cut % (out.length + 1);
  return Uint8Array.from([...out.subarray(0, cut), ...m.extra]);
}

function idxFile(magic: number, dims: number[], fill: number): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(4 + 4 * dims.length + count);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic, false);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.fill(fill, 4 + 4 * dims.length);
  return out;
}

describe('IDX parser fuzz', () => {
  const checkIdx = (bytes: Uint8Array, plainLength: number): void =>
    checkParser(
      () => parseIdx(bytes, 'fuzz.idx'),
      (r) => {
        expect(r.data.length).toBe(r.dims.reduce((a, b) => a * b, 1));
        expect(r.data.length).toBeLessThanOrEqual(plainLength);
        expect(r.dims.length).toBe(r.kind === 'labels' ? 1 : 3);
      },
    );

  it('random bytes, with and without a valid magic', () => {
    const magic = fc.constantFrom([], [0, 0, 8, 1], [0, 0, 8, 3], [0x1f, 0x8b]);
    fc.assert(
      fc.property(magic, fc.uint8Array({ maxLength: 200 }), (prefix, rest) => {
        const bytes = Uint8Array.from([...prefix, ...rest]);
        checkIdx(bytes, bytes.length);
      }),
      params,
    );
  });

  it('absurd dimensions never allocate', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 3, maxLength: 3 }), fc.uint8Array({ maxLength: 64 }), (dims, tail) => {
        const bytes = Uint8Array.from([...idxFile(0x803, dims.map(() => 0), 0).subarray(0, 16), ...tail]);
        new DataView(bytes.buffer).setUint32(4, dims[0], false);
        new DataView(bytes.buffer).setUint32(8, dims[1], false);
        new DataView(bytes.buffer).setUint32(12, dims[2], false);
        checkIdx(bytes, bytes.length);
      }),
      params,
    );
  });

  it('mutated valid files, plain and gzipped', () => {
    const valid = fc.oneof(
      fc.tuple(fc.constant(0x801), fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 1 })),
      fc.tuple(fc.constant(0x803), fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 3, maxLength: 3 })),
    );
    fc.assert(
      fc.property(valid, fc.integer({ min: 0, max: 255 }), mutation, fc.constantFrom('plain', 'gzip-then-mutate', 'mutate-then-gzip'), ([magic, dims], fill, m, how) => {
        const file = idxFile(magic, dims, fill);
        if (how === 'plain') checkIdx(mutate(file, m), file.length + 16);
        else if (how === 'gzip-then-mutate') checkIdx(mutate(gzipSync(file), m), file.length + 16);
        else {
          const mutated = mutate(file, m);
          checkIdx(gzipSync(mutated), mutated.length);
        }
      }),
      params,
    );
  });
});

describe('CIFAR parser fuzz', () => {
  it('random lengths and labels', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 * 3073 + 5 }), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 4 }), (length, labels) => {
        const bytes = new Uint8Array(length);
        labels.forEach((l, r) => {
          if (r * 3073 < length) bytes[r * 3073] = l;
        });
        checkParser(
          () => parseCifarBinary(bytes, 'fuzz.bin'),
          (d) => {
            expect(d.count * 3073).toBe(length);
            expect(d.images.length).toBe(d.count * 3072);
            expect([...d.labels].every((l) => l <= 9)).toBe(true);
          },
        );
      }),
      { ...params, numRuns: 150 },
    );
  });

  it('mutated valid batches', () => {
    const batch = new Uint8Array(2 * 3073);
    batch[0] = 3;
    batch[3073] = 9;
    fc.assert(
      fc.property(mutation, (m) => {
        const bytes = mutate(batch, m);
        checkParser(
          () => parseCifarBinary(bytes, 'fuzz.bin'),
          (d) => expect(d.count * 3073).toBe(bytes.length),
        );
      }),
      { ...params, numRuns: 150 },
    );
  });
});

describe('safetensors parser fuzz', () => {
  const checkSt = (bytes: Uint8Array): void =>
    checkParser(
      () => parseSafetensors(bytes, 'fuzz.safetensors'),
      (r) => {
        let elements = 0;
        for (const t of r.tensors.values()) {
          expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
          expect(t.data.every(Number.isFinite)).toBe(true);
          elements += t.data.length;
        }
        // Every element takes at least one byte of the input.
        expect(elements).toBeLessThanOrEqual(bytes.length);
      },
    );

  /** A file from a header (any JSON text) and a data section. */
  function withHeader(header: string, data: Uint8Array, declared?: number): Uint8Array {
    const json = new TextEncoder().encode(header);
    const out = new Uint8Array(8 + json.length + data.length);
    const v = new DataView(out.buffer);
    const len = declared ?? json.length;
    v.setUint32(0, len % 2 ** 32, true);
    v.setUint32(4, Math.floor(len / 2 ** 32) % 2 ** 32, true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  }

  it('random bytes and random declared header lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.option(fc.maxSafeNat(), { nil: undefined }), (body, declared) => {
        checkSt(body);
        checkSt(withHeader('{}', body, declared));
      }),
      params,
    );
  });

  it('random JSON headers', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 3 }), fc.uint8Array({ maxLength: 64 }), (header, data) => checkSt(withHeader(header, data))),
      params,
    );
  });

  it('plausible headers with random dtypes, shapes and offsets', () => {
    const dim = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: -2, max: 2 ** 32 }), fc.constantFrom(1.5, 2 ** 53, 1e300, '3', null));
    const offset = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(-1, 2 ** 53, 2 ** 64, 0.5, '8'));
    const entry = fc.record({
      dtype: fc.constantFrom('F32', 'F64', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'f32', ''),
      shape: fc.array(dim, { maxLength: 3 }),
      data_offsets: fc.array(offset, { minLength: 1, maxLength: 3 }),
    });
    const header = fc.dictionary(fc.constantFrom('a', 'b', 'c', '__metadata__'), entry, { maxKeys: 3 });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 64 }), (h, data) => checkSt(withHeader(JSON.stringify(h), data))),
      params,
    );
  });

  it('mutated valid files', () => {
    const valid = serializeSafetensors(
      [
        { name: 'x', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
        { name: 'y', shape: [2], data: new Float32Array([0, 1]) },
      ],
      { k: 'v' },
    );
    // Targeted edits land in the length field, the header and the data.
    fc.assert(
      fc.property(mutation, (m) => checkSt(mutate(valid, m))),
      params,
    );
  });
});

describe('tar reader fuzz', () => {
  /** One-file ustar archive built by hand (header checksum included). */
  function tarOf(name: string, data: Uint8Array): Uint8Array {
    const h = new Uint8Array(512);
    const put = (at: number, text: string): void => h.set(new TextEncoder().encode(text), at);
    put(0, name);
    put(100, '0000644\0');
    put(124, data.length.toString(8).padStart(11, '0') + '\0');
    put(148, '        ');
    put(156, '0');
    put(257, 'ustar\0');
    put(263, '00');
    put(148, h.reduce((a, b) => a + b, 0).toString(8).padStart(6, '0') + '\0 ');
    const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
    padded.set(data);
    return Uint8Array.from([...h, ...padded, ...new Uint8Array(1024)]);
  }

  it('random and mutated archives', () => {
    const valid = tarOf('dir/file.bin', new Uint8Array(700).fill(5));
    fc.assert(
      fc.property(mutation, fc.uint8Array({ maxLength: 1200 }), (m, random) => {
        for (const bytes of [mutate(valid, m), random]) {
          checkParser(
            () => readTar(bytes, 'fuzz.tar'),
            (entries) => {
              for (const e of entries) {
                expect(e.path.split('/')).not.toContain('..');
                expect(e.path.startsWith('/')).toBe(false);
                expect(e.data.length).toBeLessThanOrEqual(bytes.length);
              }
            },
          );
        }
      }),
      params,
    );
  });
});
