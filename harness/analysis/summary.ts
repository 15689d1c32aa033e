// Turns a run's metric rows into the paper's measurements (§6.1-6.3): the suboptimality gap
// under three choices of L*, the PL ratio, the semi-log and log-log fits, the smoothed
// mini-batch curves, and the verdicts. No Node imports: this also runs in browsers.
import { ConfigError } from '../../src/errors.js';
import { evidenceEnd, plStability, rateStability, type PlStability, type RateStability } from './convergence.js';
import { fitLogGap, fitLogLog, fitOffsetModels, linearFit, type FitRange, type LogGapFit, type LogLogFit, type OffsetModels } from '../../src/metrics/fit.js';
import { METRICS_SCHEMA_VERSION, isEpochRow, isEvalRow, isStepRow, type EpochRow, type MetricRow, type StepRow } from '../../src/metrics/schema.js';
import { summarizeLinearized, type LinearizedSummary } from './linearized-summary.js';
import { DEFAULT_EMA_BETA, emaBiasCorrected } from '../../src/metrics/smoothing.js';
import { makeVerdict, resolveThresholds, type Verdict, type VerdictThresholds } from './verdicts.js';

/**
 * How L* is chosen for the gap L_t − L* (docs/metrics.md explains each):
 * - `zero`: 0, the infimum of the squared loss (and of cross-entropy), which the NTK bound assumes
 *   when the network can interpolate;
 * - `extended`: the smallest loss over a run trained k·E epochs (`--lstar-extend k`), analysed
 *   over epochs 0..E only; for a power law it still sits about k^-p of the final gap above the
 *   infimum, which bends the curve toward linear;
 * - `fit`: the offset of L_t ≈ L* + A·ρ^t fitted by least squares on log L_t (the power-law
 *   model's offset is reported beside it); reported, no verdict;
 * - `min`: the run's own smallest loss over 0..E, the paper's proxy. It makes the gap vanish at
 *   the end of the window and so bends every decreasing curve toward linear there: drawn and
 *   labelled, never judged.
 * The primary L* (the one the PL verdict uses) is `extended` where it ran, else `zero`.
 */
export type LStarChoice = 'zero' | 'extended' | 'fit' | 'min';
export const L_STAR_CHOICES: readonly LStarChoice[] = ['zero', 'extended', 'fit', 'min'];
/** The choices that can carry a verdict; `fit` and `min` never do. */
export const JUDGED_L_STAR: readonly LStarChoice[] = ['zero', 'extended'];

export const L_STAR_DESCRIPTIONS: Readonly<Record<LStarChoice, string>> = {
  zero: 'zero: the infimum of the loss, which the NTK bound assumes when the network can interpolate',
  extended: 'the smallest loss of a run trained k·E epochs, analysed over epochs 0..E',
  fit: 'offset of L_t ≈ L* + A·ρ^t, least squares on log L_t (reported, no verdict)',
  min: 'the run’s own smallest loss (the paper’s proxy; biased toward linear near the window’s end, no verdict)',
};

export interface SummaryConfig {
  /** Inclusive epoch range of the fits; default [5, floor(0.9·E)]. */
  fitWindow?: readonly [number, number];
  thresholds?: Partial<VerdictThresholds>;
  /** β of the bias-corrected EMA applied to mini-batch (`step`) rows; default 0.98. */
  emaBeta?: number;
  /**
   * The analysis horizon E: fits, figures and verdicts use epochs 0..E; later rows (a run trained
   * k·E epochs by --lstar-extend) only give L* = extended. Default: the last epoch row.
   */
  horizon?: number;
  /** k of --lstar-extend; 0 or absent: not extended. */
  lstarExtend?: number;
}

export interface FitWindow {
  /** First and last epoch in the fits, inclusive (after an early end, below). */
  start: number;
  end: number;
  /** `default`: [5, floor(0.9·E)]; `config`: SummaryConfig.fitWindow; `full-run`: the run was too short for the default. */
  source: 'default' | 'config' | 'full-run';
  /** The planned last epoch, when the evidence ended earlier (see `endReason`). */
  plannedEnd?: number;
  /** Why the window ends before its planned end: the gap reached float32's floor, or the loss rose. */
  endReason?: 'float32 floor' | 'loss rising';
}

