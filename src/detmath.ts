// Logarithm and cosine from IEEE-754 basic operations only (+, −, ×, ÷, exact scaling by 2),
// in a fixed order. Math.log and Math.cos are implementation-defined in JavaScript: Node's and
// a browser's V8 (or another engine) may differ in the last bit, which would make initial
// parameters and learning-rate schedules differ between the CLI and the page. These agree
// with the platform functions to a few ulps and are bit-identical on every engine.

const LN2_HI = 6.93147180369123816490e-1; // ln 2 with its low 32 bits cleared: k·LN2_HI is exact
const LN2_LO = 1.90821492927058770002e-10;
const SQRT_HALF = Math.SQRT1_2; // correctly rounded constant, the same everywhere

/** 2·atanh(s) = ln((1 + s)/(1 − s)) for |s| ≤ 0.172, by its odd series (error < 1e-18). */
function twoAtanh(s: number): number {
  const s2 = s * s;
  // Horner over 1/(2k+1), k = 0..12: s2^13/27 < 1e-20 at |s| = 0.172.
  let p = 1 / 25;
  for (let k = 11; k >= 0; k--) p = 1 / (2 * k + 1) + s2 * p;
  return 2 * s * p;
}

/** Natural logarithm of a positive finite x (NaN for x ≤ 0 or NaN; ∞ for ∞). */
export function detLog(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  if (x === Infinity) return Infinity;
  // x = m·2^e with m in [√½, √2): scaling by powers of two is exact.
  let m = x;
  let e = 0;
  while (m >= 2 ** 64) {
    m *= 2 ** -64;
    e += 64;
  }
  while (m < 2 ** -64) {
    m *= 2 ** 64;
    e -= 64;
  }
  while (m >= 2 * SQRT_HALF) {
    m *= 0.5;
    e += 1;
  }
  while (m < SQRT_HALF) {
    m *= 2;
    e -= 1;
  }
  const s = (m - 1) / (m + 1);
  return e * LN2_HI + (twoAtanh(s) + e * LN2_LO);
}

/** sin(2π·w) and cos(2π·w) for |w| ≤ 1/8 by their Taylor series (|t| ≤ π/4; error < 1e-17). */
function sinCosSmall(w: number): { sin: number; cos: number } {
  const t = 2 * Math.PI * w;
  const t2 = t * t;
  let s = 0;
  let c = 0;
  // Terms up to t^23/23! and t^22/22!: (π/4)^24/24! < 1e-25.
  for (let k = 11; k >= 0; k--) {
    s = 1 - (t2 / ((2 * k + 2) * (2 * k + 3))) * s;
    c = 1 - (t2 / ((2 * k + 1) * (2 * k + 2))) * c;
  }
  return { sin: t * s, cos: c };
}

/**
 * cos(2π·u): the angle in turns, so that reducing it is exact for u ≥ 0 (u − ⌊u⌋ and the
 * octant offsets are exact float subtractions) and no rounding of π enters the reduction.
 * Negative u is reduced with one rounding (still the same on every engine).
 */
export function cosTurns(u: number): number {
  if (!Number.isFinite(u)) return NaN;
  let r = u - Math.floor(u); // [0, 1)
  if (r > 0.5) r = 1 - r; // cos is even about 1/2 turn: exact for r in (1/2, 1)
  // r in [0, 1/2]: split into octants around 0, 1/4 and 1/2 turn.
  if (r <= 0.125) return sinCosSmall(r).cos;
  if (r <= 0.375) return sinCosSmall(0.25 - r).sin; // cos(π/2 − x) = sin x
  return -sinCosSmall(0.5 - r).cos;
}
