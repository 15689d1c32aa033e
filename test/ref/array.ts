// Float64 CPU arrays for the reference implementation: a shape and row-major data.
// Deliberately independent of src/: nothing here imports the engine, so the kernels are
// compared against code that shares none of their logic.

export interface RefArray {
  shape: number[];
  data: Float64Array;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function refArray(shape: readonly number[], data?: ArrayLike<number>): RefArray {
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  if (data) {
    if (data.length !== n) throw new Error(`refArray: ${data.length} values for shape [${shape}]`);
    out.set(Array.from(data));
  }
  return { shape: [...shape], data: out };
}

export function zerosLike(a: RefArray): RefArray {
  return refArray(a.shape);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Row-major strides of `shape`. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Multi-index of flat position `i` in `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/** NumPy broadcasting of two shapes. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)] : 1;
    const db = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)] : 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes [${a}] and [${b}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Flat index into an operand of shape `shape` for the output multi-index `outIdx` (right-aligned broadcast). */
export function broadcastOffset(outIdx: readonly number[], shape: readonly number[]): number {
  const lead = outIdx.length - shape.length;
  let off = 0;
  for (let d = 0; d < shape.length; d++) {
    const c = shape[d] === 1 ? 0 : outIdx[lead + d];
    off = off * shape[d] + c;
  }
  return off;
}

/** Materialize `a` broadcast to `shape`. */
export function broadcastTo(a: RefArray, shape: readonly number[]): RefArray {
  const out = refArray(shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[broadcastOffset(unravel(i, shape), a.shape)];
  return out;
}

/** Sum `g` (of a broadcast output shape) back down to `shape`: the adjoint of broadcastTo. */
export function sumToShape(g: RefArray, shape: readonly number[]): RefArray {
  const out = refArray(shape);
  for (let i = 0; i < g.data.length; i++) out.data[broadcastOffset(unravel(i, g.shape), shape)] += g.data[i];
  return out;
}

export function map(a: RefArray, f: (v: number, i: number) => number): RefArray {
  const out = refArray(a.shape);
  for (let i = 0; i < a.data.length; i++) out.data[i] = f(a.data[i], i);
  return out;
}

/** Elementwise with broadcasting. */
export function zipBroadcast(a: RefArray, b: RefArray, f: (x: number, y: number) => number): RefArray {
  const shape = broadcastShape(a.shape, b.shape);
  const out = refArray(shape);
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, shape);
    out.data[i] = f(a.data[broadcastOffset(idx, a.shape)], b.data[broadcastOffset(idx, b.shape)]);
  }
  return out;
}

export function dot(a: RefArray, b: RefArray): number {
  if (a.data.length !== b.data.length) throw new Error('dot: size mismatch');
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i] * b.data[i];
  return s;
}

// ------------------------------------------------------------ test data

/**
 * A small seeded generator for test inputs (splitmix32-style). Independent of src/rng.ts
 * on purpose: test data must not depend on the code under test.
 */
export class TestRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
    return (z ^ (z >>> 15)) >>> 0;
  }
  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * (this.nextU32() / 2 ** 32);
  }
  int(n: number): number {
    return Math.floor(this.uniform(0, n));
  }
}

/**
 * Random values in [lo, hi), rounded to f32 so the GPU sees exactly the values the
 * float64 reference uses.
 */
export function randomArray(rng: TestRandom, shape: readonly number[], lo = -1, hi = 1): RefArray {
  const a = refArray(shape);
  for (let i = 0; i < a.data.length; i++) a.data[i] = Math.fround(rng.uniform(lo, hi));
  return a;
}

/** Random values bounded away from zero in magnitude (for log, div, reciprocal, ...). */
export function randomAwayFromZero(rng: TestRandom, shape: readonly number[], lo: number, hi: number, signed = true): RefArray {
  const a = refArray(shape);
  for (let i = 0; i < a.data.length; i++) {
    const m = rng.uniform(lo, hi);
    a.data[i] = Math.fround(signed && rng.nextU32() & 1 ? -m : m);
  }
  return a;
}

export function toF32(a: RefArray): Float32Array {
  return Float32Array.from(a.data);
}

export function fromF32(shape: readonly number[], data: Float32Array): RefArray {
  return refArray(shape, data);
}
