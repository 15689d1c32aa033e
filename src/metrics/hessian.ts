// Curvature of the loss for the smoothness side of Theorem 5.4: the extreme Hessian eigenvalues
// by Lanczos on Hessian-vector products, the products taken as central differences of exact
// (backpropagated) gradients: H·v ≈ (∇L(θ + εv) − ∇L(θ − εv)) / 2ε, exact for a quadratic and
// O(ε²) otherwise. For ReLU networks the Hessian is piecewise; ε small relative to ‖θ‖ keeps
// almost every unit on the same side of its kink. No Node imports.
import { ConfigError } from '../errors.js';
import { backward } from '../ops/backward.js';
import type { ParameterSet } from '../nn/module.js';
import type { Tensor } from '../tensor.js';
import { tidy } from '../tensor.js';
import { lanczosCpu } from './eigen.js';

/** The at-most-20-iteration budget per check that the theory check allows itself. */
export const MAX_HESSIAN_ITERATIONS = 20;

export interface HessianEstimate {
  /** Largest Ritz value: a lower bound on λ_max(H), within `residualMax` of an eigenvalue. */
  max: number;
  residualMax: number;
  /** Smallest Ritz value: an upper bound on λ_min(H) (coarse after few iterations). */
  minRitz: number;
  iterations: number;
  converged: boolean;
}

export interface HessianOptions {
  /** Lanczos iterations (1..20, default 20). */
  iterations?: number;
  /** Relative residual at which to stop early (default 1e-3). */
  tol?: number;
  seed?: number;
}

/** Extreme Hessian eigenvalues from a Hessian-vector product (largest algebraic first). */
export async function hessianExtremes(hvp: (v: Float64Array) => Promise<Float64Array> | Float64Array, dim: number, opts: HessianOptions = {}): Promise<HessianEstimate> {
  const iterations = opts.iterations ?? MAX_HESSIAN_ITERATIONS;
  if (!(Number.isInteger(iterations) && iterations >= 1 && iterations <= MAX_HESSIAN_ITERATIONS)) {
    throw new ConfigError(`Hessian Lanczos iterations must be an integer in 1..${MAX_HESSIAN_ITERATIONS}, got ${iterations}`);
  }
  const res = await lanczosCpu(hvp, dim, { maxIterations: iterations, tol: opts.tol ?? 1e-3, want: 'max', seed: opts.seed ?? 0, checkEvery: 1 });
  return { max: res.max, residualMax: res.residualMax, minRitz: res.min, iterations: res.iterations, converged: res.converged };
}

/** H·v by central differences of `gradient` around `theta` with step ε·v/‖v‖ (scaled back). */
export function centralDifferenceHvp(
  gradient: (theta: Float64Array) => Promise<Float64Array> | Float64Array,
  theta: Float64Array,
  eps: number,
): (v: Float64Array) => Promise<Float64Array> {
  if (!(eps > 0)) throw new ConfigError(`The finite-difference step must be > 0, got ${eps}`);
  return async (v) => {
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    if (norm === 0) return new Float64Array(v.length);
    const h = eps / norm;
    const plus = theta.map((t, i) => t + h * v[i]);
    const minus = theta.map((t, i) => t - h * v[i]);
    const gPlus = Float64Array.from(await gradient(plus));
    const gMinus = await gradient(minus);
    for (let i = 0; i < gPlus.length; i++) gPlus[i] = (gPlus[i] - gMinus[i]) / (2 * h);
    return gPlus;
  };
}

export interface ParameterGradientOracle {
  /** θ as stored (f32 values widened), in the order of set.names. */
  theta: Float64Array;
  /** ∇L at `point` (written into the parameter arena as f32), read back as float64. */
  gradientAt(point: Float64Array): Promise<Float64Array>;
  /** Put the original f32 parameters back, bit for bit. */
  restore(): void;
}

/**
 * A gradient oracle over a built model's parameter arena: `loss()` must run a forward pass and
 * return the scalar loss; backward accumulates into the gradient arena (zeroed first). Call
 * restore() when done: the arena holds the last evaluated point until then.
 */
export async function parameterGradientOracle(set: ParameterSet, loss: () => Tensor): Promise<ParameterGradientOracle> {
  const saved = await set.params.readAll();
  const sizes = set.names.map((n) => saved.get(n)!.length);
  const dim = sizes.reduce((a, b) => a + b, 0);
  const theta = new Float64Array(dim);
  let off = 0;
  for (const name of set.names) {
    theta.set(saved.get(name)!, off);
    off += saved.get(name)!.length;
  }
  return {
    theta,
    async gradientAt(point) {
      if (point.length !== dim) throw new ConfigError(`gradientAt: ${point.length} values for ${dim} parameters`);
      let o = 0;
      set.names.forEach((name, i) => {
        set.params.write(name, Float32Array.from(point.subarray(o, o + sizes[i])));
        o += sizes[i];
      });
      set.zeroGrad();
      tidy(() => backward(loss()));
      const grads = await set.grads.readAll();
      const out = new Float64Array(dim);
      o = 0;
      for (const name of set.names) {
        out.set(grads.get(name)!, o);
        o += grads.get(name)!.length;
      }
      return out;
    },
    restore() {
      for (const name of set.names) set.params.write(name, saved.get(name)!);
    },
  };
}

/** Default finite-difference step: 1e-3·max(‖θ‖, 1) (relative, so it scales with the model). */
export function defaultHvpStep(theta: Float64Array): number {
  let s = 0;
  for (const x of theta) s += x * x;
  return 1e-3 * Math.max(Math.sqrt(s), 1);
}
