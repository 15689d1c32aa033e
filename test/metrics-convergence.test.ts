// Known-answer tests for the convergence rules: curves whose kind (linear or sublinear) is known by
// construction. Every rule has cases that must pass it and cases that must fail it; sublinear
// curves must get no passing verdict under any L* choice.
import { describe, expect, it } from 'vitest';
import { fitOffsetModels } from '../src/metrics/fit.js';
import { evidenceEnd, plStability, rateStability } from '../harness/analysis/convergence.js';
import type { MetricRow } from '../src/metrics/schema.js';
import { summarizeRun, type RunSummary } from '../harness/analysis/summary.js';
import { DEFAULT_THRESHOLDS, resolveThresholds } from '../harness/analysis/verdicts.js';

type Curve = { loss: number[]; gradNormSq: number[] };

function rowsOf(c: Curve): MetricRow[] {
  return c.loss.map((loss, t) => ({ kind: 'epoch', epoch: t, loss, gradNormSq: c.gradNormSq[t], drift: 0, acc: 0.9, lr: 1e-3, timeMs: t }));
}

/** GD with step 1/β on ½·Σλ_i x_i², eigenvalues evenly spread over [β/κ, β], x_0 = 1 in every direction. */
function quadraticGd(kappa: number, epochs: number, dims = 200): Curve {
  const lambda = Array.from({ length: dims }, (_, i) => 1 / kappa + ((1 - 1 / kappa) * i) / (dims - 1));
  const x = new Array<number>(dims).fill(1);
  const loss: number[] = [];
  const gradNormSq: number[] = [];
  for (let t = 0; t <= epochs; t++) {
    let l = 0;
    let g = 0;
    for (let i = 0; i < dims; i++) {
      l += 0.5 * lambda[i] * x[i] * x[i];
      g += lambda[i] * lambda[i] * x[i] * x[i];
    }
    loss.push(l);
    gradNormSq.push(g);
    for (let i = 0; i < dims; i++) x[i] *= 1 - lambda[i];
  }
  return { loss, gradNormSq };
}

/** L_t = (1 + t/τ)^-p with the gradient norm GD would log: L_t − L_{t+1} = η‖∇L_t‖². */
function powerLaw(p: number, tau: number, epochs: number, eta = 1e-3): Curve {
  const L = (t: number) => (1 + t / tau) ** -p;
  const loss: number[] = [];
  const gradNormSq: number[] = [];
  for (let t = 0; t <= epochs; t++) {
    loss.push(L(t));
    gradNormSq.push((L(t) - L(t + 1)) / eta);
  }
  return { loss, gradNormSq };
}

/** GD on f(x) = |x|³ from x = 1: the gradient vanishes faster than f, so no PL inequality holds. */
function cubicGd(epochs: number, eta = 0.1): Curve {
  let x = 1;
  const loss: number[] = [];
  const gradNormSq: number[] = [];
  for (let t = 0; t <= epochs; t++) {
    loss.push(Math.abs(x) ** 3);
    gradNormSq.push(9 * x ** 4);
    x -= eta * 3 * x * Math.abs(x);
  }
  return { loss, gradNormSq };
}

function verdictsOf(s: RunSummary) {
  return Object.fromEntries(s.verdicts.map((v) => [v.name, v]));
}

const E = 250;

