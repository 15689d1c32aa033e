// The rules that tell linear from sublinear convergence (paper §5-6), each with three outcomes.
//
// Linear convergence means a constant contraction factor per epoch, so the *local* rate must
// settle; under a power law it keeps decaying like 1/t. The rate is read from ‖∇L‖², which needs
// no L* (for GD, ‖∇L‖² contracts at the same rate as the gap), over the middle and the last third
// of the fit window. The PL rule reads the same evidence through the gap: μ_t = ‖∇L‖²/(2(L_t − L*))
// must not decay (for GD, 1 − ρ_t ≈ 2ημ_t). Both say "inconclusive" when the data cannot decide.
// No Node imports: this also runs in browsers.
import { linearFit, type FitRange } from '../../src/metrics/fit.js';
import type { VerdictThresholds } from './verdicts.js';

export type Outcome = 'pass' | 'fail' | 'inconclusive';

/** One third of the fit window: the local rate of log ‖∇L‖² and how far ‖∇L‖² fell over it. */
export interface ThirdRate {
  from: number;
  to: number;
  /** Points with a finite, positive ‖∇L‖² in [from, to]. */
  n: number;
  /** −d log ‖∇L‖² / dt by least squares (per epoch, or per step for smoothed curves). */
  rate: number;
  /** rate × (to − from): e-folds of ‖∇L‖² the fitted line falls across the third. */
  efolds: number;
}

export interface RateStability {
  outcome: Outcome;
  /** 'linear' | 'sublinear' | 'inconclusive': the outcome in the rule's own words. */
  reading: 'linear' | 'sublinear' | 'inconclusive';
  middle: ThirdRate;
  last: ThirdRate;
  /** rate_last / rate_middle; NaN when the middle rate is not positive. */
  q: number;
  /** Contraction factor per unit of x that the last third's rate implies for ‖∇L‖² (e^−rate). */
  rhoLast: number;
  note?: string;
}

export interface PlStability {
  outcome: Outcome;
  /** Median of μ_t over the middle and the last third of the window (finite, positive gaps only). */
  medianMiddle: number;
  medianLast: number;
  /** medianLast / medianMiddle. */
  ratio: number;
  /** The measured local PL constant: the smallest μ_t over the last third, and where. */
  muMin: number;
  muMinAt: number;
  nMiddle: number;
  nLast: number;
  note?: string;
}

/** Boundaries of the middle and last third of an inclusive range [a, b] (by x value). */
export function windowThirds(range: FitRange): { middle: FitRange; last: FitRange } {
  const [a, b] = range;
  const t1 = a + (b - a) / 3;
  const t2 = a + (2 * (b - a)) / 3;
  return { middle: [t1, t2], last: [t2, b] };
}

function inRange(x: number, r: FitRange, closedRight: boolean): boolean {
  return x >= r[0] && (closedRight ? x <= r[1] : x < r[1]);
}

function thirdRate(x: readonly number[], gradNormSq: readonly number[], r: FitRange, closedRight: boolean): ThirdRate {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const g = gradNormSq[i];
    if (!inRange(x[i], r, closedRight) || !(g > 0) || !Number.isFinite(g)) continue;
    xs.push(x[i]);
    ys.push(Math.log(g));
  }
  const fit = linearFit(xs, ys);
  const rate = -fit.slope;
  const span = xs.length > 0 ? xs[xs.length - 1] - xs[0] : NaN;
  return { from: r[0], to: r[1], n: xs.length, rate, efolds: rate * span };
}

/**
 * Has the local rate of ‖∇L‖² settled? q = rate(last third) / rate(middle third) of the window:
 * linear if q ≥ rateRatioMin, sublinear below. Inconclusive when a third has fewer than
 * minThirdPoints points, when ‖∇L‖² fell by less than minEfolds e-folds over the last third
 * (too little movement to read a rate from), or when it did not fall over the middle third.
 */
