// The linearized-NTK prediction as the lab reads it: the rows a --linearized run writes, their
// summary (t*, deviations, the spectral account) and fig5's width verdict. The computation itself
// (K₀ in blocks, the recursion, Lanczos) is the engine's, in src/metrics/linearized.ts.
import { spearman, type FitRange } from '../../src/metrics/fit.js';
import type { MetricRow, OpenRow } from '../../src/metrics/schema.js';
import { rateStability, type RateStability } from './convergence.js';
import type { VerdictThresholds } from './verdicts.js';
import { judged, makeVerdict, type Verdict } from './verdicts.js';
/** `linearized` rows: the predicted loss at epoch t. */
export type LinearizedRow = OpenRow<'linearized'>;
/** One Gauss node of the r₀-weighted spectral measure of K₀/n (written once, epoch 0). */
export type LinearizedNodeRow = OpenRow<'linearized-node'>;
/** How the prediction was made: samples, sizes, costs and the spectral account (epoch 0). */
export type LinearizedInfoRow = OpenRow<'linearized-info'>;

/** Relative deviation the sentence about t* uses. */
export const LINEARIZED_TOLERANCE = 0.1;

export interface LinearizedSummary {
  /** Samples K₀ was built on (n_used) and the run's training samples (n). */
  samples: number;
  trainingSamples: number;
  /** True when n_used < n (a stratified subset, because K₀ on all n did not fit). */
  subset: boolean;
  lr: number;
  epochs: number;
  tolerance: number;
  /** Last epoch up to which every |L_lin − L_obs|/L_obs ≤ tolerance; null when epoch 0 already exceeds it. */
  tStar: number | null;
  holdsThroughout: boolean;
  largestDeviation: number;
  largestDeviationEpoch: number;
  /** First epoch with L_obs ≤ L_obs(0)/2 (null: never), and the largest deviation up to it. */
  halvedAt: number | null;
  deviationUntilHalved: number;
  predictedFinalLoss: number;
  observedFinalLoss: number;
  /** Share of the initial loss in directions with (1 − ηλ)^{2E} > ½. */
  slowFraction: number;
  etaLambdaMax: number;
  lambdaMax: number;
  lambdaHalf: number;
  predictedRate: number;
  quadratureFinalLoss: number;
  /** Largest |quadrature − iterated|/iterated over the epochs: a cross-check of the two routes. */
  quadratureMaxRelDiff: number;
  lanczosSteps: number;
  buildMs: number;
  iterateMs: number;
  lanczosMs: number;
  kernelBytes: number;
  heldBytes: number;
  /** Per epoch: observed, predicted, relative deviation. */
  curve: { epoch: number[]; observed: number[]; predicted: number[]; deviation: number[] };
  /** The Gauss nodes (eigenvalues of K₀/n) and their weights. */
  spectrum: { lambda: number[]; weight: number[] };
  /**
   * The linear-convergence rule applied to the linearized model's own ‖∇L‖², from the quadrature
   * 2·L₀·Σ w_i λ_i (1 − ηλ_i)^{2t} over the run's fit window: the reading the kernel regime
   * predicts, beside the one measured on the run (absent without nodes or a window).
   */
  kernelRate?: RateStability;
}

/**
 * ‖∇L‖² of GD on the linearized model at epochs `epochs`: with r_t = Σ_i (1 − ηλ_i)^t c_i v_i
 * (λ_i of K₀/n), ‖∇L‖² = rᵀ(K₀/n)r / n = 2·L₀·Σ_i w_i λ_i (1 − ηλ_i)^{2t}, w_i = c_i²/‖r₀‖².
 */
export function kernelGradNormSq(spectrum: { lambda: readonly number[]; weight: readonly number[] }, lr: number, initialLoss: number, epochs: readonly number[]): number[] {
  return epochs.map((t) => {
    let g = 0;
    for (let i = 0; i < spectrum.lambda.length; i++) {
      const f = 1 - lr * spectrum.lambda[i];
      g += spectrum.weight[i] * spectrum.lambda[i] * Math.pow(f * f, t);
    }
    return 2 * initialLoss * g;
  });
}