describe('rate stability (linear convergence, no L*)', () => {
  it('GD on a quadratic with condition number 100 is linear at 250 epochs', () => {
    const s = summarizeRun(rowsOf(quadraticGd(100, E)));
    expect(s.rate.reading).toBe('linear');
    expect(s.rate.q).toBeGreaterThanOrEqual(0.7);
    expect(verdictsOf(s)['linear convergence'].passed).toBe(true);
  });

  it('condition number 1,000: sublinear at 250 epochs, linear at 2,500', () => {
    const short = summarizeRun(rowsOf(quadraticGd(1000, E)));
    expect(short.rate.reading).not.toBe('linear');
    expect(verdictsOf(short)['linear convergence'].passed).toBe(false);
    const long = summarizeRun(rowsOf(quadraticGd(1000, 2500)));
    expect(long.rate.reading).toBe('linear');
  });

  it.each([
    [0.5, 1],
    [0.5, 10],
    [1, 1],
    [1, 10],
    [2, 1],
    [2, 10],
    [5, 1],
    [5, 10],
  ])('power law (1 + t/τ)^-p, p = %s, τ = %s, is never linear', (p, tau) => {
    const s = summarizeRun(rowsOf(powerLaw(p, tau, E)));
    expect(s.rate.reading).not.toBe('linear');
    // Where the rate can be read, the rule must say sublinear (not merely inconclusive).
    if (s.rate.last.efolds >= 1) expect(s.rate.reading).toBe('sublinear');
  });

  it('GD on |x|³ is sublinear', () => {
    const s = summarizeRun(rowsOf(cubicGd(E)));
    expect(s.rate.reading).toBe('sublinear');
    expect(s.rate.q).toBeLessThan(0.7);
  });

  it('is inconclusive on the tiny preset’s 6 epochs, on a stalled curve, and on NaN rows', () => {
    const tiny = summarizeRun(rowsOf(quadraticGd(10, 6)));
    expect(tiny.rate.outcome).toBe('inconclusive');
    expect(tiny.verdicts.every((v) => v.outcome === 'inconclusive')).toBe(true);
    const flat = { loss: Array.from({ length: E + 1 }, () => 0.3), gradNormSq: Array.from({ length: E + 1 }, (_, t) => 1e-4 * 0.9999 ** t) };
    const stalled = summarizeRun(rowsOf(flat));
    expect(stalled.rate.outcome).toBe('inconclusive');
    expect(stalled.verdicts.some((v) => v.passed)).toBe(false);
    const nan = summarizeRun(rowsOf({ loss: Array.from({ length: E + 1 }, () => NaN), gradNormSq: Array.from({ length: E + 1 }, () => NaN) }));
    expect(nan.verdicts.length).toBeGreaterThan(0);
    expect(nan.verdicts.every((v) => v.outcome === 'inconclusive')).toBe(true);
  });

  it('honours a changed threshold and echoes it', () => {
    const c = quadraticGd(1000, E);
    const th = resolveThresholds({ rateRatioMin: 0.1 });
    const r = rateStability(c.loss.map((_, t) => t), c.gradNormSq, [5, 225], th);
    const s = summarizeRun(rowsOf(c), { thresholds: { rateRatioMin: 0.1 } });
    expect(s.thresholds.rateRatioMin).toBe(0.1);
    expect(s.rate.q).toBeCloseTo(r.q, 12);
    if (r.last.efolds >= 1) expect(s.rate.reading).toBe('linear');
  });
});

describe('PL rule (μ_t must not decay) on the primary L*', () => {
  it('passes GD on a well-conditioned quadratic with L* = zero, and with L* = extended', () => {
    const s = summarizeRun(rowsOf(quadraticGd(100, E)));
    expect(s.primary).toBe('zero');
    expect(verdictsOf(s)['PL condition (L* = zero)'].passed).toBe(true);
    const ext = summarizeRun(rowsOf(quadraticGd(100, 4 * E)), { horizon: E, lstarExtend: 4 });
    expect(ext.primary).toBe('extended');
    expect(ext.lastEpoch).toBe(E);
    expect(ext.lStar.extended?.lStar).toBeCloseTo(quadraticGd(100, 4 * E).loss[4 * E], 15);
    expect(verdictsOf(ext)['PL condition (L* = extended)'].passed).toBe(true);
  });

  it('fails an exponential approach to a nonzero floor judged against L* = 0', () => {
    const c = { loss: [] as number[], gradNormSq: [] as number[] };
    for (let t = 0; t <= E; t++) {
      c.loss.push(0.1 + 2 * 0.97 ** t);
      c.gradNormSq.push(2 * 0.97 ** t * 0.03 / 1e-3);
    }
    const s = summarizeRun(rowsOf(c));
    expect(s.rate.reading).toBe('linear');
    expect(verdictsOf(s)['PL condition (L* = zero)'].outcome).toBe('fail');
  });

  it('fails GD on |x|³ and κ = 1,000 at 250 epochs', () => {
    expect(verdictsOf(summarizeRun(rowsOf(cubicGd(E))))['PL condition (L* = zero)'].outcome).toBe('fail');
    expect(verdictsOf(summarizeRun(rowsOf(quadraticGd(1000, E))))['PL condition (L* = zero)'].passed).toBe(false);
  });

  it('a power law gets no passing verdict under any L* choice that carries one, with or without the extension', () => {
    for (const p of [0.5, 1, 2, 5]) {
      for (const tau of [1, 10]) {
        const plain = summarizeRun(rowsOf(powerLaw(p, tau, E)));
        const extended = summarizeRun(rowsOf(powerLaw(p, tau, 4 * E)), { horizon: E, lstarExtend: 4 });
        for (const s of [plain, extended]) {
          expect(s.verdicts.filter((v) => v.passed).map((v) => `${v.name} p=${p} τ=${tau}`)).toEqual([]);
          for (const a of [s.lStar.zero, s.lStar.extended]) if (a) expect(a.pl.outcome, `${a.choice} p=${p} τ=${tau}`).not.toBe('pass');
        }
      }
    }
  });

  it('L* = min and L* = fit are reported without a verdict', () => {
    const s = summarizeRun(rowsOf(powerLaw(1, 10, E)));
    expect(s.lStar.min.judged).toBe(false);
    expect(s.lStar.fit.judged).toBe(false);
    expect(s.verdicts.some((v) => v.name.includes('L* = min') || v.name.includes('L* = fit'))).toBe(false);
  });
});

