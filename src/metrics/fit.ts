// Least-squares line fits and rank correlation for the convergence measurements (paper §6).
// No Node imports: this also runs in browsers.
import { DataError } from '../errors.js';

export interface LinearFit {
  slope: number;
  intercept: number;
  /** Coefficient of determination 1 − SS_res/SS_tot; NaN when y is constant or n < 2. */
  r2: number;
  n: number;
}

/**
 * Ordinary least squares y ≈ slope·x + intercept. Sums are taken around the means, which keeps
 * the result accurate when x is large (epoch numbers) and y varies little.
 * With fewer than 2 points, or all x equal, slope and intercept are NaN.
 */
export function linearFit(x: readonly number[], y: readonly number[]): LinearFit {
  if (x.length !== y.length) {
    throw new DataError(`linearFit got ${x.length} x values and ${y.length} y values; pass one y per x.`);
  }
  const n = x.length;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) {
      throw new DataError(`linearFit got a non-finite point (${x[i]}, ${y[i]}) at index ${i}; drop non-finite points before fitting.`);
    }
  }
  if (n < 2) return { slope: NaN, intercept: NaN, r2: NaN, n };
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return { slope: NaN, intercept: NaN, r2: NaN, n };
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let ssRes = 0;
  for (let i = 0; i < n; i++) {
    const r = y[i] - (slope * x[i] + intercept);
    ssRes += r * r;
  }
  const r2 = syy === 0 ? NaN : 1 - ssRes / syy;
  return { slope, intercept, r2, n };
}

/** 1-based ranks; tied values share the average of the ranks they span. */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

/** Pearson correlation; NaN when either input is constant or n < 2. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  const fit = linearFit(x, y);
  if (!Number.isFinite(fit.slope) || !Number.isFinite(fit.r2)) return NaN;
  // r² of the OLS fit is the squared Pearson correlation; the slope carries the sign.
  return Math.sign(fit.slope) * Math.sqrt(Math.max(0, fit.r2));
}

/** Spearman rank correlation: Pearson correlation of the average ranks (handles ties). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) {
    throw new DataError(`spearman got ${x.length} x values and ${y.length} y values; pass one y per x.`);
  }
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]) || Number.isNaN(y[i])) {
      throw new DataError(`spearman got NaN at index ${i}; drop the runs whose value is NaN before ranking.`);
    }
  }
  return pearson(averageRanks(x), averageRanks(y));
}

/** Inclusive index range over which a fit is taken, in the units of the x values. */
export type FitRange = readonly [number, number];

/** Fit of log(gap) against t: gap ≈ C·ρ^t with ρ = e^slope, C = e^intercept. */
export interface LogGapFit extends LinearFit {
  /** Per-unit-of-t contraction factor e^slope (per epoch for epoch series). */
  rho: number;
  /** Points inside the range left out because their gap was ≤ 0 or not finite. */
  skipped: number;
}

/**
 * Fit log(gap_t) = log C + t·log ρ over the points whose t lies in `range` (inclusive; all
 * points without a range). Points with gap ≤ 0 (e.g. the epoch that defines L* = min loss) or
 * a non-finite gap cannot be logged: they are left out and counted in `skipped`.
 */
export function fitLogGap(t: readonly number[], gap: readonly number[], range?: FitRange): LogGapFit {
  if (t.length !== gap.length) {
    throw new DataError(`fitLogGap got ${t.length} times and ${gap.length} gaps; pass one gap per time.`);
  }
  const xs: number[] = [];
  const ys: number[] = [];
  let skipped = 0;
  for (let i = 0; i < t.length; i++) {
    if (range && (t[i] < range[0] || t[i] > range[1])) continue;
    if (!(gap[i] > 0) || !Number.isFinite(gap[i]) || !Number.isFinite(t[i])) {
      skipped++;
      continue;
    }
    xs.push(t[i]);
    ys.push(Math.log(gap[i]));
  }
  const fit = linearFit(xs, ys);
  return { ...fit, rho: Math.exp(fit.slope), skipped };
}

/** Fit of log ‖∇L‖² against log gap (paper Figure 2): ‖∇L‖² ≈ e^intercept · gap^slope. */
export interface LogLogFit extends LinearFit {
  /** Points inside the range left out because gap or ‖∇L‖² was ≤ 0 or not finite. */
  skipped: number;
}

/**
 * Fit log(gradNormSq) = intercept + slope·log(gap) over the points whose t lies in `range`
 * (inclusive; all points without a range). Non-positive or non-finite values are left out and
 * counted in `skipped`.
 */