function num(row: Record<string, unknown>, key: string): number {
  const v = row[key];
  return typeof v === 'number' ? v : NaN;
}

/**
 * The linearized account of a run from its rows; undefined when it has no `linearized` rows. With
 * the run's fit window and thresholds it also applies the rate rule to the kernel's ‖∇L‖².
 */
export function summarizeLinearized(rows: readonly MetricRow[], rule?: { range: FitRange; thresholds: VerdictThresholds }): LinearizedSummary | undefined {
  const lin = new Map<number, number>();
  const obs = new Map<number, number>();
  let info: Record<string, unknown> | undefined;
  const nodes: { lambda: number; weight: number }[] = [];
  for (const r of rows) {
    if (r.kind === 'linearized') lin.set(r.epoch, num(r, 'loss'));
    else if (r.kind === 'epoch') obs.set(r.epoch, r.loss);
    else if (r.kind === 'linearized-info') info = r;
    else if (r.kind === 'linearized-node') nodes.push({ lambda: num(r, 'lambda'), weight: num(r, 'weight') });
  }
  if (lin.size === 0) return undefined;
  const epochs = [...lin.keys()].filter((e) => obs.has(e)).sort((a, b) => a - b);
  const observed = epochs.map((e) => obs.get(e)!);
  const predicted = epochs.map((e) => lin.get(e)!);
  const deviation = epochs.map((_, i) => Math.abs(predicted[i] - observed[i]) / Math.abs(observed[i]));
  const dev = deviationStats(epochs, observed, deviation);
  nodes.sort((a, b) => a.lambda - b.lambda);
  const i = info ?? {};
  const last = epochs.length - 1;
  const spectrum = { lambda: nodes.map((x) => x.lambda), weight: nodes.map((x) => x.weight) };
  let kernelRate: RateStability | undefined;
  const lr = num(i, 'lr');
  if (rule && nodes.length > 0 && Number.isFinite(lr) && lin.has(0)) {
    const ts = [...lin.keys()].sort((a, b) => a - b);
    kernelRate = rateStability(ts, kernelGradNormSq(spectrum, lr, lin.get(0)!, ts), rule.range, rule.thresholds);
  }
  return {
    samples: num(i, 'samples'),
    trainingSamples: num(i, 'trainingSamples'),
    subset: num(i, 'samples') < num(i, 'trainingSamples'),
    lr: num(i, 'lr'),
    epochs: num(i, 'epochs'),
    tolerance: LINEARIZED_TOLERANCE,
    ...dev,
    predictedFinalLoss: last >= 0 ? predicted[last] : NaN,
    observedFinalLoss: last >= 0 ? observed[last] : NaN,
    slowFraction: num(i, 'slowFraction'),
    etaLambdaMax: num(i, 'etaLambdaMax'),
    lambdaMax: num(i, 'lambdaMax'),
    lambdaHalf: num(i, 'lambdaHalf'),
    predictedRate: num(i, 'predictedRate'),
    quadratureFinalLoss: num(i, 'quadratureFinalLoss'),
    quadratureMaxRelDiff: num(i, 'quadratureMaxRelDiff'),
    lanczosSteps: num(i, 'lanczosSteps'),
    buildMs: num(i, 'buildMs'),
    iterateMs: num(i, 'iterateMs'),
    lanczosMs: num(i, 'lanczosMs'),
    kernelBytes: num(i, 'kernelBytes'),
    heldBytes: num(i, 'heldBytes'),
    curve: { epoch: epochs, observed, predicted, deviation },
    spectrum,
    ...(kernelRate ? { kernelRate } : {}),
  };
}

