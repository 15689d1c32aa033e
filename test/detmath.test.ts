// detmath.ts: log and cos from basic IEEE operations, against the platform's Math.log/Math.cos
// (which are accurate to about an ulp but engine-defined), on the inputs the RNG and the
// cosine schedule feed them and on edge cases.
import { describe, expect, it } from 'vitest';
import { cosTurns, detLog } from '../src/detmath.js';
import { Rng } from '../src/rng.js';

const ulpOf = (x: number) => Math.max(Math.abs(x), Number.MIN_VALUE) * 2 ** -52;

describe('detLog', () => {
  it('is within 2 ulp of Math.log over the Box-Muller inputs and across the exponent range', () => {
    const rng = new Rng(5);
    let worst = 0;
    for (let i = 0; i < 200_000; i++) {
      const u = ((rng.nextU32() >>> 8) + 0.5) * 2 ** -24;
      worst = Math.max(worst, Math.abs(detLog(u) - Math.log(u)) / ulpOf(Math.log(u)));
    }
    for (let e = -1070; e <= 1020; e += 7) {
      for (const m of [1, 1.0000001, 1.4142, 1.4143, 1.9999999]) {
        const x = m * 2 ** e;
        if (x === 1) continue;
        worst = Math.max(worst, Math.abs(detLog(x) - Math.log(x)) / ulpOf(Math.log(x)));
      }
    }
    expect(worst).toBeLessThanOrEqual(2);
  });

  it('edge cases', () => {
    expect(detLog(1)).toBe(0);
    expect(detLog(0)).toBe(-Infinity);
    expect(detLog(-1)).toBeNaN();
    expect(detLog(NaN)).toBeNaN();
    expect(detLog(Infinity)).toBe(Infinity);
    expect(detLog(Math.E)).toBeCloseTo(1, 15);
  });
});

describe('cosTurns', () => {
  it('is within 1e-15 of Math.cos(2πu) and exact at the quarter turns', () => {
    const rng = new Rng(9);
    let worst = 0;
    for (let i = 0; i < 200_000; i++) {
      const u = (rng.nextU32() >>> 8) * 2 ** -24;
      worst = Math.max(worst, Math.abs(cosTurns(u) - Math.cos(2 * Math.PI * u)));
    }
    for (let i = 0; i <= 1000; i++) worst = Math.max(worst, Math.abs(cosTurns(i / 997) - Math.cos((2 * Math.PI * i) / 997)));
    // Math.cos(2π·u) carries the rounding of 2π·u, and i/997 that of the division
    // (each up to ~7e-16 in the result near u = 1).
    expect(worst).toBeLessThan(2e-15);
    // Whole turns are removed exactly; the only error left is the rounding of u + 3 itself.
    for (let i = 0; i <= 1000; i++) expect(Math.abs(cosTurns(i / 997 + 3) - cosTurns(i / 997))).toBeLessThan(2 * Math.PI * 2 ** -51);
    expect([0, 0.25, 0.5, 0.75, 1, 2].map(cosTurns)).toEqual([1, 0, -1, 0, 1, 1]);
    expect(cosTurns(1 / 6)).toBeCloseTo(0.5, 15);
    expect(cosTurns(Infinity)).toBeNaN();
  });

  it('normals are the Box-Muller values rounded to f32: the same as with Math.log/Math.cos on this engine', () => {
    // detmath only removes engine dependence; on V8 the f32 results were unchanged (0 of 5M differed).
    const a = new Rng(42);
    const b = new Rng(42);
    const ours = a.normals(100_000);
    let differ = 0;
    for (let i = 0; i < ours.length; i++) {
      const u1 = ((b.nextU32() >>> 8) + 0.5) * 2 ** -24;
      const u2 = (b.nextU32() >>> 8) * 2 ** -24;
      if (ours[i] !== Math.fround(Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2))) differ++;
    }
    expect(differ).toBeLessThanOrEqual(1);
  });
});