export interface LStarAnalysis {
  choice: LStarChoice;
  lStar: number;
  description: string;
  /** How this value was obtained, with its numbers. */
  obtained: string;
  /** Whether this choice can carry a verdict (zero, extended). */
  judged: boolean;
  /** L_t − L*, one per entry of RunSummary.epochs. */
  gap: number[];
  /** ‖∇L(θ_t)‖² / (2(L_t − L*)); null where the gap is ≤ 0. */
  plRatio: (number | null)[];
  /** Smallest PL ratio inside the window and its epoch (step for smoothed data). */
  plRatioMin: number;
  plRatioMinAt: number;
  /** The PL rule's numbers under this L* (a verdict only for the primary L*). */
  pl: PlStability;
  /** log(gap) vs epoch over the window (paper Figure 1): reported R² and ρ, not judged. */
  semiLog: LogGapFit;
  /** The semi-log fit on the first and second half of the window (reported). */
  semiLogHalves: { first: LogGapFit; second: LogGapFit };
  /** log ‖∇L‖² vs log(gap) over the window (paper Figure 2): reported slope, not judged. */
  logLog: LogLogFit;
  /** Only for `fit`: both offset models and their comparison. */
  models?: OffsetModels;
  /** Only for `fit`: the exponential's offset sits on a bound of its search, so it estimates nothing. */
  degenerate?: boolean;
  /** Only for `extended`: the k and the epochs the extension reached. */
  extension?: { k: number; target: number; reached: number };
}

export interface SmoothedAnalysis {
  beta: number;
  steps: number[];
  epochOfStep: number[];
  /** Bias-corrected EMA of the mini-batch loss and squared gradient norm. */
  loss: number[];
  gradNormSq: number[];
  /** Steps whose epoch lies in the epoch window. */
  window: { startStep: number; endStep: number };
  /** Local rate of the smoothed ‖∇L‖² per step, middle vs last third of the step window. */
  rate: RateStability;
  /** Primary L* of the smoothed curves: zero (the infimum of cross-entropy). */
  primary: 'zero';
  /** Gap, PL ratio and fits of the smoothed curves against step (rho is per step). */
  lStar: { zero: LStarAnalysis; min: LStarAnalysis; fit: LStarAnalysis };
}

export interface RunSummary {
  schemaVersion: number;
  /** Epoch numbers of the epoch rows up to the horizon, ascending; the series below align with it. */
  epochs: number[];
  loss: number[];
  gradNormSq: number[];
  drift: number[];
  /** Last epoch E of the analysis (the horizon); NaN without epoch rows. */
  lastEpoch: number;
  window: FitWindow;
  minLoss: number;
  minLossEpoch: number;
  final: { loss: number; gradNormSq: number; drift: number; acc: number; timeMs: number; testLoss?: number; testAcc?: number };
  maxDrift: number;
  /** The L* the PL verdict uses: extended where the run was extended, else zero. */
  primary: LStarChoice;
  /** Local rate of ‖∇L‖²: the linear-convergence rule's numbers (needs no L*). */
  rate: RateStability;
  lStar: { zero: LStarAnalysis; fit: LStarAnalysis; min: LStarAnalysis; extended?: LStarAnalysis };
  smoothed: SmoothedAnalysis | null;
  thresholds: VerdictThresholds;
  verdicts: Verdict[];
  /** Things the reader should know (duplicate rows dropped, window fallback, ...). */
  warnings: string[];
  /** With --linearized: the kernel-regime prediction against the observed curve (linearized.ts). */
  linearized?: LinearizedSummary;
}

/** Bias-corrected EMA of the mini-batch loss and squared gradient norm, ordered by step. */
export function smoothedStepCurve(
  rows: readonly MetricRow[],
  beta = DEFAULT_EMA_BETA,
): { steps: number[]; epochOfStep: number[]; loss: number[]; gradNormSq: number[] } {
  const steps = rows.filter(isStepRow).sort((a, b) => a.step - b.step);
  return {
    steps: steps.map((r) => r.step),
    epochOfStep: steps.map((r) => r.epoch),
    loss: emaBiasCorrected(steps.map((r) => r.loss), beta),
    gradNormSq: emaBiasCorrected(steps.map((r) => r.gradNormSq), beta),
  };
}

