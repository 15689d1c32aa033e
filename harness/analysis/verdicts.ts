// Pass/fail verdicts on the paper's claims, each from a stated rule whose thresholds live in
// one config object (defaults below, overridable, echoed in every summary and report).
// No Node imports: this also runs in browsers.
import { ConfigError, closest } from '../../src/errors.js';
import { spearman } from '../../src/metrics/fit.js';

export interface VerdictThresholds {
  /** Linear convergence: rate(last third) / rate(middle third) of log ‖∇L‖² must be ≥ this. */
  rateRatioMin: number;
  /** Fewer points than this in the middle or last third: inconclusive. */
  minThirdPoints: number;
  /** ‖∇L‖² must fall by at least this many e-folds over the last third to read a rate. */
  minEfolds: number;
  /** PL: median μ_t over the last third ≥ this × its median over the middle third. */
  plMedianRatioMin: number;
  /** The window ends where L_t − L* < floorRel·L_t (float32 cannot resolve a smaller gap). */
  floorRel: number;
  /** The window ends before the loss rises this many epochs running. */
  risingEpochs: number;
  /** Width effect: Spearman ρ(width, final loss) must be ≤ this. */
  widthSpearmanMax: number;
  /** A set of seeds passes a verdict when at least this fraction of its seeds pass (4 of 5). */
  seedPassFraction: number;
}

export const DEFAULT_THRESHOLDS: Readonly<VerdictThresholds> = Object.freeze({
  rateRatioMin: 0.7,
  minThirdPoints: 15,
  minEfolds: 1,
  plMedianRatioMin: 0.75,
  floorRel: 1e-5,
  risingEpochs: 3,
  widthSpearmanMax: -0.9,
  seedPassFraction: 0.8,
});

/**
 * Thresholds of the earlier R²- and slope-based rules (retired: they passed power laws). A
 * recorded config.json may still carry them; `lplr report` drops them with a warning, while
 * `--threshold` rejects them by name.
 */
export const RETIRED_THRESHOLDS: readonly string[] = ['linearR2Min', 'plSlopeMin', 'plSlopeMax', 'plR2Min', 'minFitPoints'];

/** Drop retired threshold names from a recorded config (they belong to the old rules). */
export function withoutRetiredThresholds(recorded: Record<string, unknown> | undefined): Partial<VerdictThresholds> | undefined {
  if (!recorded) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(recorded)) if (!RETIRED_THRESHOLDS.includes(k)) out[k] = v;
  return out as Partial<VerdictThresholds>;
}