export function fitLogLog(
  t: readonly number[],
  gap: readonly number[],
  gradNormSq: readonly number[],
  range?: FitRange,
): LogLogFit {
  if (t.length !== gap.length || t.length !== gradNormSq.length) {
    throw new DataError(
      `fitLogLog got ${t.length} times, ${gap.length} gaps and ${gradNormSq.length} squared gradient norms; pass one of each per point.`,
    );
  }
  const xs: number[] = [];
  const ys: number[] = [];
  let skipped = 0;
  for (let i = 0; i < t.length; i++) {
    if (range && (t[i] < range[0] || t[i] > range[1])) continue;
    const g = gap[i];
    const s = gradNormSq[i];
    if (!(g > 0) || !(s > 0) || !Number.isFinite(g) || !Number.isFinite(s)) {
      skipped++;
      continue;
    }
    xs.push(Math.log(g));
    ys.push(Math.log(s));
  }
  return { ...linearFit(xs, ys), skipped };
}

/** Result of fitting L_t ≈ L* + C·ρ^t with L* free. */
export interface ExponentialFit {
  lStar: number;
  c: number;
  rho: number;
  /** R² of the log-linear fit log(L_t − L*) vs t at the chosen L*. */
  r2: number;
  n: number;
}

/**
 * Fit L_t ≈ L* + C·ρ^t over the points whose t lies in `range`. For a fixed L* the model is a
 * line in (t, log(L_t − L*)), so L* is found by a 1-D search maximizing that line's R²
 * (a log-spaced grid over δ = minLoss − L*, then golden-section refinement around the best grid
 * point), and C, ρ come from the line at the chosen L*. L* stays strictly below the smallest loss
 * in the range and below `upperBound` (e.g. the smallest loss of the whole run), and, when
 * `lowerBound` is given (0 for non-negative losses), not below it.
 */
export function fitExponentialPlusOffset(
  t: readonly number[],
  loss: readonly number[],
  range?: FitRange,
  bounds: { lowerBound?: number; upperBound?: number } = {},
): ExponentialFit {
  const { lowerBound, upperBound } = bounds;
  const ts: number[] = [];
  const ls: number[] = [];
  for (let i = 0; i < t.length; i++) {
    if (range && (t[i] < range[0] || t[i] > range[1])) continue;
    if (!Number.isFinite(loss[i]) || !Number.isFinite(t[i])) continue;
    ts.push(t[i]);
    ls.push(loss[i]);
  }
  const none: ExponentialFit = { lStar: NaN, c: NaN, rho: NaN, r2: NaN, n: ts.length };
  if (ts.length < 3) return none;
  const minInRange = Math.min(...ls);
  const maxLoss = Math.max(...ls);
  const minLoss = upperBound !== undefined && upperBound < minInRange ? upperBound : minInRange;
  const span = maxLoss - minLoss;
  if (!(span > 0)) return none;
  // δ ranges from far below the loss's resolution to well past its span (or to the bound).
  const scale = Math.max(Math.abs(minLoss), span);
  const deltaLo = Math.max(scale * 1e-12, Number.MIN_VALUE);
  let deltaHi = span * 100;
  if (lowerBound !== undefined && Number.isFinite(lowerBound)) deltaHi = Math.min(deltaHi, minLoss - lowerBound);
  if (!(deltaHi > deltaLo)) deltaHi = deltaLo * 10;

  const score = (logDelta: number): number => {
    const lStar = minLoss - Math.exp(logDelta);
    const ys = ls.map((l) => Math.log(l - lStar));
    const r2 = linearFit(ts, ys).r2;
    return Number.isFinite(r2) ? r2 : -Infinity;
  };
  const a = Math.log(deltaLo);
  const b = Math.log(deltaHi);
  const gridN = 241;
  let bestK = 0;
  let bestScore = -Infinity;
  const grid: number[] = [];
  for (let k = 0; k < gridN; k++) {
    const u = a + ((b - a) * k) / (gridN - 1);
    grid.push(u);
    const s = score(u);
    if (s > bestScore) {
      bestScore = s;
      bestK = k;
    }
  }
  // Golden-section search between the best grid point's neighbours.
  let lo = grid[Math.max(0, bestK - 1)];
  let hi = grid[Math.min(gridN - 1, bestK + 1)];
  const g = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - g * (hi - lo);
  let x2 = lo + g * (hi - lo);
  let f1 = score(x1);
  let f2 = score(x2);
  for (let it = 0; it < 80; it++) {
    if (f1 < f2) {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + g * (hi - lo);
      f2 = score(x2);
    } else {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - g * (hi - lo);
      f1 = score(x1);
    }
  }
  let best = f1 >= f2 ? x1 : x2;
  if (Math.max(f1, f2) < bestScore) best = grid[bestK];
  const lStar = minLoss - Math.exp(best);
  const line = linearFit(ts, ls.map((l) => Math.log(l - lStar)));
  return { lStar, c: Math.exp(line.intercept), rho: Math.exp(line.slope), r2: line.r2, n: ts.length };
}