/** Epoch rows sorted by epoch; a repeated epoch (e.g. a resumed run) keeps its last row. */
function uniqueEpochRows(rows: readonly MetricRow[], warnings: string[]): EpochRow[] {
  const byEpoch = new Map<number, EpochRow>();
  let duplicates = 0;
  for (const r of rows) {
    if (!isEpochRow(r)) continue;
    if (byEpoch.has(r.epoch)) duplicates++;
    byEpoch.set(r.epoch, r);
  }
  if (duplicates > 0) warnings.push(`${duplicates} epoch row(s) repeated an epoch number; the last row of each epoch was used.`);
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

function chooseWindow(lastEpoch: number, config: SummaryConfig, warnings: string[]): FitWindow {
  if (config.fitWindow) {
    const [a, b] = config.fitWindow;
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < a) {
      throw new ConfigError(`fitWindow must be two integers [first, last] with 0 ≤ first ≤ last, got [${a}, ${b}].`);
    }
    if (Number.isFinite(lastEpoch) && b > lastEpoch) {
      throw new ConfigError(`fitWindow [${a}, ${b}] ends after the run's last epoch ${lastEpoch}. Use a last epoch ≤ ${lastEpoch}.`);
    }
    return { start: a, end: b, source: 'config' };
  }
  if (!Number.isFinite(lastEpoch)) return { start: 0, end: 0, source: 'full-run' };
  const start = 5;
  const end = Math.floor(0.9 * lastEpoch);
  // Fewer than 3 epochs in the default window cannot show a trend; use the whole run instead.
  if (end - start < 2) {
    warnings.push(`The run has only ${lastEpoch} epochs, too few for the default fit window [5, floor(0.9·E)]; the fits use epochs 0..${lastEpoch}.`);
    return { start: 0, end: lastEpoch, source: 'full-run' };
  }
  return { start, end, source: 'default' };
}

function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5) ? x.toExponential(3) : String(Number(x.toPrecision(4)));
}

function analyseLStar(
  choice: LStarChoice,
  lStar: number,
  obtained: string,
  x: readonly number[],
  loss: readonly number[],
  gradNormSq: readonly number[],
  range: FitRange,
  th: VerdictThresholds,
): LStarAnalysis {
  const gap = loss.map((l) => l - lStar);
  const plRatio = gap.map((g, i) => (g > 0 && Number.isFinite(g) && Number.isFinite(gradNormSq[i]) ? gradNormSq[i] / (2 * g) : null));
  let plRatioMin = NaN;
  let plRatioMinAt = NaN;
  for (let i = 0; i < x.length; i++) {
    const r = plRatio[i];
    if (r === null || x[i] < range[0] || x[i] > range[1]) continue;
    if (!(r >= plRatioMin)) {
      plRatioMin = r;
      plRatioMinAt = x[i];
    }
  }
  const mid = Math.floor((range[0] + range[1]) / 2);
  return {
    choice,
    lStar,
    description: L_STAR_DESCRIPTIONS[choice],
    obtained,
    judged: (JUDGED_L_STAR as string[]).includes(choice),
    gap,
    plRatio,
    plRatioMin,
    plRatioMinAt,
    pl: plStability(x, loss, gradNormSq, lStar, range, th),
    semiLog: fitLogGap(x, gap, range),
    semiLogHalves: { first: fitLogGap(x, gap, [range[0], mid]), second: fitLogGap(x, gap, [mid, range[1]]) },
    logLog: fitLogLog(x, gap, gradNormSq, range),
  };
}

function smallest(values: readonly number[], x: readonly number[]): { value: number; at: number } {
  let value = NaN;
  let at = NaN;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) continue;
    if (!(values[i] >= value)) {
      value = values[i];
      at = x[i];
    }
  }
  return { value, at };
}

