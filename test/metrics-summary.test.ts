import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import type { MetricRow } from '../src/metrics/schema.js';
import { smoothedStepCurve, summarizeRun } from '../harness/analysis/summary.js';

function epochRows(E: number, loss: (t: number) => number, gradNormSq: (t: number) => number): MetricRow[] {
  return Array.from({ length: E + 1 }, (_, t) => ({
    kind: 'epoch' as const,
    epoch: t,
    loss: loss(t),
    gradNormSq: gradNormSq(t),
    drift: 0.01 * t,
    acc: 0.5 + t / (2 * E),
    lr: 1e-3,
    timeMs: 5 * t,
  }));
}

describe('summarizeRun', () => {
  const E = 100;
  // A floor of 0.2 with a non-monotone bump at epoch 60, so min loss is not the last epoch.
  const loss = (t: number) => 0.2 + 0.8 * 0.95 ** t - (t === 60 ? 0.05 : 0);
  const g2 = (t: number) => 0.3 * 0.8 * 0.95 ** t;
  const rows = epochRows(E, loss, g2);

  it('uses the default window [5, floor(0.9·E)] and the three L* choices', () => {
    const s = summarizeRun(rows);
    expect(s.window).toEqual({ start: 5, end: 90, source: 'default' });
    expect(s.lastEpoch).toBe(E);
    expect(s.minLossEpoch).toBe(60);
    expect(s.lStar.min.lStar).toBe(loss(60));
    expect(s.lStar.zero.lStar).toBe(0);
    expect(s.lStar.fit.lStar).toBeLessThan(loss(60));
    expect(s.lStar.fit.models?.exponential.rho).toBeGreaterThan(0.9);
  });

  it('computes the gap and PL ratio per epoch from the definition', () => {
    const s = summarizeRun(rows);
    const lStar = s.lStar.min.lStar;
    for (const t of [0, 10, 59, 61, 100]) {
      expect(s.lStar.min.gap[t]).toBe(loss(t) - lStar);
      expect(s.lStar.min.plRatio[t]).toBeCloseTo(g2(t) / (2 * (loss(t) - lStar)), 12);
    }
    // At the minimum the gap is 0: no ratio, and the semi-log fit skips that epoch explicitly.
    expect(s.lStar.min.plRatio[60]).toBeNull();
    expect(s.lStar.min.semiLog.skipped).toBe(1);
    expect(s.lStar.min.semiLog.n).toBe(90 - 5 + 1 - 1);
    // With L* = 0, ratio = 0.24·0.95^t/(2L_t) falls with t: smallest at the window's last epoch.
    expect(s.lStar.zero.plRatioMinAt).toBe(90);
    expect(s.lStar.zero.plRatioMin).toBeCloseTo(g2(90) / (2 * loss(90)), 12);
  });

  it('restricts fits to an explicit inclusive fitWindow and rejects bad ones', () => {
    const s = summarizeRun(rows, { fitWindow: [10, 50] });
    expect(s.window).toEqual({ start: 10, end: 50, source: 'config' });
    expect(s.lStar.zero.semiLog.n).toBe(41);
    expect(s.lStar.min.logLog.n).toBe(41);
    expect(() => summarizeRun(rows, { fitWindow: [10, 101] })).toThrow(/ends after the run's last epoch 100/);
    expect(() => summarizeRun(rows, { fitWindow: [20, 10] })).toThrow(ConfigError);
  });

  it('semi-log halves agree for a linear rate and disagree for a sublinear one', () => {
    const lin = summarizeRun(epochRows(250, (t) => 0.3 * 0.97 ** t, (t) => 0.97 ** t)).lStar.zero.semiLogHalves;
    expect(lin.first.rho).toBeCloseTo(0.97, 10);
    expect(lin.second.rho).toBeCloseTo(0.97, 10);
    const sub = summarizeRun(epochRows(250, (t) => 1 / (t + 1), (t) => (t + 1) ** -2)).lStar.zero.semiLogHalves;
    expect(Math.log(sub.first.rho) / Math.log(sub.second.rho)).toBeGreaterThan(3);
  });

  it('falls back to the whole run when it is too short, and warns', () => {
    const s = summarizeRun(epochRows(6, (t) => 0.9 ** t, (t) => 0.9 ** t));
    expect(s.window).toEqual({ start: 0, end: 6, source: 'full-run' });
    expect(s.warnings.join(' ')).toMatch(/too few for the default fit window/);
  });

  it('keeps the last row of a repeated epoch, and reports final numbers', () => {
    const extra: MetricRow = { kind: 'epoch', epoch: 100, loss: 0.25, gradNormSq: 1, drift: 9, acc: 1, lr: 0, timeMs: 1 };
    const s = summarizeRun([...rows, extra, { kind: 'eval', epoch: 100, testLoss: 0.4, testAcc: 0.8 }]);
    expect(s.epochs.length).toBe(E + 1);
    expect(s.final).toEqual({ loss: 0.25, gradNormSq: 1, drift: 9, acc: 1, timeMs: 1, testLoss: 0.4, testAcc: 0.8 });
    expect(s.maxDrift).toBe(9);
    expect(s.warnings.join(' ')).toMatch(/repeated an epoch/);
  });

  it('survives an empty run with failing verdicts rather than throwing', () => {
    const s = summarizeRun([]);
    expect(s.verdicts).toEqual([]);
    expect(s.smoothed).toBeNull();
    expect(Number.isNaN(s.final.loss)).toBe(true);
  });
});

describe('smoothed mini-batch analysis', () => {
  // 20 epochs of 50 steps; the mini-batch loss is an exponential times ±20% alternating noise.
  function stepRows(rate: number): MetricRow[] {
    const steps: MetricRow[] = [];
    for (let k = 0; k < 1000; k++) {
      const clean = rate ** k;
      steps.push({ kind: 'step', step: k, epoch: Math.floor(k / 50), loss: clean * (k % 2 ? 1.2 : 0.8), gradNormSq: 0.5 * clean, lr: 0.1, timeMs: k });
    }
    return steps;
  }
  const passed = (s: ReturnType<typeof summarizeRun>, name: string) => s.verdicts.find((v) => v.name === name)?.passed;

  it('smooths in step order with the bias-corrected EMA', () => {
    const curve = smoothedStepCurve([...stepRows(0.998)].reverse(), 0.9);
    expect(curve.steps.slice(0, 3)).toEqual([0, 1, 2]);
    // ŝ_1 = x_1, ŝ_2 = (0.9·0.1·x_1 + 0.1·x_2)/(1 − 0.81).
    expect(curve.loss[0]).toBeCloseTo(0.8, 12);
    expect(curve.loss[1]).toBeCloseTo((0.09 * 0.8 + 0.1 * 0.998 * 1.2) / 0.19, 12);
  });

  it('maps the epoch window to steps and sees the exponential trend through the noise', () => {
    const s = summarizeRun(stepRows(0.995));
    // No epoch rows: E = 20 epochs from the step rows, window epochs 5..18 → steps 250..949.
    expect(s.window).toEqual({ start: 5, end: 18, source: 'default' });
    expect(s.smoothed?.window).toEqual({ startStep: 250, endStep: 949 });
    expect(s.smoothed?.lStar.min.lStar).toBe(Math.min(...(s.smoothed?.loss ?? [])));
    // The smoothed ‖∇L‖² contracts at a constant 0.995 per step: linear, with q = 1.
    expect(s.smoothed?.rate.reading).toBe('linear');
    expect(s.smoothed?.rate.q).toBeCloseTo(1, 3);
    expect(passed(s, 'linear convergence (smoothed mini-batch)')).toBe(true);
    // Cross-entropy's L* = 0 is the primary; the loss decays to 0 here, so μ_t holds up.
    expect(passed(s, 'PL condition (smoothed mini-batch) (L* = zero)')).toBe(true);
    // The smoothed curve decays like the raw trend once the EMA has forgotten its start.
    expect(s.smoothed?.lStar.zero.semiLog.rho).toBeCloseTo(0.995, 4);
    expect(s.smoothed?.lStar.min.judged).toBe(false);
  });

  it('a slow exponential is inconclusive: ‖∇L‖² moves less than an e-fold over the last third', () => {
    const s = summarizeRun(stepRows(0.9995));
    expect(s.smoothed?.rate.outcome).toBe('inconclusive');
    expect(s.smoothed?.rate.note).toMatch(/e-folds over the last third/);
    expect(passed(s, 'linear convergence (smoothed mini-batch)')).toBe(false);
  });
});
