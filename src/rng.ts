// Counter-based random numbers: Philox4x32-10, exactly as shaders/rng.wgsl computes it.
// A stream is (key, counter); word i is word (i mod 4) of Philox((c0 + i/4, c1, 0, 0), key).
// Normals are made here in TypeScript (Box-Muller in float64 with detmath.ts's log and cos,
// built from basic IEEE operations, and the correctly rounded Math.sqrt; then rounded to f32),
// so initial parameters are bit-identical on every adapter and every JavaScript engine:
// WGSL's log/cos/sqrt are not correctly rounded, and Math.log/Math.cos are engine-defined.

import { cosTurns, detLog } from './detmath.js';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulhi(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** One Philox4x32-10 block. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): [number, number, number, number] {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    const hi0 = mulhi(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
  }
  return [x0, x1, x2, x3];
}

export interface RngState {
  key: [number, number];
  counter: [number, number];
}

/** Derive a 64-bit key from a seed and a stream name (e.g. 'init', 'data'), so streams never overlap. */
export function deriveKey(seed: number, stream: string): [number, number] {
  let h0 = 0x811c9dc5 ^ (seed >>> 0);
  let h1 = 0x01000193 ^ Math.floor(seed / 2 ** 32);
  for (let i = 0; i < stream.length; i++) {
    h0 = Math.imul(h0 ^ stream.charCodeAt(i), 0x01000193) >>> 0;
    h1 = Math.imul(h1 ^ stream.charCodeAt(i), 0x5bd1e995) >>> 0;
  }
  const [a, b] = philox4x32(h0, h1, 0, 0, seed >>> 0, 0x2545f491);
  return [a, b];
}

export class Rng {
  private key: [number, number];
  private c0: number;
  private c1: number;
  private buf: number[] = [];

  constructor(seed: number, stream = 'default') {
    this.key = deriveKey(seed, stream);
    this.c0 = 0;
    this.c1 = 0;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  /** State at a block boundary (a partially used block is discarded, deterministically). */
  getState(): RngState {
    return { key: [...this.key] as [number, number], counter: [this.c0, this.c1] };
  }

  setState(state: RngState): void {
    this.key = [state.key[0] >>> 0, state.key[1] >>> 0];
    this.c0 = state.counter[0] >>> 0;
    this.c1 = state.counter[1] >>> 0;
    this.buf = [];
  }

  private refill(): void {
    const w = philox4x32(this.c0, this.c1, 0, 0, this.key[0], this.key[1]);
    this.c0 = (this.c0 + 1) >>> 0;
    if (this.c0 === 0) this.c1 = (this.c1 + 1) >>> 0;
    // Pop order is word 0 first.
    this.buf = [w[3], w[2], w[1], w[0]];
  }

  nextU32(): number {
    if (this.buf.length === 0) this.refill();
    return this.buf.pop()!;
  }

  /** Uniform in [0, 1) with 24 bits: (u >> 8)·2⁻²⁴, exactly representable in f32. */
  uniform(): number {
    return (this.nextU32() >>> 8) * 2 ** -24;
  }

  /** Uniform integer in [0, n) without modulo bias. */
  int(n: number): number {
    if (n <= 0 || !Number.isInteger(n) || n > 2 ** 32) throw new RangeError(`Rng.int: bad range ${n}`);
    const limit = Math.floor(2 ** 32 / n) * n;
    for (;;) {
      const u = this.nextU32();
      if (u < limit) return u % n;
    }
  }

  /** Standard normal via Box-Muller in float64 (two uniforms per value; the sine half is dropped). */
  normal(): number {
    const u1 = ((this.nextU32() >>> 8) + 0.5) * 2 ** -24;
    const u2 = (this.nextU32() >>> 8) * 2 ** -24;
    return Math.sqrt(-2 * detLog(u1)) * cosTurns(u2);
  }

  /** n normals N(0, std²) rounded to f32. */
  normals(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * std;
    return out;
  }

  uniforms(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }

  /** Fisher-Yates permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
