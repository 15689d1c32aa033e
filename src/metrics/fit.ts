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

/** Nelder–Mead minimization of f over R^n from x0 with initial step sizes `step`. */
export function nelderMead(f: (x: number[]) => number, x0: readonly number[], step: readonly number[], maxEvals = 4000, tol = 1e-12): { x: number[]; f: number } {
  const n = x0.length;
  const simplex: number[][] = [x0.slice()];
  for (let i = 0; i < n; i++) {
    const v = x0.slice();
    v[i] += step[i];
    simplex.push(v);
  }
  const safe = (x: number[]) => {
    const y = f(x);
    return Number.isNaN(y) ? Infinity : y;
  };
  let values = simplex.map(safe);
  let evals = n + 1;
  while (evals < maxEvals) {
    const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
    const s = order.map((i) => simplex[i]);
    const v = order.map((i) => values[i]);
    simplex.splice(0, simplex.length, ...s);
    values = v;
    if (Math.abs(values[n] - values[0]) <= tol * (Math.abs(values[0]) + tol)) break;
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j] += simplex[i][j] / n;
    const along = (c: number) => centroid.map((m, j) => m + c * (simplex[n][j] - m));
    const reflected = along(-1);
    const fr = safe(reflected);
    evals++;
    if (fr < values[0]) {
      const expanded = along(-2);
      const fe = safe(expanded);
      evals++;
      if (fe < fr) [simplex[n], values[n]] = [expanded, fe];
      else [simplex[n], values[n]] = [reflected, fr];
    } else if (fr < values[n - 1]) {
      [simplex[n], values[n]] = [reflected, fr];
    } else {
      const contracted = fr < values[n] ? along(-0.5) : along(0.5);
      const fc = safe(contracted);
      evals++;
      if (fc < Math.min(fr, values[n])) [simplex[n], values[n]] = [contracted, fc];
      else {
        for (let i = 1; i <= n; i++) {
          simplex[i] = simplex[i].map((xj, j) => simplex[0][j] + 0.5 * (xj - simplex[0][j]));
          values[i] = safe(simplex[i]);
          evals++;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i <= n; i++) if (values[i] < values[best]) best = i;
  return { x: simplex[best], f: values[best] };
}

/** One offset model L_t ≈ L* + A·shape(t), fitted by least squares on log L_t. */
export interface OffsetModelFit {
  model: 'exponential' | 'power';
  /** The offset: the model's limit of L_t. */
  lStar: number;
  a: number;
  /** exponential: contraction factor per unit of t. */
  rho?: number;
  /** power: exponent p and shift t0 of (t + t0)^-p. */
  p?: number;
  t0?: number;
  /** Residual sum of squares of log L_t, over n points with k free parameters. */
  rss: number;
  n: number;
  k: number;
  /** Akaike's criterion n·ln(RSS/n) + 2k (lower fits better per parameter). */
  aic: number;
  /** 'lower' or 'upper' when L* sits on its bound: then it is not an estimate of anything. */
  onBound?: 'lower' | 'upper';
}

export interface OffsetModels {
  exponential: OffsetModelFit;
  power: OffsetModelFit;
  /** AIC(exponential) − AIC(power): positive favours the power law. Reported, never judged. */
  deltaAic: number;
  /** The bounds L* was searched within. */
  bounds: { lower: number; upper: number };
}

/** Nelder–Mead from the two lowest starts, then once more from the better result. */
function refineBest(starts: { x: number[]; f: number }[], f: (x: number[]) => number, step: number[]): { x: number[]; f: number } {
  const sorted = [...starts].sort((a, b) => a.f - b.f).slice(0, 2);
  let best = { x: sorted[0].x, f: sorted[0].f };
  for (const s of sorted) {
    const r = nelderMead(f, s.x, step, 1500);
    if (r.f < best.f) best = r;
  }
  const again = nelderMead(f, best.x, step.map((v) => v / 5), 1500);
  return again.f < best.f ? again : best;
}

const sigmoid = (u: number) => 1 / (1 + Math.exp(-u));
const logit = (p: number) => Math.log(p / (1 - p));

/**
 * Fit L_t = L* + A·ρ^(t−t_a) and L_t = L* + A·(t + t0)^-p over the points whose t lies in
 * `range`, each by least squares on log L_t (Nelder–Mead from several starts; L* kept within
 * [lowerBound, smallest loss in range) through a logistic map). A fitted L* within 1e-4 of the
 * bound span of either end is flagged `onBound`.
 */
export function fitOffsetModels(
  t: readonly number[],
  loss: readonly number[],
  range: FitRange,
  bounds: { lowerBound?: number } = {},
): OffsetModels {
  const ts: number[] = [];
  const ls: number[] = [];
  for (let i = 0; i < t.length; i++) {
    if (t[i] < range[0] || t[i] > range[1] || !(loss[i] > 0) || !Number.isFinite(loss[i])) continue;
    ts.push(t[i]);
    ls.push(loss[i]);
  }
  const n = ts.length;
  const minL = n > 0 ? Math.min(...ls) : NaN;
  const maxL = n > 0 ? Math.max(...ls) : NaN;
  const span = maxL - minL;
  const lower = bounds.lowerBound !== undefined && Number.isFinite(bounds.lowerBound) ? bounds.lowerBound : minL - 100 * Math.max(span, Math.abs(minL));
  // Strictly below the smallest loss, or log(L_t − L*) at that point would be −∞ in every model.
  const upper = minL - Math.max(span, Math.abs(minL)) * 1e-9;
  const nan = (model: 'exponential' | 'power', k: number): OffsetModelFit => ({ model, lStar: NaN, a: NaN, rss: NaN, n, k, aic: NaN });
  if (n < 6 || !(span > 0) || !(upper > lower)) {
    return { exponential: nan('exponential', 3), power: nan('power', 4), deltaAic: NaN, bounds: { lower, upper } };
  }
  const t0x = ts[0];
  const lStarOf = (u: number) => lower + (upper - lower) * sigmoid(u);
  const logL = ls.map(Math.log);
  const rssOf = (model: (tt: number) => number) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const m = model(ts[i]);
      if (!(m > 0)) return Infinity;
      const r = logL[i] - Math.log(m);
      s += r * r;
    }
    return s;
  };
  const onBound = (lStar: number): 'lower' | 'upper' | undefined => {
    const rel = (lStar - lower) / (upper - lower);
    return rel < 1e-4 ? 'lower' : rel > 1 - 1e-4 ? 'upper' : undefined;
  };
  const aicOf = (rss: number, k: number) => n * Math.log(Math.max(rss, 1e-300) / n) + 2 * k;
  const uStarts = [0.01, 0.3, 0.7, 0.99, 0.999].map(logit);

  // Exponential: params [u, log A, log k], rate k > 0 per unit of t.
  const expModel = (x: number[]) => (tt: number) => lStarOf(x[0]) + Math.exp(x[1]) * Math.exp(-Math.exp(x[2]) * (tt - t0x));
  // Starts: for each trial L*, the line through log(L_t − L*) gives A and the rate; the two
  // best starts by RSS are refined (a fit per start costs too much on long step series).
  const expStarts: { x: number[]; f: number }[] = [];
  for (const u of uStarts) {
    const ls0 = lStarOf(u);
    const line = linearFit(ts.map((tt) => tt - t0x), ls.map((l) => Math.log(l - ls0)));
    const k0 = Number.isFinite(line.slope) && line.slope < 0 ? -line.slope : 1 / Math.max(1, ts[n - 1] - t0x);
    const a0 = Number.isFinite(line.intercept) ? line.intercept : Math.log(span);
    const x0 = [u, a0, Math.log(k0)];
    expStarts.push({ x: x0, f: rssOf(expModel(x0)) });
  }
  const bestExp = refineBest(expStarts, (x) => rssOf(expModel(x)), [1, 0.5, 0.5]);
  const eStar = lStarOf(bestExp.x[0]);
  const exponential: OffsetModelFit = {
    model: 'exponential',
    lStar: eStar,
    a: Math.exp(bestExp.x[1]),
    rho: Math.exp(-Math.exp(bestExp.x[2])),
    rss: bestExp.f,
    n,
    k: 3,
    aic: aicOf(bestExp.f, 3),
    ...(onBound(eStar) ? { onBound: onBound(eStar) } : {}),
  };

  // Power law: params [u, log A, log p, log(t0 + t_a)] so that t + t0 > 0 over the window.
  const t0Of = (w: number) => Math.exp(w) - t0x;
  const powModel = (x: number[]) => (tt: number) => lStarOf(x[0]) + Math.exp(x[1]) * Math.pow(tt + t0Of(x[3]), -Math.exp(x[2]));
  const powStarts: { x: number[]; f: number }[] = [];
  const tSpan = Math.max(1, ts[n - 1] - t0x);
  for (const u of uStarts) {
    const ls0 = lStarOf(u);
    for (const s of [0.01, 0.1, 1, 10].map((f) => f * tSpan)) {
      const line = linearFit(ts.map((tt) => Math.log(tt - t0x + s)), ls.map((l) => Math.log(l - ls0)));
      const p0 = Number.isFinite(line.slope) && line.slope < 0 ? -line.slope : 1;
      const a0 = Number.isFinite(line.intercept) ? line.intercept : Math.log(span);
      const x0 = [u, a0, Math.log(p0), Math.log(s)];
      powStarts.push({ x: x0, f: rssOf(powModel(x0)) });
    }
  }
  const bestPow = refineBest(powStarts, (x) => rssOf(powModel(x)), [1, 0.5, 0.3, 0.5]);
  const pStar = lStarOf(bestPow.x[0]);
  const power: OffsetModelFit = {
    model: 'power',
    lStar: pStar,
    a: Math.exp(bestPow.x[1]),
    p: Math.exp(bestPow.x[2]),
    t0: t0Of(bestPow.x[3]),
    rss: bestPow.f,
    n,
    k: 4,
    aic: aicOf(bestPow.f, 4),
    ...(onBound(pStar) ? { onBound: onBound(pStar) } : {}),
  };
  return { exponential, power, deltaAic: exponential.aic - power.aic, bounds: { lower, upper } };
}
