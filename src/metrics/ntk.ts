// The empirical neural tangent kernel K = J·Jᵀ (n×n) of a scalar-output MLP, without ever
// forming the Jacobian J (n × P): for a linear layer z_l = A_{l−1}·W_lᵀ + b_l the per-sample
// gradients are ∂f_i/∂W_l = Δ_l[i]ᵀ ⊗ A_{l−1}[i] and ∂f_i/∂b_l = Δ_l[i], with Δ_l = ∂f/∂z_l, so
//   K = Σ_l (Δ_l·Δ_lᵀ) ⊙ (A_{l−1}·A_{l−1}ᵀ + 1)        (the +1 is the bias term).
// Δ_l comes from a backward sweep with matmuls and activation masks, every product on the engine.
// Also: the identity ‖∇L‖² = rᵀKr/n² (for L = ½·mean r²) in float64, subset selection and
// kernel norms. No Node imports.
import { ConfigError, LimitError, ShapeError } from '../errors.js';
import { noGrad } from '../autograd/tape.js';
import { backward } from '../ops/backward.js';
import { Activation, Linear, type Sequential } from '../nn/layers.js';
import type { ActivationName } from '../ops/activation.js';
import { activation, activationBackward } from '../ops/activation.js';
import { accumulateInto, addScalar, full, mul, sub } from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { sumSquares } from '../ops/reduce.js';
import { Rng } from '../rng.js';
import { type Tensor, tidy } from '../tensor.js';
import type { ParameterSet } from '../nn/module.js';
import { mseLoss } from '../ops/loss.js';
import { lanczosGpu, type LanczosOptions, type LanczosResult } from './eigen.js';
import { arenaSumSquares, readScalars } from './norms.js';

/** One Linear layer of the MLP and the activation that follows it (none for the output layer). */
export interface MlpStage {
  linear: Linear;
  activation?: ActivationName;
}

/** The Sequential as Linear(+activation) stages; throws for anything the layerwise NTK does not cover. */
export function mlpStages(model: Sequential): MlpStage[] {
  const stages: MlpStage[] = [];
  for (const layer of model.layers) {
    if (layer instanceof Linear) stages.push({ linear: layer });
    else if (layer instanceof Activation && stages.length > 0 && stages[stages.length - 1].activation === undefined) {
      stages[stages.length - 1].activation = layer.kind;
    } else {
      throw new ConfigError(
        `The layerwise NTK supports Sequential(Linear, activation, Linear, ...) models; found ${layer.constructor.name} at an unsupported position. Use an MLP built by mlp().`,
      );
    }
  }
  if (stages.length === 0) throw new ConfigError('The layerwise NTK needs at least one Linear layer.');
  const last = stages[stages.length - 1];
  if (last.linear.outFeatures !== 1) {
    throw new ConfigError(`The NTK here is for a scalar output; the last layer has ${last.linear.outFeatures} outputs. Use outputs: 1.`);
  }
  if (last.activation) throw new ConfigError('The NTK here expects a linear output layer (no activation after the last Linear).');
  return stages;
}

export interface NtkResult {
  /** K = J·Jᵀ, [n, n]. */
  kernel: Tensor;
  /** f(x_i), [n, 1] (from the same forward pass). */
  outputs: Tensor;
}

/**
 * The empirical NTK of `model` on the rows of `x` ([n, d]). `inputGram` (x·xᵀ, [n, n]) may be
 * passed to reuse the first layer's Gram matrix across checks: the inputs never change.
 * Nothing is recorded on the autograd tape; the caller owns both returned tensors.
 */
