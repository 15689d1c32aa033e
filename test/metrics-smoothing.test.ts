import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { emaBiasCorrected } from '../src/metrics/smoothing.js';

describe('emaBiasCorrected', () => {
  it('matches values worked out by hand', () => {
    // β = 0.5: s1 = 0.5·2 = 1 → 1/(1−0.5) = 2; s2 = 0.5·1 + 0.5·4 = 2.5 → 2.5/0.75;
    // s3 = 1.25 + 0.5·8 = 5.25 → 5.25/0.875 = 6.
    const out = emaBiasCorrected([2, 4, 8], 0.5);
    expect(out[0]).toBeCloseTo(2, 14);
    expect(out[1]).toBeCloseTo(2.5 / 0.75, 14);
    expect(out[2]).toBeCloseTo(6, 14);
  });

  it('leaves a constant series unchanged (the correction removes the zero-start bias)', () => {
    const out = emaBiasCorrected(new Array(300).fill(0.7));
    for (const v of out) expect(v).toBeCloseTo(0.7, 12);
  });

  it('equals the bias-corrected weighted mean of the inputs', () => {
    const x = Array.from({ length: 50 }, (_, i) => Math.sin(i) + i / 10);
    const beta = 0.98;
    const out = emaBiasCorrected(x, beta);
    for (const t of [1, 7, 50]) {
      // ŝ_t = Σ_{k≤t} β^{t−k} x_k / Σ_{k≤t} β^{t−k}, an independent closed form.
      let num = 0;
      let den = 0;
      for (let k = 1; k <= t; k++) {
        num += beta ** (t - k) * x[k - 1];
        den += beta ** (t - k);
      }
      expect(out[t - 1]).toBeCloseTo(num / den, 10);
    }
  });

  it('rejects β outside [0, 1)', () => {
    expect(() => emaBiasCorrected([1], 1)).toThrow(ConfigError);
    expect(() => emaBiasCorrected([1], -0.1)).toThrow(/beta must be in/);
  });
});
