// Closeness checks with messages that name the worst element (no engine imports).

export interface Tolerance {
  /** Relative tolerance against |expected|. */
  rel: number;
  /** Absolute floor (for values near zero, and sums whose rounding grows with length). */
  abs: number;
}

/**
 * Throws unless |actual − expected| ≤ abs + rel·|expected| everywhere (NaN never passes).
 * The message gives the worst index, both values and the shape of the failure.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what: string): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  let failures = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const allowed = tol.abs + tol.rel * Math.abs(expected[i]);
    if (!(err <= allowed)) {
      failures++;
      const excess = Number.isNaN(err) ? Infinity : err / allowed;
      if (worst < 0 || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (failures > 0) {
    throw new Error(
      `${what}: ${failures}/${actual.length} values out of tolerance (rel ${tol.rel}, abs ${tol.abs}); ` +
        `worst at [${worst}]: got ${actual[worst]}, expected ${expected[worst]} (${worstExcess.toFixed(1)}x the allowed error)`,
    );
  }
}

/** Exact equality of two arrays, bit for bit (f32 values compared through their bits). */
export function assertBitwiseEqual(a: Float32Array, b: Float32Array, what: string): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (ua.length !== ub.length) throw new Error(`${what}: lengths ${ua.length} vs ${ub.length}`);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) throw new Error(`${what}: first difference at [${i}]: ${a[i]} vs ${b[i]}`);
  }
}
