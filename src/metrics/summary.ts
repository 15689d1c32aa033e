// Turns a run's metric rows into the paper's measurements (§6.1-6.3): the suboptimality gap
// under three choices of L*, the PL ratio, the semi-log and log-log fits, the smoothed
// mini-batch curves, and the verdicts. No Node imports: this also runs in browsers.
import { ConfigError } from '../errors.js';
import {
  fitExponentialPlusOffset,
  fitLogGap,
  fitLogLog,
  type ExponentialFit,
  type FitRange,
  type LogGapFit,
  type LogLogFit,
} from './fit.js';
import { METRICS_SCHEMA_VERSION, isEpochRow, isEvalRow, isStepRow, type EpochRow, type MetricRow, type StepRow } from './schema.js';
import { summarizeLinearized, type LinearizedSummary } from './linearized.js';
import { DEFAULT_EMA_BETA, emaBiasCorrected } from './smoothing.js';
import {
  linearConvergenceVerdict,
  plVerdict,
  resolveThresholds,
  type Verdict,
  type VerdictThresholds,
} from './verdicts.js';

/**
 * How L* is chosen for the gap L_t − L*:
 * - `min`: the smallest training loss of the run (the paper's proxy for the regional minimum);
 * - `zero`: 0, the squared loss's global minimum, which the NTK bound (paper eq. 8) assumes;
 * - `fit`: L* of the model L_t ≈ L* + C·ρ^t fitted over the window.
 */
export type LStarChoice = 'min' | 'zero' | 'fit';
export const L_STAR_CHOICES: readonly LStarChoice[] = ['min', 'zero', 'fit'];

export const L_STAR_DESCRIPTIONS: Readonly<Record<LStarChoice, string>> = {
  min: 'minimum training loss over the run (the paper’s proxy for the regional minimum)',
  zero: 'zero: the global minimum of the squared loss, which the NTK bound assumes',
  fit: 'L* of L_t ≈ L* + C·ρ^t fitted by least squares over the window',
};

export interface SummaryConfig {
  /** Inclusive epoch range of the fits; default [5, floor(0.9·E)]. */
  fitWindow?: readonly [number, number];
  thresholds?: Partial<VerdictThresholds>;
  /** β of the bias-corrected EMA applied to mini-batch (`step`) rows; default 0.98. */
  emaBeta?: number;
}

export interface FitWindow {
  /** First and last epoch in the fits, inclusive. */
  start: number;
  end: number;
  /** `default`: [5, floor(0.9·E)]; `config`: SummaryConfig.fitWindow; `full-run`: the run was too short for the default. */
  source: 'default' | 'config' | 'full-run';
}

export interface LStarAnalysis {
  choice: LStarChoice;
  lStar: number;
  description: string;
  /** L_t − L*, one per entry of RunSummary.epochs. */
  gap: number[];
  /** ‖∇L(θ_t)‖² / (2(L_t − L*)); null where the gap is ≤ 0. */
  plRatio: (number | null)[];
  /** Smallest PL ratio inside the window (an empirical local PL constant μ) and its epoch (step for smoothed data). */
  plRatioMin: number;
  plRatioMinAt: number;
  /** log(gap) vs epoch over the window (paper Figure 1). */
  semiLog: LogGapFit;
  /**
   * The semi-log fit on the first and second half of the window. A linearly converging run has
   * about the same rate in both; a sublinear one slows down. Not part of any verdict: a
   * diagnostic, because with L* = min loss even some sublinear curves reach R² ≥ 0.98.
   */
  semiLogHalves: { first: LogGapFit; second: LogGapFit };
  /** log ‖∇L‖² vs log(gap) over the window (paper Figure 2). */
  logLog: LogLogFit;
  /** Only for `fit`: the fitted model. */
  model?: ExponentialFit;
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
  /**
   * Gap, PL ratio and fits of the smoothed curves against step (rho is per step), for L* = the
   * smallest smoothed loss (paper Figure 3) and L* fitted as for epochs. No `zero` choice: the
   * mini-batch runs use cross-entropy, whose infimum 0 is never attained.
   */
  lStar: { min: LStarAnalysis; fit: LStarAnalysis };
}

export interface RunSummary {
  schemaVersion: number;
  /** Epoch numbers of the epoch rows, ascending; the series below align with it. */
  epochs: number[];
  loss: number[];
  gradNormSq: number[];
  drift: number[];
  /** Last epoch E (the number of full-batch updates); NaN without epoch rows. */
  lastEpoch: number;
  window: FitWindow;
  minLoss: number;
  minLossEpoch: number;
  final: { loss: number; gradNormSq: number; drift: number; acc: number; timeMs: number; testLoss?: number; testAcc?: number };
  maxDrift: number;
  lStar: Record<LStarChoice, LStarAnalysis>;
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

function analyseLStar(
  choice: LStarChoice,
  lStar: number,
  epochs: readonly number[],
  loss: readonly number[],
  gradNormSq: readonly number[],
  range: FitRange,
): LStarAnalysis {
  const gap = loss.map((l) => l - lStar);
  const plRatio = gap.map((g, i) => (g > 0 && Number.isFinite(g) && Number.isFinite(gradNormSq[i]) ? gradNormSq[i] / (2 * g) : null));
  let plRatioMin = NaN;
  let plRatioMinAt = NaN;
  for (let i = 0; i < epochs.length; i++) {
    const r = plRatio[i];
    if (r === null || epochs[i] < range[0] || epochs[i] > range[1]) continue;
    if (!(r >= plRatioMin)) {
      plRatioMin = r;
      plRatioMinAt = epochs[i];
    }
  }
  return {
    choice,
    lStar,
    description: L_STAR_DESCRIPTIONS[choice],
    gap,
    plRatio,
    plRatioMin,
    plRatioMinAt,
    semiLog: fitLogGap(epochs, gap, range),
    semiLogHalves: {
      first: fitLogGap(epochs, gap, [range[0], Math.floor((range[0] + range[1]) / 2)]),
      second: fitLogGap(epochs, gap, [Math.floor((range[0] + range[1]) / 2), range[1]]),
    },
    logLog: fitLogLog(epochs, gap, gradNormSq, range),
  };
}

function analyseSmoothed(steps: StepRow[], window: FitWindow, beta: number, warnings: string[]): SmoothedAnalysis | null {
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
    lStar: lStarAnalyses(curve.steps, curve.loss, curve.gradNormSq, range, ['min', 'fit']) as SmoothedAnalysis['lStar'],
  };
}