/** zero, fit and min analyses over one series (epochs or steps as x). */
function baseAnalyses(
  x: readonly number[],
  loss: readonly number[],
  gradNormSq: readonly number[],
  range: FitRange,
  th: VerdictThresholds,
  unit: string,
): { zero: LStarAnalysis; fit: LStarAnalysis; min: LStarAnalysis } {
  const min = smallest(loss, x);
  const nonNegative = loss.every((l) => !(l < 0));
  const models = fitOffsetModels(x, loss, range, nonNegative ? { lowerBound: 0 } : {});
  const e = models.exponential;
  const pw = models.power;
  const bound = (b?: 'lower' | 'upper') => (b ? ` — on its ${b} bound, so degenerate` : '');
  const fitText =
    `least squares on log L_t over ${unit}s ${range[0]}..${range[1]}: L* + A·ρ^t gives L* = ${fmtNum(e.lStar)} (ρ = ${fmtNum(e.rho ?? NaN)})${bound(e.onBound)}; ` +
    `L* + A·(t + t0)^-p gives L* = ${fmtNum(pw.lStar)} (p = ${fmtNum(pw.p ?? NaN)}, t0 = ${fmtNum(pw.t0 ?? NaN)})${bound(pw.onBound)}; ` +
    `AIC(exp) − AIC(power) = ${fmtNum(models.deltaAic)}`;
  return {
    zero: analyseLStar('zero', 0, 'the loss’s infimum, 0', x, loss, gradNormSq, range, th),
    fit: { ...analyseLStar('fit', e.lStar, fitText, x, loss, gradNormSq, range, th), models, degenerate: e.onBound !== undefined },
    min: analyseLStar('min', min.value, `the smallest loss over ${unit}s ${x[0] ?? NaN}..${x[x.length - 1] ?? NaN}, at ${unit} ${min.at}`, x, loss, gradNormSq, range, th),
  };
}

function rateVerdict(rate: RateStability, th: VerdictThresholds, label: string, windowText: string): Verdict {
  return makeVerdict({
    name: `linear convergence${label}`,
    outcome: rate.outcome,
    reading: rate.reading,
    values: {
      q: rate.q,
      rateMiddle: rate.middle.rate,
      rateLast: rate.last.rate,
      efoldsLast: rate.last.efolds,
      nMiddle: rate.middle.n,
      nLast: rate.last.n,
    },
    rule:
      `local rate of ‖∇L‖² (−slope of log ‖∇L‖² vs t, least squares) over the last third of ${windowText} divided by that over the middle third, q: ` +
      `linear if q ≥ ${fmtNum(th.rateRatioMin)}, sublinear below; inconclusive when a third has fewer than ${th.minThirdPoints} points, ` +
      `‖∇L‖² falls by less than ${fmtNum(th.minEfolds)} e-fold over the last third, or does not fall over the middle third. Needs no L*.`,
    ...(rate.note ? { note: rate.note } : {}),
  });
}

function plRuleVerdict(a: LStarAnalysis, th: VerdictThresholds, label: string, windowText: string): Verdict {
  return makeVerdict({
    name: `PL condition${label} (L* = ${a.choice})`,
    outcome: a.pl.outcome,
    values: {
      lStar: a.lStar,
      medianMiddle: a.pl.medianMiddle,
      medianLast: a.pl.medianLast,
      ratio: a.pl.ratio,
      muMin: a.pl.muMin,
    },
    rule:
      `μ_t = ‖∇L‖²/(2(L_t − L*)) with L* = ${a.choice} (${fmtNum(a.lStar)}): median over the last third of ${windowText} ≥ ${fmtNum(th.plMedianRatioMin)} × median over the middle third ` +
      `(for GD 1 − ρ_t ≈ 2ημ_t, so this is the rate rule seen through the gap); inconclusive with fewer than ${th.minThirdPoints} positive gaps in a third, ` +
      `or when μ_t holds but ‖∇L‖² falls by less than ${fmtNum(th.minEfolds)} e-fold over the last third. μ = the last third’s smallest μ_t.`,
    ...(a.pl.note ? { note: a.pl.note } : {}),
  });
}