export function mlpNtk(model: Sequential, x: Tensor, opts: { inputGram?: Tensor } = {}): NtkResult {
  const stages = mlpStages(model);
  if (x.rank !== 2 || x.shape[1] !== stages[0].linear.inFeatures) {
    throw new ShapeError(`mlpNtk: input [${x.shape}] does not match the first layer's ${stages[0].linear.inFeatures} features`);
  }
  const n = x.shape[0];
  const rt = x.rt;
  const limit = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
  if (n * n * 4 > limit) {
    throw new LimitError(`An NTK on ${n} samples needs ${((n * n * 4) / 2 ** 20).toFixed(0)} MiB in one binding, above this adapter's limit. Lower --ntk-samples.`);
  }
  if (opts.inputGram && (opts.inputGram.shape[0] !== n || opts.inputGram.shape[1] !== n)) {
    throw new ShapeError(`mlpNtk: inputGram is [${opts.inputGram.shape}], expected [${n}, ${n}]`);
  }
  return noGrad(() =>
    tidy(() => {
      // Forward, keeping each layer's input A_{l−1} and pre-activation z_l.
      const inputs: Tensor[] = [];
      const pre: Tensor[] = [];
      let a = x;
      for (const s of stages) {
        inputs.push(a);
        const w = s.linear.p(s.linear.weight);
        const b = s.linear.bias ? s.linear.p(s.linear.bias) : undefined;
        const z = matmul(a, w, { transB: true, bias: b });
        pre.push(z);
        a = s.activation ? activation(s.activation, z) : z;
      }
      const outputs = pre[pre.length - 1];
      // Backward sweep of ∂f/∂z_l for every sample at once: Δ_L = 1, Δ_{l−1} = act'(z_{l−1}) ⊙ (Δ_l·W_l).
      const kernel = full([n, n], 0, rt);
      let delta: Tensor = full([n, 1], 1, rt);
      for (let l = stages.length - 1; l >= 0; l--) {
        const s = stages[l];
        const gram = l === 0 && opts.inputGram ? opts.inputGram : matmul(inputs[l], inputs[l], { transB: true });
        const deltaGram = matmul(delta, delta, { transB: true });
        accumulateInto(kernel, mul(deltaGram, s.linear.bias ? addScalar(gram, 1) : gram));
        if (l > 0) {
          const g = matmul(delta, s.linear.p(s.linear.weight));
          const prevAct = stages[l - 1].activation;
          delta = prevAct ? activationBackward(prevAct, pre[l - 1], g) : g;
        }
      }
      return { kernel, outputs };
    }),
  );
}

/** The Gram matrix x·xᵀ of the (fixed) inputs, for NtkOptions.inputGram. */
export function inputGram(x: Tensor): Tensor {
  return noGrad(() => matmul(x, x, { transB: true }));
}

/** ‖A‖_F² and, when `reference` is given, ‖A − reference‖_F², as scalar tensors (one readback later). */
export function frobeniusSq(a: Tensor, reference?: Tensor): { normSq: Tensor; diffSq?: Tensor } {
  return noGrad(() => ({ normSq: sumSquares(a), diffSq: reference ? tidy(() => sumSquares(sub(a, reference))) : undefined }));
}

/** rᵀ·K·r in float64 for a row-major n×n K. */
export function quadraticForm(kernel: ArrayLike<number>, r: ArrayLike<number>): number {
  const n = r.length;
  if (kernel.length !== n * n) throw new ShapeError(`quadraticForm: ${kernel.length} kernel values for ${n} residuals`);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let row = 0;
    const base = i * n;
    for (let j = 0; j < n; j++) row += kernel[base + j] * r[j];
    total += r[i] * row;
  }
  return total;
}

export interface IdentityCheck {
  /** ‖∇L‖² from backpropagation. */
  gradNormSq: number;
  /** rᵀKr / n². */
  quadForm: number;
  /** |‖∇L‖² − rᵀKr/n²| / ‖∇L‖². */
  relError: number;
}

/**
 * The NTK identity for L = (1/2n)·Σ r_i²: ∇L = (1/n)·Jᵀr, so ‖∇L‖² = rᵀ(J·Jᵀ)r / n². Comparing a
 * backpropagated ‖∇L‖² with the kernel's quadratic form cross-checks the kernel.
 */
export function ntkIdentity(kernel: ArrayLike<number>, residuals: ArrayLike<number>, gradNormSq: number): IdentityCheck {
  const n = residuals.length;
  const quadForm = quadraticForm(kernel, residuals) / (n * n);
  return { gradNormSq, quadForm, relError: Math.abs(gradNormSq - quadForm) / Math.abs(gradNormSq) };
}

/**
 * A fixed seeded subset of min(k, n) sample indices, ascending (all of 0..n−1 when k ≥ n), by a
 * partial Fisher-Yates shuffle: the same seed gives the same subset on every platform.
 */
export function ntkSubset(n: number, k: number, seed: number): Int32Array {
  if (!(Number.isInteger(n) && n >= 1)) throw new ConfigError(`ntkSubset: the dataset has ${n} samples`);
  if (!(Number.isInteger(k) && k >= 2)) throw new ConfigError(`--ntk-samples must be an integer ≥ 2, got ${k}`);
  if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed, 'ntk-subset');
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, k).sort();
}

