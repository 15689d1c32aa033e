// Thresholds, verdict words, the width effect and fig4's comparison: each outcome forced by
// construction. The convergence rules' known answers are in metrics-convergence.test.ts.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import type { MetricRow } from '../src/metrics/schema.js';
import { summarizeRun } from '../harness/analysis/summary.js';
import { DEFAULT_THRESHOLDS, judged, resolveThresholds, verdictWord, widthEffectVerdict, withoutRetiredThresholds } from '../harness/analysis/verdicts.js';
import { enhancedSlowerVerdict } from '../harness/analysis/verdicts.js';

const E = 250;

function run(loss: (t: number) => number, gradNormSq: (t: number) => number): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let t = 0; t <= E; t++) {
    rows.push({ kind: 'epoch', epoch: t, loss: loss(t), gradNormSq: gradNormSq(t), drift: Math.sqrt(t), acc: 0.9, lr: 1e-3, timeMs: t * 10 });
  }
  return rows;
}

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
  it('is inconclusive with fewer than 3 finite widths', () => {
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
    expect(DEFAULT_THRESHOLDS).toMatchObject({ rateRatioMin: 0.7, minThirdPoints: 15, minEfolds: 1, plMedianRatioMin: 0.75, floorRel: 1e-5, risingEpochs: 3, widthSpearmanMax: -0.9, seedPassFraction: 0.8 });
  });
  it('overrides merge; unknown, retired and non-numeric names are rejected', () => {
    expect(resolveThresholds({ rateRatioMin: 0.8 }).rateRatioMin).toBe(0.8);
    expect(resolveThresholds({ rateRatioMin: 0.8 }).plMedianRatioMin).toBe(0.75);
    expect(() => resolveThresholds({ rateRatio: 0.9 } as never)).toThrow(/did you mean 'rateRatioMin'/);
    expect(() => resolveThresholds({ linearR2Min: 0.9 } as never)).toThrow(/retired R²\/slope rules/);
    expect(() => resolveThresholds({ rateRatioMin: NaN })).toThrow(ConfigError);
    expect(() => resolveThresholds({ minThirdPoints: 1 })).toThrow(/minThirdPoints must be an integer ≥ 2/);
    expect(() => resolveThresholds({ seedPassFraction: 0 })).toThrow(/seedPassFraction/);
  });
  it('a recorded config’s retired thresholds are dropped, the others kept', () => {
    expect(withoutRetiredThresholds({ linearR2Min: 0.98, plSlopeMax: 1.2, widthSpearmanMax: -0.5 })).toEqual({ widthSpearmanMax: -0.5 });
    expect(withoutRetiredThresholds(undefined)).toBeUndefined();
  });
  it('are echoed in the summary', () => {
    const s = summarizeRun(run((t) => 0.97 ** t, (t) => 0.97 ** t), { thresholds: { plMedianRatioMin: 0.5 } });
    expect(s.thresholds).toEqual({ ...DEFAULT_THRESHOLDS, plMedianRatioMin: 0.5 });
  });
});

describe('verdict words and NaN', () => {
  it('prints the reading, else yes / no / inconclusive; old summaries without an outcome still read', () => {
    expect(verdictWord({ passed: true, outcome: 'pass', reading: 'linear' })).toBe('linear');
    expect(verdictWord({ passed: false, outcome: 'inconclusive' })).toBe('inconclusive');
    expect(verdictWord({ passed: false })).toBe('no');
    expect(verdictWord({ passed: true })).toBe('yes');
  });
  it('a rule that saw a NaN is inconclusive, never a pass', () => {
    expect(judged(true, 1, NaN)).toBe('inconclusive');
    expect(judged(true, 1, 2)).toBe('pass');
    expect(judged(false, 1)).toBe('fail');
    const v = widthEffectVerdict([64, 128, 256].map((w) => ({ width: w, finalLoss: NaN })));
    expect(v.outcome).toBe('inconclusive');
    expect(v.passed).toBe(false);
  });
});

describe('fig4: enhanced init converges more slowly', () => {
  const pair = (seed: number, rateHe: number, rateEnhanced: number) => ({ seed, rateHe, rateEnhanced });
  it('passes when every seed has the enhanced rate below He’s, and says how many', () => {
    const v = enhancedSlowerVerdict([0, 1, 2, 3, 4].map((s) => pair(s, 0.02, 0.01)));
    expect(v.outcome).toBe('pass');
    expect(v.reading).toBe('5 of 5 seeds');
    expect(v.values.pSignTest).toBeCloseTo(0.03125, 12);
  });
  it('fails when one seed of five disagrees (a sign test needs all five) or the order is reversed', () => {
    const four = enhancedSlowerVerdict([0, 1, 2, 3, 4].map((s) => pair(s, 0.02, s === 3 ? 0.03 : 0.01)));
    expect(four.outcome).toBe('fail');
    expect(four.reading).toBe('4 of 5 seeds');
    expect(enhancedSlowerVerdict([pair(0, 0.01, 0.02)]).outcome).toBe('fail');
  });
  it('is inconclusive when a rate is not finite, and notes that one seed is weak evidence', () => {
    expect(enhancedSlowerVerdict([pair(0, NaN, 0.01)]).outcome).toBe('inconclusive');
    expect(enhancedSlowerVerdict([]).outcome).toBe('inconclusive');
    const one = enhancedSlowerVerdict([pair(0, 0.02, 0.01)]);
    expect(one.outcome).toBe('pass');
    expect(one.note).toMatch(/sign test needs 5/);
  });
});