function analyseSmoothed(steps: StepRow[], window: FitWindow, beta: number, th: VerdictThresholds, warnings: string[]): SmoothedAnalysis | null {
  if (steps.length === 0) return null;
  const curve = smoothedStepCurve(steps, beta);
  const inWindow = curve.steps.filter((_, i) => curve.epochOfStep[i] >= window.start && curve.epochOfStep[i] <= window.end);
  let range: FitRange;
  if (inWindow.length > 0) range = [inWindow[0], inWindow[inWindow.length - 1]];
  else {
    warnings.push(`No mini-batch step lies in epochs ${window.start}..${window.end}; the smoothed fits use all steps.`);
    range = [curve.steps[0], curve.steps[curve.steps.length - 1]];
  }
  return {
    beta,
    ...curve,
    window: { startStep: range[0], endStep: range[1] },
    rate: rateStability(curve.steps, curve.gradNormSq, range, th),
    primary: 'zero',
    lStar: baseAnalyses(curve.steps, curve.loss, curve.gradNormSq, range, th, 'step'),
  };
}

/**
 * Summarize one run: the local-rate rule (no L*), every L* choice with its gap, PL ratio and
 * reported fits, the PL rule on the primary L*, the smoothed mini-batch analysis when `step` rows
 * exist, and the verdicts with their thresholds.
 */
