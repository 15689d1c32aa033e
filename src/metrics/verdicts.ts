// Pass/fail verdicts on the paper's claims, each from a stated rule whose thresholds live in
// one config object (defaults below, overridable, echoed in every summary and report).
// No Node imports: this also runs in browsers.
import { ConfigError, closest } from '../errors.js';
import type { LinearFit } from './fit.js';
import { spearman } from './fit.js';

export interface VerdictThresholds {
  /** Linear convergence: minimum R² of the semi-log fit log(L_t − L*) vs t. */
  linearR2Min: number;
  /** PL-like: the log-log slope of ‖∇L‖² vs gap must be > plSlopeMin ... */
  plSlopeMin: number;
  /** ... and ≤ plSlopeMax. */
  plSlopeMax: number;
  /** PL-like: minimum R² of the log-log fit. */
  plR2Min: number;
  /** Width effect: Spearman ρ(width, final loss) must be ≤ this. */
  widthSpearmanMax: number;
  /** Any fit with fewer points than this fails (a line through 2 points always has R² = 1). */
  minFitPoints: number;
}

export const DEFAULT_THRESHOLDS: Readonly<VerdictThresholds> = Object.freeze({
  linearR2Min: 0.98,
  plSlopeMin: 0,
  plSlopeMax: 1.2,
  plR2Min: 0.9,
  widthSpearmanMax: -0.9,
  minFitPoints: 5,
});

/** Defaults overridden by `overrides`; unknown keys and non-finite values are rejected. */
export function resolveThresholds(overrides: Partial<VerdictThresholds> = {}): VerdictThresholds {
  const known = Object.keys(DEFAULT_THRESHOLDS) as (keyof VerdictThresholds)[];
  const out: VerdictThresholds = { ...DEFAULT_THRESHOLDS };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(known as string[]).includes(key)) {
      const hint = closest(key, known);
      throw new ConfigError(
        `Unknown verdict threshold '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}. Known thresholds: ${known.join(', ')}.`,
      );
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ConfigError(`Verdict threshold '${key}' must be a finite number, got ${String(value)}.`);
    }
    out[key as keyof VerdictThresholds] = value;
  }
  if (!(out.plSlopeMin < out.plSlopeMax)) {
    throw new ConfigError(`Verdict thresholds need plSlopeMin < plSlopeMax, got ${out.plSlopeMin} and ${out.plSlopeMax}.`);
  }
  return out;
}

export interface Verdict {
  name: string;
  passed: boolean;
  /** The measured numbers the rule was applied to. */
  values: Record<string, number>;
  /** The rule, in words, with the thresholds filled in. */
  rule: string;
  /** Why a verdict failed without the rule being applicable (e.g. too few points). */
  note?: string;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6)));
}

function tooFew(fit: { n: number }, th: VerdictThresholds): string | undefined {
  return fit.n < th.minFitPoints ? `only ${fit.n} fit points (need ≥ ${th.minFitPoints})` : undefined;
}

/**
 * Linear convergence: the semi-log fit log(L_t − L*) vs t over the window has R² ≥ linearR2Min
 * and a negative slope (the gap shrinks by a constant factor per epoch).
 */
export function linearConvergenceVerdict(
  fit: LinearFit,
  th: VerdictThresholds = DEFAULT_THRESHOLDS,
  label = '',
  windowText = 'the fit window',
): Verdict {
  const note = tooFew(fit, th);
  const passed = note === undefined && fit.r2 >= th.linearR2Min && fit.slope < 0;
  return {
    name: `linear convergence${label ? ` (${label})` : ''}`,
    passed,
    values: { r2: fit.r2, slope: fit.slope, rho: Math.exp(fit.slope), n: fit.n },
    rule: `least-squares line through log(L_t − L*) vs t over ${windowText}: R² ≥ ${fmt(th.linearR2Min)} and slope < 0 (at least ${fmt(th.minFitPoints)} points)`,
    ...(note ? { note } : {}),
  };
}

/**
 * PL-like behaviour (paper Figure 2): log ‖∇L‖² vs log(L_t − L*) is a line with slope in
 * (plSlopeMin, plSlopeMax] and R² ≥ plR2Min. Slope 1 is the PL inequality itself; the paper
 * accepts slopes below 1 as a Kurdyka-Łojasiewicz-type relation.
 */
export function plVerdict(fit: LinearFit, th: VerdictThresholds = DEFAULT_THRESHOLDS, label = '', windowText = 'the fit window'): Verdict {
  const note = tooFew(fit, th);
  const passed = note === undefined && fit.slope > th.plSlopeMin && fit.slope <= th.plSlopeMax && fit.r2 >= th.plR2Min;
  return {
    name: `PL-like gradient/gap relation${label ? ` (${label})` : ''}`,
    passed,
    values: { slope: fit.slope, r2: fit.r2, n: fit.n },
    rule: `least-squares line through log ‖∇L‖² vs log(L_t − L*) over ${windowText}: slope in (${fmt(th.plSlopeMin)}, ${fmt(th.plSlopeMax)}] and R² ≥ ${fmt(th.plR2Min)} (at least ${fmt(th.minFitPoints)} points)`,
    ...(note ? { note } : {}),
  };
}

export interface WidthPoint {
  width: number;
  finalLoss: number;
}

/** Width effect (paper Figure 5): wider networks end at lower training loss. */
export function widthEffectVerdict(points: readonly WidthPoint[], th: VerdictThresholds = DEFAULT_THRESHOLDS): Verdict {
  const usable = points.filter((p) => Number.isFinite(p.width) && Number.isFinite(p.finalLoss));
  const rule = `Spearman rank correlation between width and final training loss ≤ ${fmt(th.widthSpearmanMax)} (at least 3 widths with a finite final loss)`;
  if (usable.length < 3) {
    return {
      name: 'width effect',
      passed: false,
      values: { spearman: NaN, n: usable.length },
      rule,
      note: `only ${usable.length} widths with a finite final loss (need ≥ 3)`,
    };
  }
  const rho = spearman(
    usable.map((p) => p.width),
    usable.map((p) => p.finalLoss),
  );
  return { name: 'width effect', passed: rho <= th.widthSpearmanMax, values: { spearman: rho, n: usable.length }, rule };
}