/** t*, the largest deviation and the deviation up to the epoch where the observed loss halves. */
export function deviationStats(
  epochs: readonly number[],
  observed: readonly number[],
  deviation: readonly number[],
  tolerance = LINEARIZED_TOLERANCE,
): Pick<LinearizedSummary, 'tStar' | 'holdsThroughout' | 'largestDeviation' | 'largestDeviationEpoch' | 'halvedAt' | 'deviationUntilHalved'> {
  let tStar: number | null = null;
  let broken = false;
  let largest = -Infinity;
  let largestAt = NaN;
  for (let k = 0; k < epochs.length; k++) {
    // NaN (a diverged curve) counts as outside the tolerance.
    if (!broken && deviation[k] <= tolerance) tStar = epochs[k];
    else broken = true;
    const d = Number.isNaN(deviation[k]) ? Infinity : deviation[k];
    if (d > largest) {
      largest = d;
      largestAt = epochs[k];
    }
  }
  const k0 = observed.length > 0 ? observed[0] : NaN;
  const halvedIndex = observed.findIndex((o) => o <= k0 / 2);
  const upTo = halvedIndex >= 0 ? halvedIndex : epochs.length - 1;
  let untilHalved = -Infinity;
  for (let k = 0; k <= upTo; k++) untilHalved = Math.max(untilHalved, Number.isNaN(deviation[k]) ? Infinity : deviation[k]);
  return {
    tStar,
    holdsThroughout: !broken && epochs.length > 0,
    largestDeviation: epochs.length > 0 ? largest : NaN,
    largestDeviationEpoch: largestAt,
    halvedAt: halvedIndex >= 0 ? epochs[halvedIndex] : null,
    deviationUntilHalved: epochs.length > 0 ? untilHalved : NaN,
  };
}

/** The sentence the report and the CLI print about t*. */
export function tStarSentence(s: Pick<LinearizedSummary, 'tStar' | 'holdsThroughout' | 'tolerance' | 'epochs'>): string {
  const pct = `${Math.round(s.tolerance * 100)} %`;
  if (s.tStar === null) return `The linearized prediction is off by more than ${pct} of the observed loss from epoch 0.`;
  return `The linearized prediction stays within ${pct} of the observed loss until epoch ${s.tStar}${s.holdsThroughout ? ' (the whole run: t* = E)' : ''}.`;
}

// ------------------------------------------------------------------ fig5: width

/** Minimum widths for the width verdict; fewer give no verdict. */
export const LINEARIZED_WIDTH_MIN_POINTS = 5;
/** The verdict's threshold on Spearman(width, largest deviation). */
export const LINEARIZED_WIDTH_SPEARMAN_MAX = -0.8;

export interface WidthDeviationPoint {
  width: number;
  largestDeviation: number;
  tStar: number | null;
}

/**
 * "The kernel regime holds longer as width grows": Spearman's rank correlation of width against
 * the largest deviation ≤ −0.8 over at least 5 widths. With fewer usable widths there is no
 * verdict (returned as undefined with the reason).
 */
export function linearizedWidthVerdict(points: readonly WidthDeviationPoint[]): { verdict?: Verdict; note?: string; spearman: number; widths: number } {
  const usable = points.filter((p) => Number.isFinite(p.width) && !Number.isNaN(p.largestDeviation));
  const rule = `Spearman rank correlation between width and the largest relative deviation of the linearized from the observed loss ≤ ${LINEARIZED_WIDTH_SPEARMAN_MAX}, over at least ${LINEARIZED_WIDTH_MIN_POINTS} widths`;
  if (usable.length < LINEARIZED_WIDTH_MIN_POINTS) {
    return { note: `no verdict (inconclusive): ${usable.length} width(s) with a linearized prediction, the rule needs ≥ ${LINEARIZED_WIDTH_MIN_POINTS}. Rule: ${rule}.`, spearman: NaN, widths: usable.length };
  }
  const rho = spearman(
    usable.map((p) => p.width),
    usable.map((p) => p.largestDeviation),
  );
  return {
    verdict: makeVerdict({ name: 'kernel regime holds longer as width grows', outcome: judged(rho <= LINEARIZED_WIDTH_SPEARMAN_MAX, rho), values: { spearman: rho, n: usable.length }, rule }),
    spearman: rho,
    widths: usable.length,
  };
}