/** Rows `indices` of a row-major [n, cols] array. */
export function gatherRows(data: Float32Array, cols: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * cols);
  for (let r = 0; r < indices.length; r++) out.set(data.subarray(indices[r] * cols, (indices[r] + 1) * cols), r * cols);
  return out;
}

/**
 * The fields every `kind: "ntk"` row carries about one check (MLP and CNN alike): the loss on S,
 * the backprop identity, the spectrum and how Lanczos got there.
 */
export function ntkSpectrumFields(
  loss: number,
  c: { identity: IdentityCheck; lambdaMin: number; lambdaMax: number; lanczos: LanczosResult },
): Record<string, number> {
  return {
    loss,
    gradNormSq: c.identity.gradNormSq,
    quadForm: c.identity.quadForm,
    identityRelErr: c.identity.relError,
    lambdaMin: c.lambdaMin,
    lambdaMax: c.lambdaMax,
    cond: c.lambdaMax / c.lambdaMin,
    lanczosIterations: c.lanczos.iterations,
    lanczosResidualMin: c.lanczos.residualMin,
    lanczosConverged: c.lanczos.converged ? 1 : 0,
  };
}

export interface NtkCheck {
  samples: number;
  /** L_S = (1/2n)·Σ r_i² in float64 from the read-back residuals. */
  loss: number;
  residualNormSq: number;
  identity: IdentityCheck;
  lambdaMin: number;
  lambdaMax: number;
  lanczos: LanczosResult;
  /** Measured PL ratio ‖∇L_S‖² / (2·L_S) (L* = 0, the squared loss's minimum). */
  plRatio: number;
  /** λ_min(K)/n: the PL constant the NTK bound guarantees at this θ. */
  muBound: number;
  /** rᵀKr / (‖r‖²·λ_min): how far above the worst case the residual sits (≥ 1 up to rounding). */
  rayleighOverMin: number;
  /** The kernel itself when `keepKernel` (the caller disposes it), e.g. to compare with K_0. */
  kernel?: Tensor;
}

/**
 * Everything about the NTK at the current θ on the samples (x, y): ‖∇L‖² by backpropagation
 * (into the model's gradient arena, which is overwritten), K by `mlpNtk`, the identity check,
 * λ_min/λ_max by Lanczos on the engine, and the PL ratio against its bound λ_min/n.
 */
export async function ntkCheck(
  model: Sequential,
  set: ParameterSet,
  x: Tensor,
  y: Tensor,
  opts: { inputGram?: Tensor; lanczos?: LanczosOptions; keepKernel?: boolean } = {},
): Promise<NtkCheck> {
  const n = x.shape[0];
  if (y.size !== n) throw new ShapeError(`ntkCheck: ${y.size} targets for ${n} samples`);
  set.zeroGrad();
  const gradSq = tidy(() => {
    backward(mseLoss(model.forward(x), y.reshape([n, 1])));
    return arenaSumSquares(set.grads);
  });
  const { kernel, outputs } = mlpNtk(model, x, { inputGram: opts.inputGram });
  try {
    const [gradNormSq] = await readScalars([gradSq]);
    gradSq.dispose();
    const [kData, out, target] = await Promise.all([kernel.read(), outputs.read(), y.read()]);
    const r = Float64Array.from(out, (f, i) => f - target[i]);
    const residualNormSq = r.reduce((s, v) => s + v * v, 0);
    const loss = residualNormSq / (2 * n);
    const identity = ntkIdentity(kData, r, gradNormSq);
    const lanczos = await lanczosGpu((v) => matmul(v, kernel, { transB: true }), n, x.rt, opts.lanczos);
    return {
      samples: n,
      loss,
      residualNormSq,
      identity,
      lambdaMin: lanczos.min,
      lambdaMax: lanczos.max,
      lanczos,
      plRatio: gradNormSq / (2 * loss),
      muBound: lanczos.min / n,
      rayleighOverMin: identity.quadForm * n * n / (residualNormSq * lanczos.min),
      kernel: opts.keepKernel ? kernel.keep() : undefined,
    };
  } finally {
    outputs.dispose();
    if (!opts.keepKernel) kernel.dispose();
  }
}