export function summarizeRun(rows: readonly MetricRow[], config: SummaryConfig = {}): RunSummary {
  const warnings: string[] = [];
  const thresholds = resolveThresholds(config.thresholds);
  const allEpochRows = uniqueEpochRows(rows, warnings);
  const horizon = config.horizon;
  const epochRows = horizon !== undefined && Number.isFinite(horizon) ? allEpochRows.filter((r) => r.epoch <= horizon) : allEpochRows;
  const epochs = epochRows.map((r) => r.epoch);
  const loss = epochRows.map((r) => r.loss);
  const gradNormSq = epochRows.map((r) => r.gradNormSq);
  const drift = epochRows.map((r) => r.drift);
  const lastEpoch = epochs.length > 0 ? epochs[epochs.length - 1] : NaN;
  if (horizon !== undefined && Number.isFinite(lastEpoch) && lastEpoch < horizon) {
    warnings.push(`The run stopped at epoch ${lastEpoch}, before its horizon E = ${horizon}; the analysis covers epochs 0..${lastEpoch}.`);
  }
  const stepRows = rows.filter(isStepRow);
  const stepEpochs = stepRows.length > 0 ? Math.max(...stepRows.map((r) => r.epoch)) + 1 : NaN;
  const planned = chooseWindow(Number.isFinite(lastEpoch) ? lastEpoch : stepEpochs, config, warnings);
  const plannedRange: FitRange = [planned.start, planned.end];

  const { value: minLoss, at: minLossEpoch } = smallest(loss, epochs);
  const nonFinite = loss.filter((l) => !Number.isFinite(l)).length;
  if (nonFinite > 0) warnings.push(`${nonFinite} epoch(s) have a non-finite loss; they are left out of the fits.`);

  // L* = extended: the smallest loss of the whole extended run (rows past the horizon included).
  const k = config.lstarExtend ?? 0;
  let extended: { lStar: number; obtained: string; extension: { k: number; target: number; reached: number } } | undefined;
  if (k > 0 && Number.isFinite(lastEpoch)) {
    const all = smallest(
      allEpochRows.map((r) => r.loss),
      allEpochRows.map((r) => r.epoch),
    );
    const reached = allEpochRows[allEpochRows.length - 1].epoch;
    const target = k * (horizon ?? lastEpoch);
    extended = {
      lStar: all.value,
      obtained: `the smallest loss over epochs 0..${reached} of a run extended to k·E = ${k}·${horizon ?? lastEpoch} = ${target} epochs (at epoch ${all.at})`,
      extension: { k, target, reached },
    };
    if (reached < target) warnings.push(`L* = extended: the run reached epoch ${reached} of its ${target}; L* is the smallest loss so far, an upper estimate.`);
  }
  const primary: LStarChoice = extended ? 'extended' : 'zero';
  const primaryLStar = extended ? extended.lStar : 0;

  // The evidence ends early at float32's floor or where the loss climbs: fits past it read noise.
  const end = evidenceEnd(epochs, loss, primaryLStar, plannedRange, thresholds);
  const window: FitWindow = end.end < planned.end ? { ...planned, end: end.end, plannedEnd: planned.end, ...(end.reason ? { endReason: end.reason } : {}) } : planned;
  if (window.plannedEnd !== undefined) {
    warnings.push(
      end.reason === 'float32 floor'
        ? `The fit window ends at epoch ${window.end} instead of ${planned.end}: at epoch ${end.at} L_t − L* fell below ${thresholds.floorRel}·L_t, float32's floor.`
        : `The fit window ends at epoch ${window.end} instead of ${planned.end}: the loss rose ${thresholds.risingEpochs} epochs running up to epoch ${end.at}.`,
    );
  }
  const range: FitRange = [window.start, window.end];

  const base = baseAnalyses(epochs, loss, gradNormSq, range, thresholds, 'epoch');
  const lStar: RunSummary['lStar'] = { ...base };
  if (extended) {
    lStar.extended = { ...analyseLStar('extended', extended.lStar, extended.obtained, epochs, loss, gradNormSq, range, thresholds), extension: extended.extension };
  }
  const rate = rateStability(epochs, gradNormSq, range, thresholds);

  const smoothed = analyseSmoothed(stepRows, window, config.emaBeta ?? DEFAULT_EMA_BETA, thresholds, warnings);

  const windowText = `epochs ${window.start}..${window.end}`;
  const verdicts: Verdict[] = [];
  if (epochRows.length > 0) {
    verdicts.push(rateVerdict(rate, thresholds, '', windowText));
    verdicts.push(plRuleVerdict(lStar[primary] as LStarAnalysis, thresholds, '', windowText));
  }
  if (smoothed) {
    const stepText = `steps ${smoothed.window.startStep}..${smoothed.window.endStep} of the EMA-smoothed mini-batch curves (β = ${smoothed.beta})`;
    verdicts.push(rateVerdict(smoothed.rate, thresholds, ' (smoothed mini-batch)', stepText));
    verdicts.push(plRuleVerdict(smoothed.lStar.zero, thresholds, ' (smoothed mini-batch)', stepText));
  }

  const last = epochRows[epochRows.length - 1];
  const lastEval = rows.filter(isEvalRow).filter((r) => horizon === undefined || r.epoch <= horizon).sort((a, b) => a.epoch - b.epoch).pop();
  const final: RunSummary['final'] = last
    ? { loss: last.loss, gradNormSq: last.gradNormSq, drift: last.drift, acc: last.acc, timeMs: last.timeMs }
    : { loss: NaN, gradNormSq: NaN, drift: NaN, acc: NaN, timeMs: NaN };
  // The later of the last eval row and the last epoch row that carries test metrics.
  const useEval = lastEval !== undefined && (last?.testLoss === undefined || lastEval.epoch > last.epoch);
  const testLoss = useEval ? lastEval.testLoss : last?.testLoss;
  const testAcc = useEval ? lastEval.testAcc : last?.testAcc;
  if (testLoss !== undefined) final.testLoss = testLoss;
  if (testAcc !== undefined) final.testAcc = testAcc;

  return {
    schemaVersion: METRICS_SCHEMA_VERSION,
    epochs,
    loss,
    gradNormSq,
    drift,
    lastEpoch,
    window,
    minLoss,
    minLossEpoch,
    final,
    maxDrift: drift.reduce((m, d) => (d > m ? d : m), drift.length > 0 ? -Infinity : NaN),
    primary,
    rate,
    lStar,
    smoothed,
    thresholds,
    verdicts,
    warnings,
    ...linearizedField(rows, range, thresholds),
  };
}

function linearizedField(rows: readonly MetricRow[], range: FitRange, thresholds: VerdictThresholds): { linearized?: LinearizedSummary } {
  const linearized = summarizeLinearized(rows, { range, thresholds });
  return linearized ? { linearized } : {};
}

/** −slope of log ‖∇L‖² vs epoch over the whole fit window: an average rate that needs no L*. */
export function windowRate(summary: Pick<RunSummary, 'epochs' | 'gradNormSq' | 'window'>): number {
  const xs: number[] = [];
  const ys: number[] = [];
  summary.epochs.forEach((t, i) => {
    const g = summary.gradNormSq[i];
    if (t >= summary.window.start && t <= summary.window.end && g > 0 && Number.isFinite(g)) {
      xs.push(t);
      ys.push(Math.log(g));
    }
  });
  return -linearFit(xs, ys).slope;
}
