import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataError } from '../src/errors.js';
import {
  averageRanks,
  fitExponentialPlusOffset,
  fitLogGap,
  fitLogLog,
  linearFit,
  pearson,
  spearman,
} from '../src/metrics/fit.js';

describe('linearFit', () => {
  it('matches a hand-computed least-squares line', () => {
    // x̄ = 2.5, ȳ = 3.75, Sxx = 5, Sxy = 3.5, Syy = 4.75 → slope 0.7, intercept 2, r² = 3.5²/(5·4.75).
    const fit = linearFit([1, 2, 3, 4], [2, 4, 5, 4]);
    expect(fit.slope).toBeCloseTo(0.7, 12);
    expect(fit.intercept).toBeCloseTo(2, 12);
    expect(fit.r2).toBeCloseTo(12.25 / 23.75, 12);
    expect(fit.n).toBe(4);
  });

  it('recovers any exact line with r² = 1', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.integer({ min: 3, max: 40 }),
        (a, b, n) => {
          fc.pre(Math.abs(a) > 1e-3);
          const x = Array.from({ length: n }, (_, i) => 1000 + i * 0.5);
          const fit = linearFit(x, x.map((v) => a * v + b));
          expect(fit.slope).toBeCloseTo(a, 6);
          expect(fit.intercept).toBeCloseTo(b, 2);
          expect(fit.r2).toBeCloseTo(1, 9);
        },
      ),
    );
  });

  it('returns NaN for degenerate inputs and rejects bad ones', () => {
    expect(linearFit([1], [2]).slope).toBeNaN();
    expect(linearFit([3, 3, 3], [1, 2, 3]).slope).toBeNaN();
    expect(linearFit([1, 2, 3], [5, 5, 5]).r2).toBeNaN();
    expect(linearFit([1, 2, 3], [5, 5, 5]).slope).toBe(0);
    expect(() => linearFit([1, 2], [1])).toThrow(DataError);
    expect(() => linearFit([1, 2], [1, NaN])).toThrow(/non-finite point/);
  });
});

describe('ranks and correlation', () => {
  it('averages ranks over ties', () => {
    expect(averageRanks([10, 20, 20, 5, 20])).toEqual([2, 4, 4, 1, 4]);
  });

  it('matches a hand-computed Spearman correlation with ties', () => {
    // y ranks [1, 2, 3.5, 5, 3.5]; Pearson with [1..5]: Sxy = 8, Sxx = 10, Syy = 9.5.
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(8 / Math.sqrt(95), 12);
  });

  it('is ±1 for monotone relations and invariant to monotone transforms', () => {
    const x = [1, 2, 4, 8, 16, 32];
    expect(spearman(x, x.map((v) => Math.exp(v / 4)))).toBeCloseTo(1, 12);
    expect(spearman(x, x.map((v) => 1 / v))).toBeCloseTo(-1, 12);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: -50, max: 50 }), fc.integer({ min: -50, max: 50 })), { minLength: 3, maxLength: 20 }), (pts) => {
        const xs = pts.map((p) => p[0]);
        const ys = pts.map((p) => p[1]);
        const a = spearman(xs, ys);
        const b = spearman(xs.map((v) => v * v * v + 7), ys.map((v) => Math.atan(v)));
        if (Number.isNaN(a)) expect(b).toBeNaN();
        else expect(b).toBeCloseTo(a, 9);
      }),
    );
  });

  it('pearson matches the textbook formula', () => {
    const x = [1, 3, 4, 7, 9];
    const y = [2, 1, 5, 6, 11];
    const mx = 24 / 5;
    const my = 25 / 5;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < 5; i++) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) ** 2;
      syy += (y[i] - my) ** 2;
    }
    expect(pearson(x, y)).toBeCloseTo(sxy / Math.sqrt(sxx * syy), 12);
    expect(pearson(x, y.map((v) => -v))).toBeCloseTo(-sxy / Math.sqrt(sxx * syy), 12);
  });
});

describe('log fits', () => {
  it('fitLogGap recovers ρ of C·ρ^t and skips non-positive gaps explicitly', () => {
    const t = Array.from({ length: 40 }, (_, i) => i);
    const gap = t.map((i) => 3 * 0.9 ** i);
    gap[10] = 0;
    gap[11] = -1;
    gap[12] = NaN;
    const fit = fitLogGap(t, gap, [5, 30]);
    expect(fit.rho).toBeCloseTo(0.9, 12);
    expect(Math.exp(fit.intercept)).toBeCloseTo(3, 10);
    expect(fit.n).toBe(26 - 3);
    expect(fit.skipped).toBe(3);
  });

  it('fitLogLog recovers the exponent of a power law', () => {
    const t = Array.from({ length: 30 }, (_, i) => i);
    const gap = t.map((i) => 0.95 ** i);
    const g2 = gap.map((g) => 0.3 * g ** 0.8);
    g2[3] = 0;
    const fit = fitLogLog(t, gap, g2);
    expect(fit.slope).toBeCloseTo(0.8, 12);
    expect(Math.exp(fit.intercept)).toBeCloseTo(0.3, 12);
    expect(fit.skipped).toBe(1);
    expect(fit.n).toBe(29);
  });

  it('fitExponentialPlusOffset recovers L*, C and ρ of L* + C·ρ^t', () => {
    const t = Array.from({ length: 200 }, (_, i) => i);
    const loss = t.map((i) => 0.25 + 1.5 * 0.96 ** i);
    const fit = fitExponentialPlusOffset(t, loss, [5, 180], { lowerBound: 0 });
    expect(fit.lStar).toBeCloseTo(0.25, 6);
    expect(fit.rho).toBeCloseTo(0.96, 6);
    expect(fit.c).toBeCloseTo(1.5, 4);
    expect(fit.r2).toBeCloseTo(1, 8);
    expect(fit.lStar).toBeLessThan(Math.min(...loss));
  });

  it('fitExponentialPlusOffset keeps L* below an upper bound and above a lower bound', () => {
    const t = Array.from({ length: 50 }, (_, i) => i);
    const loss = t.map((i) => 1 / (i + 1));
    const fit = fitExponentialPlusOffset(t, loss, [5, 45], { lowerBound: 0, upperBound: 0.01 });
    expect(fit.lStar).toBeLessThan(0.01);
    expect(fit.lStar).toBeGreaterThanOrEqual(0);
  });
});
