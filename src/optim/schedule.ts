// Learning-rate schedules as pure functions of the step number (paper §6.3 trains the CNN with
// cosine annealing). No GPU and no Node imports.
import { ConfigError } from '../errors.js';
import { cosTurns } from '../detmath.js';

export interface CosineOptions {
  /** Steps of linear warmup before the cosine part; default 0. */
  warmupSteps?: number;
  /** Learning rate at the end of the run; default 0. */
  minLr?: number;
}

function check(step: number, totalSteps: number, baseLr: number): void {
  if (!Number.isInteger(totalSteps) || totalSteps < 1) {
    throw new ConfigError(`totalSteps must be a positive integer, got ${totalSteps}. Pass epochs × batches per epoch.`);
  }
  if (!Number.isInteger(step) || step < 0) throw new ConfigError(`step must be an integer ≥ 0, got ${step}.`);
  if (!(baseLr >= 0) || !Number.isFinite(baseLr)) throw new ConfigError(`base learning rate must be a finite number ≥ 0, got ${baseLr}.`);
}

/** The same learning rate at every step. */
export function constantLr(step: number, totalSteps: number, baseLr: number): number {
  check(step, totalSteps, baseLr);
  return baseLr;
}

/**
 * Cosine annealing from baseLr (after warmup) down to minLr at step = totalSteps:
 * lr = minLr + (baseLr − minLr)·(1 + cos(π·p))/2 with p = (step − warmup)/(totalSteps − warmup).
 * During warmup, lr = baseLr·(step + 1)/warmupSteps, so the first update already moves and the
 * last warmup step uses baseLr. Steps past totalSteps stay at minLr.
 */
export function cosineLr(step: number, totalSteps: number, baseLr: number, options: CosineOptions = {}): number {
  check(step, totalSteps, baseLr);
  const warmup = options.warmupSteps ?? 0;
  const minLr = options.minLr ?? 0;
  if (!Number.isInteger(warmup) || warmup < 0 || warmup >= totalSteps) {
    throw new ConfigError(`warmupSteps must be an integer in [0, totalSteps), got ${warmup} with totalSteps ${totalSteps}.`);
  }
  if (!(minLr >= 0 && minLr <= baseLr)) {
    throw new ConfigError(`minLr must be in [0, baseLr] = [0, ${baseLr}], got ${minLr}.`);
  }
  if (step < warmup) return (baseLr * (step + 1)) / warmup;
  const p = Math.min(1, (step - warmup) / (totalSteps - warmup));
  // cos(π·p) as cos(2π·p/2) from detmath: the same schedule in Node and in every browser.
  return minLr + ((baseLr - minLr) * (1 + cosTurns(p / 2))) / 2;
}

export type LrScheduleName = 'constant' | 'cosine';

/** A schedule bound to its run: step → learning rate. */
export function makeLrSchedule(
  name: LrScheduleName,
  totalSteps: number,
  baseLr: number,
  options: CosineOptions = {},
): (step: number) => number {
  if (name === 'constant') {
    check(0, totalSteps, baseLr);
    return (step) => constantLr(step, totalSteps, baseLr);
  }
  if (name === 'cosine') {
    cosineLr(0, totalSteps, baseLr, options); // validate once, up front
    return (step) => cosineLr(step, totalSteps, baseLr, options);
  }
  throw new ConfigError(`Unknown learning-rate schedule '${String(name)}'. Use 'constant' or 'cosine'.`);
}
