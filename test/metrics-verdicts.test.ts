// Verdicts on synthetic curves whose rate and exponent are known by construction: the ones that
// follow the paper's claims must pass, the ones that break them must fail.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import type { MetricRow } from '../src/metrics/schema.js';
import { summarizeRun } from '../src/metrics/summary.js';
import { DEFAULT_THRESHOLDS, linearConvergenceVerdict, plVerdict, resolveThresholds, widthEffectVerdict } from '../src/metrics/verdicts.js';

const E = 250;

function run(loss: (t: number) => number, gradNormSq: (t: number) => number): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let t = 0; t <= E; t++) {
    rows.push({ kind: 'epoch', epoch: t, loss: loss(t), gradNormSq: gradNormSq(t), drift: Math.sqrt(t), acc: 0.9, lr: 1e-3, timeMs: t * 10 });
  }
  return rows;
}

// Deterministic standard normal noise (Park-Miller + Box-Muller) so the test never flakes.
function gaussian(seed: number): () => number {
  let s = seed;
  const u = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

function verdict(rows: MetricRow[], name: string, thresholds = {}) {
  const v = summarizeRun(rows, { thresholds }).verdicts.find((x) => x.name === name);
  if (!v) throw new Error(`no verdict named ${name}`);
  return v;
}

describe('linear convergence verdict', () => {
  const offsetExp = run((t) => 0.1 + 2 * 0.97 ** t, (t) => 0.5 * (2 * 0.97 ** t));

  it('passes an exponential curve with a known rate, and the fitted L* recovers the rate', () => {
    const v = verdict(offsetExp, 'linear convergence (L* = fit)');
    expect(v.passed).toBe(true);
    expect(v.values.rho).toBeCloseTo(0.97, 6);
    expect(verdict(offsetExp, 'linear convergence (L* = min)').passed).toBe(true);
  });

  it('fails with L* = 0 when the loss converges to a nonzero floor', () => {
    const v = verdict(offsetExp, 'linear convergence (L* = zero)');
    expect(v.passed).toBe(false);
    expect(v.values.r2).toBeLessThan(0.98);
  });

  it('fails a sublinear 1/t curve for every L* choice', () => {
    const rows = run((t) => 1 / (t + 1), (t) => 1 / (t + 1) ** 2);
    for (const choice of ['min', 'zero', 'fit']) {
      expect(verdict(rows, `linear convergence (L* = ${choice})`).passed).toBe(false);
    }
  });

  it('fails a noisy curve on R², although its trend is exponential', () => {
    const noise = gaussian(7);
    const rows = run((t) => 0.1 + 2 * 0.97 ** t * Math.exp(0.8 * noise()), (t) => 2 * 0.97 ** t);
    for (const choice of ['min', 'fit']) {
      const v = verdict(rows, `linear convergence (L* = ${choice})`);
      expect(v.passed).toBe(false);
      expect(v.values.r2).toBeLessThan(0.98);
      expect(v.values.slope).toBeLessThan(0);
    }
  });

  it('fails a growing gap even when it is a perfect exponential', () => {
    const v = linearConvergenceVerdict({ slope: Math.log(1.01), intercept: 0, r2: 1, n: 100 });
    expect(v.passed).toBe(false);
  });

  it('fails when the fit has fewer points than minFitPoints, with a note', () => {
    const v = linearConvergenceVerdict({ slope: -1, intercept: 0, r2: 1, n: 2 });
    expect(v.passed).toBe(false);
    expect(v.note).toMatch(/only 2 fit points/);
  });

  it('states the rule with the thresholds in use', () => {
    const v = verdict(offsetExp, 'linear convergence (L* = min)', { linearR2Min: 0.95 });
    expect(v.rule).toContain('R² ≥ 0.95');
    expect(v.rule).toContain('epochs 5..225');
    expect(v.rule).toContain('slope < 0');
  });
});

describe('PL-like verdict', () => {
  // The true floor is 0.1, so with L* = fit the gap is exactly 2·0.97^t and ‖∇L‖² = κ·gap^s.
  const withExponent = (s: number, noise?: () => number) =>
    run((t) => 0.1 + 2 * 0.97 ** t, (t) => 0.4 * (2 * 0.97 ** t) ** s * (noise ? Math.exp(noise()) : 1));

  it('passes exponents in (0, 1.2] and measures them', () => {
    for (const s of [0.5, 0.8, 1, 1.2]) {
      const v = verdict(withExponent(s), 'PL-like gradient/gap relation (L* = fit)');
      expect(v.values.slope).toBeCloseTo(s, 5);
      expect(v.passed).toBe(true);
    }
  });

  it('fails an exponent above 1.2 and a non-positive one', () => {
    expect(verdict(withExponent(1.5), 'PL-like gradient/gap relation (L* = fit)').passed).toBe(false);
    expect(verdict(withExponent(-0.2), 'PL-like gradient/gap relation (L* = fit)').passed).toBe(false);
  });

  it('fails a noisy gradient on R²', () => {
    const noise = gaussian(3);
    const v = verdict(withExponent(1, () => 2.5 * noise()), 'PL-like gradient/gap relation (L* = fit)');
    expect(v.values.r2).toBeLessThan(0.9);
    expect(v.passed).toBe(false);
  });

  it('checks the interval ends as stated: slope 0 fails, slope 1.2 passes', () => {
    expect(plVerdict({ slope: 0, intercept: 0, r2: 1, n: 10 }).passed).toBe(false);
    expect(plVerdict({ slope: 1.2, intercept: 0, r2: 0.9, n: 10 }).passed).toBe(true);
    expect(plVerdict({ slope: 1.2000001, intercept: 0, r2: 1, n: 10 }).passed).toBe(false);
  });
});

describe('width effect verdict', () => {
  const widths = [64, 128, 256, 512, 1024, 2048];
  it('passes when final loss falls with width', () => {
    const v = widthEffectVerdict(widths.map((w) => ({ width: w, finalLoss: 1 / w })));
    expect(v.passed).toBe(true);
    expect(v.values.spearman).toBeCloseTo(-1, 12);
  });
  it('fails an increasing trend and a mixed one', () => {
    expect(widthEffectVerdict(widths.map((w) => ({ width: w, finalLoss: Math.log(w) }))).passed).toBe(false);
    // No ties: Spearman = 1 − 6Σd²/(n(n²−1)) with rank differences d = [−5, −2, −2, 2, 2, 5],
    // Σd² = 66 → −0.8857, just above −0.9.
    const mixed = widthEffectVerdict(widths.map((w, i) => ({ width: w, finalLoss: [6, 4, 5, 2, 3, 1][i] })));
    expect(mixed.values.spearman).toBeCloseTo(1 - (6 * 66) / (6 * 35), 12);
    expect(mixed.passed).toBe(false);
  });
  it('fails with fewer than 3 finite widths', () => {
    const v = widthEffectVerdict([
      { width: 1, finalLoss: 2 },
      { width: 2, finalLoss: NaN },
      { width: 3, finalLoss: 1 },
    ]);
    expect(v.passed).toBe(false);
    expect(v.note).toMatch(/only 2 widths/);
  });
});

describe('thresholds', () => {
  it('defaults are the stated rules', () => {
    expect(DEFAULT_THRESHOLDS).toMatchObject({ linearR2Min: 0.98, plSlopeMin: 0, plSlopeMax: 1.2, plR2Min: 0.9, widthSpearmanMax: -0.9 });
  });
  it('overrides merge, unknown names and non-numbers are rejected', () => {
    expect(resolveThresholds({ plR2Min: 0.8 }).plR2Min).toBe(0.8);
    expect(resolveThresholds({ plR2Min: 0.8 }).linearR2Min).toBe(0.98);
    expect(() => resolveThresholds({ linearR2: 0.9 } as never)).toThrow(/did you mean 'linearR2Min'/);
    expect(() => resolveThresholds({ plR2Min: NaN })).toThrow(ConfigError);
    expect(() => resolveThresholds({ plSlopeMin: 2 })).toThrow(/plSlopeMin < plSlopeMax/);
  });
  it('are echoed in the summary', () => {
    const s = summarizeRun(run((t) => 0.97 ** t, (t) => 0.97 ** t), { thresholds: { plR2Min: 0.5 } });
    expect(s.thresholds).toEqual({ ...DEFAULT_THRESHOLDS, plR2Min: 0.5 });
  });
});