export function rateStability(x: readonly number[], gradNormSq: readonly number[], range: FitRange, th: VerdictThresholds): RateStability {
  const thirds = windowThirds(range);
  const middle = thirdRate(x, gradNormSq, thirds.middle, false);
  const last = thirdRate(x, gradNormSq, thirds.last, true);
  const q = middle.rate > 0 ? last.rate / middle.rate : NaN;
  const base = { middle, last, q, rhoLast: Math.exp(-last.rate) };
  const inconclusive = (note: string): RateStability => ({ ...base, outcome: 'inconclusive', reading: 'inconclusive', note });
  if (middle.n < th.minThirdPoints || last.n < th.minThirdPoints) {
    return inconclusive(`a third of the window has ${Math.min(middle.n, last.n)} points with a finite, positive ‖∇L‖² (need ≥ ${th.minThirdPoints})`);
  }
  if (!Number.isFinite(middle.rate) || !Number.isFinite(last.rate)) return inconclusive('a local rate is not finite');
  if (!(middle.rate > 0)) return inconclusive('‖∇L‖² did not fall over the middle third of the window');
  if (!(last.efolds >= th.minEfolds)) {
    return inconclusive(`‖∇L‖² fell by ${fmt(last.efolds)} e-folds over the last third (need ≥ ${fmt(th.minEfolds)} to read a rate)`);
  }
  const linear = q >= th.rateRatioMin;
  return { ...base, outcome: linear ? 'pass' : 'fail', reading: linear ? 'linear' : 'sublinear' };
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

/**
 * Does the PL ratio μ_t = ‖∇L‖²/(2(L_t − L*)) hold up? Passes when its median over the last third
 * is at least plMedianRatioMin × its median over the middle third. Fails below that. A pass also
 * needs ‖∇L‖² to fall by minEfolds over the last third (a stalled curve keeps μ_t constant without
 * converging), else inconclusive; so is a third with fewer than minThirdPoints usable points.
 */
export function plStability(
  x: readonly number[],
  loss: readonly number[],
  gradNormSq: readonly number[],
  lStar: number,
  range: FitRange,
  th: VerdictThresholds,
): PlStability {
  const thirds = windowThirds(range);
  const mu = (i: number): number => {
    const gap = loss[i] - lStar;
    const g = gradNormSq[i];
    return gap > 0 && Number.isFinite(gap) && g >= 0 && Number.isFinite(g) ? g / (2 * gap) : NaN;
  };
  const mid: number[] = [];
  const last: number[] = [];
  let muMin = NaN;
  let muMinAt = NaN;
  for (let i = 0; i < x.length; i++) {
    const m = mu(i);
    if (!Number.isFinite(m)) continue;
    if (inRange(x[i], thirds.middle, false)) mid.push(m);
    else if (inRange(x[i], thirds.last, true)) {
      last.push(m);
      if (!(m >= muMin)) {
        muMin = m;
        muMinAt = x[i];
      }
    }
  }
  const medianMiddle = median(mid);
  const medianLast = median(last);
  const ratio = medianLast / medianMiddle;
  const base = { medianMiddle, medianLast, ratio, muMin, muMinAt, nMiddle: mid.length, nLast: last.length };
  if (!Number.isFinite(lStar)) return { ...base, outcome: 'inconclusive', note: 'L* is not finite' };
  if (mid.length < th.minThirdPoints || last.length < th.minThirdPoints) {
    return {
      ...base,
      outcome: 'inconclusive',
      note: `a third of the window has ${Math.min(mid.length, last.length)} points with a positive gap (need ≥ ${th.minThirdPoints})`,
    };
  }
  if (!Number.isFinite(ratio)) return { ...base, outcome: 'inconclusive', note: 'the ratio of medians is not finite' };
  if (ratio < th.plMedianRatioMin) return { ...base, outcome: 'fail' };
  const last3 = thirdRate(x, gradNormSq, thirds.last, true);
  if (!(last3.efolds >= th.minEfolds)) {
    return { ...base, outcome: 'inconclusive', note: `μ_t held, but ‖∇L‖² fell by ${fmt(last3.efolds)} e-folds over the last third (need ≥ ${fmt(th.minEfolds)})` };
  }
  return { ...base, outcome: 'pass' };
}

export interface WindowEnd {
  end: number;
  reason?: 'float32 floor' | 'loss rising';
  /** The x where the reason was detected. */
  at?: number;
}

/**
 * Where the evidence stops: the window ends before the first point whose gap L_t − L* is below
 * floorRel·L_t (float32 resolves the loss to about 1e-7 relative, so such gaps are rounding), or
 * before the loss rises risingEpochs points running (GD left its stable regime).
 */
export function evidenceEnd(x: readonly number[], loss: readonly number[], lStar: number, range: FitRange, th: VerdictThresholds): WindowEnd {
  let rises = 0;
  let prevIndex = -1;
  for (let i = 0; i < x.length; i++) {
    if (x[i] < range[0] || x[i] > range[1]) continue;
    const l = loss[i];
    if (Number.isFinite(lStar) && Number.isFinite(l) && l - lStar < th.floorRel * Math.abs(l)) {
      return { end: prevIndex >= 0 ? x[prevIndex] : range[0], reason: 'float32 floor', at: x[i] };
    }
    if (i > 0 && loss[i] > loss[i - 1]) {
      rises++;
      if (rises >= th.risingEpochs) {
        const startIndex = i - th.risingEpochs;
        return { end: Math.max(range[0], x[Math.max(0, startIndex)]), reason: 'loss rising', at: x[i] };
      }
    } else rises = 0;
    prevIndex = i;
  }
  return { end: range[1] };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : String(x);
}
