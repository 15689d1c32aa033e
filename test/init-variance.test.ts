// Figure 4's contrast rests on the initial weights having the variance each scheme states: the
// per-layer sample variance must match the formula within sampling error, and tell the schemes apart.
import { describe, expect, it } from 'vitest';
import { initValues, type InitOptions } from '../src/nn/init.js';
import { Rng } from '../src/rng.js';

// The paper's MLP shape (fan_in 784, hidden 512 here to keep it quick), D = 4 weight layers.
const LAYERS = [
  { fanIn: 784, fanOut: 512 },
  { fanIn: 512, fanOut: 512 },
  { fanIn: 512, fanOut: 512 },
  { fanIn: 512, fanOut: 1 },
];
const D = LAYERS.length;

function moments(x: Float32Array): { mean: number; variance: number } {
  let s = 0;
  for (const v of x) s += v;
  const mean = s / x.length;
  let q = 0;
  for (const v of x) q += (v - mean) ** 2;
  return { mean, variance: q / (x.length - 1) };
}

/** Expected variance and the standard error of the sample variance for n draws. */
function expected(opts: InitOptions, fanIn: number, fanOut: number, n: number): { variance: number; se: number } {
  switch (opts.scheme) {
    case 'he':
      return normal(2 / fanIn, n);
    case 'enhanced':
      return normal((2 / fanIn) * (opts.depthFactor ?? 1 / D), n);
    case 'xavier':
      return normal(2 / (fanIn + fanOut), n);
    case 'pytorch': {
      // U(±b): variance b²/3, fourth central moment b⁴/5, so Var(s²) ≈ (b⁴/5 − b⁴/9)/n.
      const b = 1 / Math.sqrt(fanIn);
      return { variance: (b * b) / 3, se: Math.sqrt((4 * b ** 4) / 45 / n) };
    }
  }
}

function normal(variance: number, n: number) {
  return { variance, se: variance * Math.sqrt(2 / (n - 1)) };
}

const SCHEMES: [string, InitOptions][] = [
  ['he', { scheme: 'he' }],
  ['enhanced (1/D)', { scheme: 'enhanced' }],
  ['enhanced, --depth-factor 0.5', { scheme: 'enhanced', depthFactor: 0.5 }],
  ['xavier', { scheme: 'xavier' }],
  ['pytorch', { scheme: 'pytorch' }],
];

describe('initial weight variance per layer matches each scheme', () => {
  it.each(SCHEMES)('%s', (_, opts) => {
    const rng = new Rng(7, 'init');
    for (const { fanIn, fanOut } of LAYERS) {
      const w = initValues({ role: 'weight', size: fanIn * fanOut, fanIn, fanOut }, opts, D, rng);
      const m = moments(w);
      const e = expected(opts, fanIn, fanOut, w.length);
      // Within 5 standard errors of the formula (a false alarm has probability below 1e-6).
      expect(Math.abs(m.variance - e.variance), `fan_in ${fanIn}: ${m.variance} vs ${e.variance}`).toBeLessThan(5 * e.se);
      expect(Math.abs(m.mean)).toBeLessThan(5 * Math.sqrt(e.variance / w.length));
      const bias = initValues({ role: 'bias', size: fanOut, fanIn, fanOut }, opts, D, rng);
      if (opts.scheme === 'pytorch') expect(Math.max(...bias.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(fanIn));
      else expect(bias.every((b) => b === 0)).toBe(true);
    }
  });

  it('the test tells the schemes apart: He’s sample variance is far from enhanced’s and from Xavier’s', () => {
    const { fanIn, fanOut } = LAYERS[1];
    const he = moments(initValues({ role: 'weight', size: fanIn * fanOut, fanIn, fanOut }, { scheme: 'he' }, D, new Rng(1, 'init')));
    const n = fanIn * fanOut;
    for (const other of [{ scheme: 'enhanced' }, { scheme: 'enhanced', depthFactor: 0.5 }, { scheme: 'xavier' }] as InitOptions[]) {
      const e = expected(other, fanIn, fanOut, n);
      expect(Math.abs(he.variance - e.variance)).toBeGreaterThan(50 * e.se);
    }
  });
});