/** The analyses for the requested L* choices over one series (epochs or steps as x). */
function lStarAnalyses(
  x: readonly number[],
  loss: readonly number[],
  gradNormSq: readonly number[],
  range: FitRange,
  choices: readonly LStarChoice[],
): Partial<Record<LStarChoice, LStarAnalysis>> {
  let minLoss = NaN;
  for (const l of loss) if (!(l >= minLoss) && !Number.isNaN(l)) minLoss = l;
  const out: Partial<Record<LStarChoice, LStarAnalysis>> = {};
  for (const choice of choices) {
    if (choice === 'min') out.min = analyseLStar('min', minLoss, x, loss, gradNormSq, range);
    else if (choice === 'zero') out.zero = analyseLStar('zero', 0, x, loss, gradNormSq, range);
    else {
      const model = fitExponentialPlusOffset(x, loss, range, {
        upperBound: minLoss,
        // A loss that never goes negative (squared error, cross-entropy) cannot have L* < 0.
        lowerBound: loss.every((l) => !(l < 0)) ? 0 : undefined,
      });
      out.fit = { ...analyseLStar('fit', model.lStar, x, loss, gradNormSq, range), model };
    }
  }
  return out;
}

/**
 * Summarize one run: gap, PL ratio and fits for each L* choice over the fit window, the
 * smoothed mini-batch analysis when `step` rows exist, and the verdicts with their thresholds.
 */
export function summarizeRun(rows: readonly MetricRow[], config: SummaryConfig = {}): RunSummary {
  const warnings: string[] = [];
  const thresholds = resolveThresholds(config.thresholds);
  const epochRows = uniqueEpochRows(rows, warnings);
  const epochs = epochRows.map((r) => r.epoch);
  const loss = epochRows.map((r) => r.loss);
  const gradNormSq = epochRows.map((r) => r.gradNormSq);
  const drift = epochRows.map((r) => r.drift);
  const lastEpoch = epochs.length > 0 ? epochs[epochs.length - 1] : NaN;
  const stepRows = rows.filter(isStepRow);
  const stepEpochs = stepRows.length > 0 ? Math.max(...stepRows.map((r) => r.epoch)) + 1 : NaN;
  const window = chooseWindow(Number.isFinite(lastEpoch) ? lastEpoch : stepEpochs, config, warnings);
  const range: FitRange = [window.start, window.end];

  let minLoss = NaN;
  let minLossEpoch = NaN;
  for (let i = 0; i < loss.length; i++) {
    if (!(loss[i] >= minLoss)) {
      if (Number.isNaN(loss[i])) continue;
      minLoss = loss[i];
      minLossEpoch = epochs[i];
    }
  }
  const nonFinite = loss.filter((l) => !Number.isFinite(l)).length;
  if (nonFinite > 0) warnings.push(`${nonFinite} epoch(s) have a non-finite loss; they are left out of the fits.`);

  const lStar = lStarAnalyses(epochs, loss, gradNormSq, range, L_STAR_CHOICES) as Record<LStarChoice, LStarAnalysis>;

  const smoothed = analyseSmoothed(stepRows, window, config.emaBeta ?? DEFAULT_EMA_BETA, warnings);

  const windowText = `epochs ${window.start}..${window.end}`;
  const verdicts: Verdict[] = [];
  if (epochRows.length > 0) {
    for (const choice of L_STAR_CHOICES) {
      const label = `L* = ${choice}`;
      verdicts.push(linearConvergenceVerdict(lStar[choice].semiLog, thresholds, label, windowText));
      verdicts.push(plVerdict(lStar[choice].logLog, thresholds, label, windowText));
    }
  }
  if (smoothed) {
    const stepText = `steps ${smoothed.window.startStep}..${smoothed.window.endStep} of the EMA-smoothed mini-batch curves (β = ${smoothed.beta})`;
    for (const choice of ['min', 'fit'] as const) {
      const label = `smoothed mini-batch, L* = ${choice}`;
      verdicts.push(linearConvergenceVerdict(smoothed.lStar[choice].semiLog, thresholds, label, stepText));
      verdicts.push(plVerdict(smoothed.lStar[choice].logLog, thresholds, label, stepText));
    }
  }

  const last = epochRows[epochRows.length - 1];
  const lastEval = rows.filter(isEvalRow).sort((a, b) => a.epoch - b.epoch).pop();
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
    lStar,
    smoothed,
    thresholds,
    verdicts,
    warnings,
    ...linearizedField(rows),
  };
}

function linearizedField(rows: readonly MetricRow[]): { linearized?: LinearizedSummary } {
  const linearized = summarizeLinearized(rows);
  return linearized ? { linearized } : {};
}