/** Defaults overridden by `overrides`; unknown keys and non-finite values are rejected. */
export function resolveThresholds(overrides: Partial<VerdictThresholds> = {}): VerdictThresholds {
  const known = Object.keys(DEFAULT_THRESHOLDS) as (keyof VerdictThresholds)[];
  const out: VerdictThresholds = { ...DEFAULT_THRESHOLDS };
  for (const [key, value] of Object.entries(overrides)) {
    if (RETIRED_THRESHOLDS.includes(key)) {
      throw new ConfigError(
        `Verdict threshold '${key}' belongs to the retired R²/slope rules, which passed power laws; R² and slopes are now reported, not judged. Known thresholds: ${known.join(', ')}.`,
      );
    }
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
  if (!(out.minThirdPoints >= 2) || !Number.isInteger(out.minThirdPoints)) {
    throw new ConfigError(`Verdict threshold minThirdPoints must be an integer ≥ 2 (a line needs two points), got ${out.minThirdPoints}.`);
  }
  if (!(out.risingEpochs >= 1) || !Number.isInteger(out.risingEpochs)) {
    throw new ConfigError(`Verdict threshold risingEpochs must be an integer ≥ 1, got ${out.risingEpochs}.`);
  }
  if (!(out.seedPassFraction > 0 && out.seedPassFraction <= 1)) {
    throw new ConfigError(`Verdict threshold seedPassFraction must lie in (0, 1], got ${out.seedPassFraction}.`);
  }
  return out;
}

export type VerdictOutcome = 'pass' | 'fail' | 'inconclusive';

export interface Verdict {
  name: string;
  /** pass, fail, or inconclusive (the data cannot decide); `passed` is outcome === 'pass'. */
  outcome: VerdictOutcome;
  passed: boolean;
  /** The outcome in the rule's own words where they differ from pass/fail (linear, sublinear). */
  reading?: string;
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

/** The word a report prints for a verdict: its reading, or yes / no / inconclusive. */
export function verdictWord(v: Pick<Verdict, 'passed'> & Partial<Pick<Verdict, 'outcome' | 'reading'>>): string {
  if (v.reading) return v.reading;
  const outcome = v.outcome ?? (v.passed ? 'pass' : 'fail');
  return outcome === 'pass' ? 'yes' : outcome === 'fail' ? 'no' : 'inconclusive';
}

/** A verdict from an outcome; `passed` follows it. */
export function makeVerdict(v: Omit<Verdict, 'passed'>): Verdict {
  return { ...v, passed: v.outcome === 'pass' };
}

/** pass/fail from a rule's boolean, but inconclusive when the rule saw no finite number. */
export function judged(pass: boolean, ...values: number[]): VerdictOutcome {
  return values.some((x) => !Number.isFinite(x)) ? 'inconclusive' : pass ? 'pass' : 'fail';
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
      outcome: 'inconclusive',
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
  return { name: 'width effect', ...passFail(rho <= th.widthSpearmanMax, rho), values: { spearman: rho, n: usable.length }, rule };
}

function passFail(pass: boolean, ...values: number[]): Pick<Verdict, 'outcome' | 'passed'> {
  const outcome = judged(pass, ...values);
  return { outcome, passed: outcome === 'pass' };
}

/** One seed's He and enhanced runs, compared by the rate of ‖∇L‖² over the fit window (no L*). */
export interface InitPair {
  seed: number;
  rateHe: number;
  rateEnhanced: number;
}

/**
 * Figure 4's claim as a verdict: the enhanced (depth-scaled) init converges more slowly, i.e. the
 * rate at which ‖∇L‖² falls over the fit window (−slope of log ‖∇L‖², which needs no L*) is
 * smaller than He's. Over n seeds every seed must agree: with 5 seeds that is a one-sided sign
 * test at p = 0.5^5 = 0.031; fewer seeds can pass but the note says the evidence is weak.
 */
export function enhancedSlowerVerdict(pairs: readonly InitPair[]): Verdict {
  const usable = pairs.filter((p) => Number.isFinite(p.rateHe) && Number.isFinite(p.rateEnhanced));
  const slower = usable.filter((p) => p.rateEnhanced < p.rateHe).length;
  const n = pairs.length;
  const rule =
    'rate of ‖∇L‖² over the fit window (−slope of log ‖∇L‖² vs epoch, no L* needed): enhanced < He in every seed (with 5 seeds a one-sided sign test, p = 0.031); the paper reports that the depth-scaled init slows convergence';
  const values: Record<string, number> = { seeds: n, slower, pSignTest: 0.5 ** slower * (slower === n ? 1 : NaN) };
  if (n === 1) {
    values.rateHe = pairs[0].rateHe;
    values.rateEnhanced = pairs[0].rateEnhanced;
  }
  if (usable.length < n || n === 0) {
    return { name: 'enhanced init converges more slowly', outcome: 'inconclusive', passed: false, values, rule, note: n === 0 ? 'no runs' : 'a rate is not finite' };
  }
  const pass = slower === n;
  return {
    name: 'enhanced init converges more slowly',
    outcome: pass ? 'pass' : 'fail',
    passed: pass,
    reading: `${slower} of ${n} seed${n === 1 ? '' : 's'}`,
    values,
    rule,
    ...(pass && n < 5 ? { note: `${n} seed${n === 1 ? '' : 's'}: a sign test needs 5 for p < 0.05 (--seeds 0-4)` } : {}),
  };
}
