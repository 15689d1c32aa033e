// Epoch-by-epoch comparison of two metric streams of the same configuration (e.g. a Node run
// and a browser run): the largest relative differences of loss and ‖∇L‖², and the fitted rate
// and slope of each. Pure functions, no platform dependencies.
import type { EpochRow, MetricRow } from '../../src/metrics/schema.js';
import { summarizeRun, type SummaryConfig } from '../analysis/summary.js';

/** |a − b| / max(|a|, |b|); 0 when equal (including both 0), ∞ when only one is finite or either is NaN. */
export function relativeDifference(a: number, b: number): number {
  if (a === b) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

export interface MaxDifference {
  value: number;
  /** Epoch where it occurs (NaN when there were no epochs). */
  epoch: number;
}

export interface FitNumbers {
  /** ρ per epoch of the semi-log fit with L* = min loss (the paper's choice). */
  rho: number;
  rhoR2: number;
  /** Slope of the log-log ‖∇L‖² vs gap fit, L* = min loss. */
  slope: number;
  slopeR2: number;
  finalLoss: number;
}

export interface StreamComparison {
  /** Epochs present in both streams. */
  epochs: number;
  /** Epochs present in only one of them (a mismatch by itself). */
  unmatched: number[];
  loss: MaxDifference;
  gradNormSq: MaxDifference;
  a: FitNumbers;
  b: FitNumbers;
}

function epochRows(rows: readonly MetricRow[]): Map<number, EpochRow> {
  const out = new Map<number, EpochRow>();
  for (const r of rows) if (r.kind === 'epoch') out.set(r.epoch, r);
  return out;
}

export function fitNumbers(rows: readonly MetricRow[], config: SummaryConfig = {}): FitNumbers {
  const s = summarizeRun(rows, config);
  return {
    rho: s.lStar.min.semiLog.rho,
    rhoR2: s.lStar.min.semiLog.r2,
    slope: s.lStar.min.logLog.slope,
    slopeR2: s.lStar.min.logLog.r2,
    finalLoss: s.final.loss,
  };
}

/** Keep the largest difference and the first epoch where it occurs. */
function track(max: MaxDifference, difference: number, epoch: number): void {
  if (Number.isNaN(max.epoch) || difference > max.value) {
    max.value = difference;
    max.epoch = epoch;
  }
}

export function compareStreams(a: readonly MetricRow[], b: readonly MetricRow[], config: SummaryConfig = {}): StreamComparison {
  const ea = epochRows(a);
  const eb = epochRows(b);
  const loss: MaxDifference = { value: 0, epoch: NaN };
  const grad: MaxDifference = { value: 0, epoch: NaN };
  let epochs = 0;
  const unmatched: number[] = [];
  for (const [epoch, ra] of [...ea].sort((x, y) => x[0] - y[0])) {
    const rb = eb.get(epoch);
    if (!rb) {
      unmatched.push(epoch);
      continue;
    }
    epochs++;
    track(loss, relativeDifference(ra.loss, rb.loss), epoch);
    track(grad, relativeDifference(ra.gradNormSq, rb.gradNormSq), epoch);
  }
  for (const epoch of eb.keys()) if (!ea.has(epoch)) unmatched.push(epoch);
  return { epochs, unmatched: unmatched.sort((x, y) => x - y), loss, gradNormSq: grad, a: fitNumbers(a, config), b: fitNumbers(b, config) };
}