describe('evidence window', () => {
  it('ends where the gap reaches float32’s floor', () => {
    const loss = Array.from({ length: 4 * E + 1 }, (_, t) => 1e-3 + 0.9 ** t);
    const grad = loss.map((_, t) => 0.9 ** t);
    const s = summarizeRun(rowsOf({ loss, gradNormSq: grad }), { horizon: E, lstarExtend: 4 });
    expect(s.window.endReason).toBe('float32 floor');
    // L* ≈ 1e-3, so the gap 0.9^t drops below 1e-5·L_t ≈ 1e-8 first at t = 175: the window stops at 174.
    expect(s.window.end).toBe(174);
    expect(s.window.plannedEnd).toBe(225);
  });

  it('ends before the loss rises three epochs running', () => {
    const c = quadraticGd(100, E);
    for (let t = 150; t <= E; t++) c.loss[t] = c.loss[149] * (1 + 0.01 * (t - 149));
    const end = evidenceEnd(c.loss.map((_, t) => t), c.loss, 0, [5, 225], DEFAULT_THRESHOLDS);
    expect(end.reason).toBe('loss rising');
    expect(end.end).toBe(149);
  });
});

describe('L* = fit: both offset models by least squares on log L', () => {
  it('recovers the offsets of an exponential and of a power law', () => {
    const t = Array.from({ length: E + 1 }, (_, i) => i);
    const exp = fitOffsetModels(t, t.map((x) => 0.05 + 0.3 * 0.98 ** x), [5, 225], { lowerBound: 0 });
    expect(exp.exponential.lStar).toBeCloseTo(0.05, 6);
    expect(exp.exponential.rho).toBeCloseTo(0.98, 6);
    expect(exp.deltaAic).toBeLessThan(0);
    const pow = fitOffsetModels(t, t.map((x) => 0.02 + (x + 5) ** -1), [5, 225], { lowerBound: 0 });
    expect(pow.power.lStar).toBeCloseTo(0.02, 4);
    expect(pow.power.p).toBeCloseTo(1, 2);
    expect(pow.deltaAic).toBeGreaterThan(0);
  });

  it('flags an offset on its bound as degenerate', () => {
    const t = Array.from({ length: E + 1 }, (_, i) => i);
    // A power law to 0 fitted by an exponential pushes its offset up against the smallest loss.
    const m = fitOffsetModels(t, t.map((x) => (1 + x) ** -2), [5, 225], { lowerBound: 0 });
    expect(m.exponential.onBound).toBeDefined();
    const s = summarizeRun(rowsOf(powerLaw(2, 1, E)));
    expect(s.lStar.fit.degenerate).toBe(s.lStar.fit.models?.exponential.onBound !== undefined);
  });

  it('the PL rule’s numbers agree with the definition', () => {
    const c = quadraticGd(100, E);
    const x = c.loss.map((_, t) => t);
    const r = plStability(x, c.loss, c.gradNormSq, 0, [5, 225], DEFAULT_THRESHOLDS);
    const mus = x.filter((t) => t >= 5 + (2 * 220) / 3 && t <= 225).map((t) => c.gradNormSq[t] / (2 * c.loss[t]));
    expect(r.muMin).toBeCloseTo(Math.min(...mus), 12);
    expect(r.nLast).toBe(mus.length);
  });
});
