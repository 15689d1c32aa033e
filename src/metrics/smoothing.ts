// Exponential moving average with bias correction, for the noisy mini-batch curves of paper
// Figure 3. No Node imports: this also runs in browsers.
import { ConfigError } from '../errors.js';

export const DEFAULT_EMA_BETA = 0.98;

/**
 * s_0 = 0, s_t = β·s_{t−1} + (1−β)·x_t, ŝ_t = s_t / (1 − β^t) for t = 1..n; returns ŝ_1..ŝ_n.
 * The division undoes the pull towards the zero start, so ŝ_1 = x_1 and early values are
 * averages of the points seen so far rather than shrunken ones. A NaN input makes every later
 * value NaN (a diverged run should look diverged).
 */
export function emaBiasCorrected(values: readonly number[], beta = DEFAULT_EMA_BETA): number[] {
  if (!(beta >= 0 && beta < 1)) {
    throw new ConfigError(`EMA beta must be in [0, 1), got ${beta}. Use e.g. 0.98 (the default) for heavy smoothing or 0.9 for light.`);
  }
  const out = new Array<number>(values.length);
  let s = 0;
  let betaPow = 1;
  for (let i = 0; i < values.length; i++) {
    s = beta * s + (1 - beta) * values[i];
    betaPow *= beta;
    out[i] = s / (1 - betaPow);
  }
  return out;
}
