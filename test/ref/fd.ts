// Central finite differences in float64, to check the reference's own VJPs.
import type { RefArray } from './array.js';

/**
 * ∂f/∂x by central differences, f scalar. The step is scaled to |x| so that rounding
 * (≈1e-16/h) and truncation (≈h²) errors stay near 1e-10 for smooth f.
 */
export function numericGradient(f: (x: RefArray) => number, x: RefArray, h = 1e-5): Float64Array {
  const g = new Float64Array(x.data.length);
  for (let i = 0; i < x.data.length; i++) {
    const orig = x.data[i];
    const step = h * Math.max(1, Math.abs(orig));
    x.data[i] = orig + step;
    const fp = f(x);
    x.data[i] = orig - step;
    const fm = f(x);
    x.data[i] = orig;
    g[i] = (fp - fm) / (2 * step);
  }
  return g;
}
