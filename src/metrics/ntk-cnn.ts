// The empirical NTK of a classifier's C outputs (a CNN with batch norm, paper §6.3 as a
// diagnostic): K = J·Jᵀ with J the Jacobian of the |S|·C outputs f_c(x_i) with respect to all
// parameters, the model in evaluation mode (batch norm uses its running statistics, so every
// sample's outputs depend on that sample alone and K is a function of θ and the buffers).
//
// J is materialized on the engine: one forward + backward per (sample, class) output at batch
// 1, each gradient arena copied into row i·C + c of J. J is stored as column blocks (parameter
// ranges) that each fit one storage binding, and K = Σ_blocks J_b·J_bᵀ. When all of J does not fit
// the memory budget the columns are done in several passes, each repeating the backward passes.
//
// Losses on S (L_S = (1/|S|)·Σ_i ℓ_i with per-sample ℓ_i of the logits f_i ∈ R^C):
//   mse: ℓ_i = ½·‖f_i − onehot(y_i)‖², i.e. L_S = ½·mean over samples of ‖logits − onehot‖²
//        (= C × the engine's mseLoss, which averages over all |S|·C entries);
//   ce:  ℓ_i = −log softmax(f_i)[y_i].
// Either way ∇L_S = Jᵀg/|S| with g_i = ∂ℓ_i/∂f_i (mse: g = r = f − y; ce: g = softmax(f) − onehot),
// so ‖∇L_S‖² = gᵀKg/|S|² is an exact identity that cross-checks K against backprop.
// PL bound (mse only): L_S = ‖r‖²/(2|S|), hence
//   ‖∇L_S‖² = rᵀKr/|S|² ≥ λ_min(K)·‖r‖²/|S|² = (λ_min(K)/|S|)·2·L_S,
// i.e. ‖∇L_S‖²/(2L_S) ≥ λ_min(K)/|S| — the constant of Theorem 5.1 with n = |S| (K is |S|C × |S|C).
// With the all-entries mean ½·mean(r²) instead, the bound would be λ_min(K)/(|S|·C).
// With cross-entropy no such bound follows (‖g‖² is not tied to ℓ), so K is a diagnostic only.
// No Node imports.
import { noGrad } from '../autograd/tape.js';
import { backward } from '../ops/backward.js';
import { ConfigError, LimitError, ShapeError } from '../errors.js';
import { Arena } from '../nn/arena.js';
import type { Module, ParameterSet } from '../nn/module.js';
import { accumulateInto, copy, full, mulScalar } from '../ops/elementwise.js';
import { mseLoss, softmaxCrossEntropy } from '../ops/loss.js';
import { matmul } from '../ops/matmul.js';
import { empty, fromData, type Tensor, tidy } from '../tensor.js';
import { lanczosGpu, type LanczosOptions, type LanczosResult } from './eigen.js';
import { arenaDistanceSq, arenaSumSquares, readScalars } from './norms.js';
import { frobeniusSq, ntkIdentity, ntkSpectrumFields, type IdentityCheck } from './ntk.js';
import type { NtkRow } from './schema.js';

export type ClassifierLoss = 'ce' | 'mse';
export const CLASSIFIER_LOSSES: readonly ClassifierLoss[] = ['ce', 'mse'];

/** Default budget for the materialized Jacobian (all column blocks of one pass together). */
export const DEFAULT_MAX_JACOBIAN_BYTES = 256 * 2 ** 20;

/**
 * Columns (parameters) per block of J. Each block's J_b·J_bᵀ sums this many f32 products per
 * entry and the blocks are then added, which keeps K accurate: on a ResNet-8 (78k parameters,
 * 80 outputs) the identity error was 2.8e-5 with one block per chunk, 5.5e-7 with 4096 columns
 * and 8.6e-8 with 1024.
 */
export const DEFAULT_BLOCK_COLUMNS = 1024;

/** One-hot rows [n·classes] of labels 0..classes−1 (stored as floats). */
export function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < classes)) throw new ShapeError(`oneHot: label ${y} at ${i} is not a class 0..${classes - 1}`);
    out[i * classes + y] = 1;
  }
  return out;
}

/** What the loss compares the logits with: class indices [n] for ce, one-hot rows [n, C] for mse. */
export function lossTargets(kind: ClassifierLoss, labels: ArrayLike<number>, classes: number, rt: Tensor['rt']): Tensor {
  return kind === 'mse' ? fromData(oneHot(labels, classes), [labels.length, classes], rt) : fromData(Float32Array.from(labels), [labels.length], rt);
}

/**
 * The training loss of a classifier on logits [n, C]: softmax cross-entropy, or
 * ½·mean over samples of ‖logits − onehot‖² (mseLoss averages over all n·C entries, hence ×C).
 */
export function classifierLoss(kind: ClassifierLoss, logits: Tensor, targets: Tensor): Tensor {
  if (kind === 'ce') return softmaxCrossEntropy(logits, targets);
  if (logits.rank !== 2 || targets.size !== logits.size) {
    throw new ShapeError(`classifierLoss(mse): logits [${logits.shape}] need one-hot targets of the same shape, got [${targets.shape}]`);
  }
  return mulScalar(mseLoss(logits, targets), logits.shape[1]);
}

/** A parameter range [start, start + count) of one arena chunk: the columns of one block of J. */
export interface JacobianBlock {
  chunk: number;
  /** First float of the range inside the chunk. */
  start: number;
  count: number;
}

/**
 * Column blocks of J over the gradient arena's chunks (`chunkFloats[i]` floats each, alignment
 * padding included: those columns are 0 and add nothing to K), each block [rows, count] within
 * `maxBindingBytes` and `maxBlockColumns`, grouped into passes of at most `budgetBytes` of J each.
 */
export function planJacobian(chunkFloats: readonly number[], rows: number, maxBindingBytes: number, budgetBytes: number, maxBlockColumns = Infinity): JacobianBlock[][] {
  const perBlock = Math.min(Math.floor(maxBindingBytes / (rows * 4)), maxBlockColumns);
  const perPass = Math.floor(budgetBytes / (rows * 4));
  if (perBlock < 1 || perPass < 1) {
    throw new LimitError(`A Jacobian row block of ${rows} outputs does not fit one storage binding or the memory budget. Lower --ntk-samples.`);
  }
  const passes: JacobianBlock[][] = [[]];
  let inPass = 0;
  chunkFloats.forEach((floats, chunk) => {
    for (let start = 0; start < floats; ) {
      if (inPass === perPass) {
        passes.push([]);
        inPass = 0;
      }
      const count = Math.min(perBlock, floats - start, perPass - inPass);
      passes[passes.length - 1].push({ chunk, start, count });
      inPass += count;
      start += count;
    }
  });
  return passes;
}

/** The samples S on the GPU: the batch (for the loss), each sample alone (for J), the targets. */
export class NtkSamples {
  readonly batch: Tensor;
  readonly single: Tensor[];
  readonly targets: Tensor;
  /** Output seeds e_c ([1, C]) for the per-output backward passes. */
  readonly seeds: Tensor[];
  readonly count: number;

  constructor(
    rt: Tensor['rt'],
    x: Float32Array,
    /** [n, ...] of x (e.g. [n, 3, 32, 32]). */
    readonly shape: readonly number[],
    readonly labels: Float32Array,
    readonly classes: number,
    readonly loss: ClassifierLoss,
  ) {
    const n = shape[0];
    const per = x.length / n;
    if (!Number.isInteger(per) || labels.length !== n) throw new ShapeError(`NtkSamples: ${x.length} values and ${labels.length} labels for shape [${shape}]`);
    this.count = n;
    // Kept: the subset is fixed for the whole run, uploaded once.
    this.batch = fromData(x, shape, rt).keep();
    this.single = Array.from({ length: n }, (_, i) => fromData(x.subarray(i * per, (i + 1) * per), [1, ...shape.slice(1)], rt).keep());
    this.targets = lossTargets(loss, labels, classes, rt).keep();
    this.seeds = Array.from({ length: classes }, (_, c) => fromData(oneHot([c], classes), [1, classes], rt).keep());
  }

  dispose(): void {
    for (const t of [this.batch, ...this.single, this.targets, ...this.seeds]) t.dispose();
  }
}

/** Run fn with every module of `model` in eval mode; each module's own mode is restored afterwards. */
export async function inEvalMode<T>(model: Module, fn: () => Promise<T>): Promise<T> {
  const modules = model.modules();
  const modes = modules.map((m) => m.training);
  model.eval();
  try {
    return await fn();
  } finally {
    modules.forEach((m, i) => (m.training = modes[i]));
  }
}

/**
 * K = J·Jᵀ ([n·C, n·C], row i·C + c is output c of sample i) of `model` in its current mode
 * (call it in eval mode: in training mode batch norm would be run on single images). Overwrites
 * the gradient arena. Returns the kernel (caller disposes) and the number of column passes.
 */
export function outputKernel(model: Module, set: ParameterSet, samples: NtkSamples, opts: { maxJacobianBytes?: number; blockColumns?: number } = {}): { kernel: Tensor; passes: number } {
  const rt = set.rt;
  const n = samples.count;
  const C = samples.classes;
  const rows = n * C;
  const binding = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
  if (rows * rows * 4 > binding) {
    throw new LimitError(`The NTK of ${n} samples × ${C} outputs needs ${((rows * rows * 4) / 2 ** 20).toFixed(0)} MiB in one binding, above this adapter's limit. Lower --ntk-samples.`);
  }
  const chunkFloats = set.grads.layout.chunkBytes.map((b) => Math.ceil(b / 4));
  const passes = planJacobian(chunkFloats, rows, binding, opts.maxJacobianBytes ?? DEFAULT_MAX_JACOBIAN_BYTES, opts.blockColumns ?? DEFAULT_BLOCK_COLUMNS);
  const kernel = full([rows, rows], 0, rt);
  for (const pass of passes) {
    const blocks = pass.map((b) => ({ ...b, tensor: empty([rows, b.count], rt) }));
    try {
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < C; c++) {
          set.zeroGrad();
          // ∂f_c(x_i)/∂θ: backward of the outputs with seed e_c.
          tidy(() => backward(model.forward(samples.single[i]), samples.seeds[c]));
          const row = i * C + c;
          for (const b of blocks) {
            rt.copy(
              { buffer: set.grads.buffers[b.chunk], offset: b.start * 4, size: b.count * 4 },
              { buffer: b.tensor.storage.buffer, offset: b.tensor.storage.byteOffset + row * b.count * 4, size: b.count * 4 },
            );
          }
        }
      }
      noGrad(() => {
        for (const b of blocks) tidy(() => accumulateInto(kernel, matmul(b.tensor, b.tensor, { transB: true })));
      });
    } finally {
      for (const b of blocks) b.tensor.dispose();
    }
  }
  set.zeroGrad();
  return { kernel, passes: passes.length };
}

export interface CnnNtkCheck {
  samples: number;
  classes: number;
  loss: ClassifierLoss;
  /** L_S in float64 from the read-back logits (eval mode). */
  lossValue: number;
  /** ‖g‖² of the loss derivative g = ∂ℓ/∂f (for mse the residual r = f − y). */
  residualNormSq: number;
  identity: IdentityCheck;
  lambdaMin: number;
  lambdaMax: number;
  lanczos: LanczosResult;
  /** mse only (NaN for ce): measured ‖∇L_S‖²/(2·L_S) (L* = 0). */
  plRatio: number;
  /** mse only: λ_min(K)/|S|, the PL constant of the bound. */
  muBound: number;
  /** mse only: rᵀKr/(‖r‖²·λ_min). */
  rayleighOverMin: number;
  passes: number;
  kernel?: Tensor;
}

/** Per-sample loss terms and their derivative g = ∂ℓ/∂f in float64, from logits [n·C]. */
export function lossAndDerivative(kind: ClassifierLoss, logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number): { loss: number; g: Float64Array } {
  const n = labels.length;
  const g = new Float64Array(n * classes);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (kind === 'mse') {
      for (let c = 0; c < classes; c++) {
        const r = logits[i * classes + c] - (c === y ? 1 : 0);
        g[i * classes + c] = r;
        total += 0.5 * r * r;
      }
    } else {
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, logits[i * classes + c]);
      let z = 0;
      for (let c = 0; c < classes; c++) z += Math.exp(logits[i * classes + c] - max);
      for (let c = 0; c < classes; c++) g[i * classes + c] = Math.exp(logits[i * classes + c] - max) / z - (c === y ? 1 : 0);
      total += max + Math.log(z) - logits[i * classes + y];
    }
  }
  return { loss: total / n, g };
}

/**
 * Everything about the output NTK at the current θ on S, with the model in eval mode (its
 * modes are restored): ‖∇L_S‖² by backprop, K by `outputKernel`, the identity check,
 * λ_min/λ_max by Lanczos on the engine, and for mse the PL ratio against λ_min(K)/|S|.
 * Overwrites the gradient arena (zeroed on return); parameters and batch-norm buffers are untouched.
 */
export async function cnnNtkCheck(
  model: Module,
  set: ParameterSet,
  samples: NtkSamples,
  opts: { lanczos?: LanczosOptions; keepKernel?: boolean; maxJacobianBytes?: number } = {},
): Promise<CnnNtkCheck> {
  return inEvalMode(model, async () => {
    const n = samples.count;
    const C = samples.classes;
    set.zeroGrad();
    const [gradSq, logits] = tidy(() => {
      const out = model.forward(samples.batch);
      if (out.rank !== 2 || out.shape[0] !== n || out.shape[1] !== C) throw new ShapeError(`cnnNtkCheck: the model gives [${out.shape}], expected [${n}, ${C}]`);
      backward(classifierLoss(samples.loss, out, samples.targets));
      return [arenaSumSquares(set.grads), out];
    });
    const { kernel, passes } = outputKernel(model, set, samples, { maxJacobianBytes: opts.maxJacobianBytes });
    try {
      const [gradNormSq] = await readScalars([gradSq]);
      gradSq.dispose();
      const [kData, f] = await Promise.all([kernel.read(), logits.read()]);
      logits.dispose();
      const { loss, g } = lossAndDerivative(samples.loss, f, samples.labels, C);
      const residualNormSq = g.reduce((s, v) => s + v * v, 0);
      // ntkIdentity divides by the length of g (n·C); the identity is over |S| = n samples.
      const raw = ntkIdentity(kData, g, gradNormSq);
      const quadForm = raw.quadForm * C * C;
      const identity: IdentityCheck = { gradNormSq, quadForm, relError: Math.abs(gradNormSq - quadForm) / Math.abs(gradNormSq) };
      const lanczos = await lanczosGpu((v) => matmul(v, kernel, { transB: true }), n * C, set.rt, opts.lanczos);
      const mse = samples.loss === 'mse';
      return {
        samples: n,
        classes: C,
        loss: samples.loss,
        lossValue: loss,
        residualNormSq,
        identity,
        lambdaMin: lanczos.min,
        lambdaMax: lanczos.max,
        lanczos,
        plRatio: mse ? gradNormSq / (2 * loss) : NaN,
        muBound: mse ? lanczos.min / n : NaN,
        rayleighOverMin: mse ? (quadForm * n * n) / (residualNormSq * lanczos.min) : NaN,
        passes,
        kernel: opts.keepKernel ? kernel.keep() : undefined,
      };
    } finally {
      if (!logits.isDisposed) logits.dispose();
      if (!opts.keepKernel) kernel.dispose();
      set.zeroGrad();
    }
  });
}

// ------------------------------------------------------------------ probe along a run

export interface CnnNtkProbeOptions {
  /** Check every k epochs (and at the last epoch). */
  every: number;
  /** Last epoch of the run (gets a check even off the k grid). */
  epochs: number;
  /** 1 when S is the whole training set. */
  coversTrainingSet: boolean;
  maxJacobianBytes?: number;
  log?: (message: string) => void;
}

interface ProbeBaseline {
  k0: Tensor;
  k0FroSq: number;
  lambdaMin0: number;
  theta0Norm: number;
}

/**
 * The output-NTK checks of a CNN run (fig3's --ntk-every): `kind: "ntk"` rows at epochs 0, k,
 * 2k, … and the last, each at θ after that many epochs. K_0 is always measured at θ_0 with the
 * batch-norm buffers at their initial values (swapped in on a resumed run, then restored), so a
 * resumed run's rows equal an uninterrupted run's. Never changes parameters, buffers or modes.
 */
export class CnnNtkProbe {
  private baseline: ProbeBaseline | undefined;

  constructor(
    readonly samples: NtkSamples,
    readonly opts: CnnNtkProbeOptions,
  ) {
    if (!(Number.isInteger(opts.every) && opts.every >= 1)) throw new ConfigError(`--ntk-every must be an integer ≥ 1 to measure, got ${opts.every}`);
  }

  isCheckEpoch(epoch: number): boolean {
    return epoch % this.opts.every === 0 || epoch === this.opts.epochs;
  }

  async measure(epoch: number, model: Module, set: ParameterSet, initial: Arena): Promise<NtkRow> {
    const started = performance.now();
    const n = this.samples.count;
    const jac = { maxJacobianBytes: this.opts.maxJacobianBytes };
    const check = await cnnNtkCheck(model, set, this.samples, { ...jac, keepKernel: true });
    const kernel = check.kernel!;
    let kernelDriftSq: number;
    let driftSq: number;
    let base: ProbeBaseline;
    try {
      base = this.baseline ?? (this.baseline = epoch === 0 ? await this.baselineFrom(kernel, check.lambdaMin, initial) : await this.measureBaseline(model, set, initial));
      const { diffSq } = frobeniusSq(kernel, base.k0);
      const dist = arenaDistanceSq(set.params, initial);
      [kernelDriftSq, driftSq] = await readScalars([diffSq!, dist]);
      diffSq!.dispose();
      dist.dispose();
    } finally {
      kernel.dispose();
    }
    const mse = this.samples.loss === 'mse';
    const drift = Math.sqrt(Math.max(driftSq, 0));
    const row: NtkRow = {
      kind: 'ntk',
      epoch,
      model: 'cnn',
      lossKind: this.samples.loss,
      bnMode: 'eval',
      samples: n,
      outputs: this.samples.classes,
      kernelSize: n * this.samples.classes,
      parameters: set.count(),
      coversTrainingSet: this.opts.coversTrainingSet ? 1 : 0,
      ...ntkSpectrumFields(check.lossValue, check),
      lambdaMin0: base.lambdaMin0,
      lambdaMinRatio: check.lambdaMin / base.lambdaMin0,
      kernelDrift: Math.sqrt(Math.max(kernelDriftSq, 0) / base.k0FroSq),
      drift,
      driftRel: drift / base.theta0Norm,
      jacobianPasses: check.passes,
      timeMs: Math.round(performance.now() - started),
    };
    if (mse) {
      const muBound0 = base.lambdaMin0 / n;
      Object.assign(row, {
        muBound: check.muBound,
        muBound0,
        plRatio: check.plRatio,
        slack: check.plRatio / muBound0,
        slackLocal: check.plRatio / check.muBound,
        rayleighOverMin: check.rayleighOverMin,
      });
    }
    this.opts.log?.(
      `NTK check @${epoch} (eval-mode BN, ${this.samples.loss}): λ_min(K)=${check.lambdaMin.toExponential(3)} λ_max(K)=${check.lambdaMax.toExponential(3)}` +
        (mse ? ` PL ratio ${check.plRatio.toExponential(3)} vs bound λ_min/|S| ${check.muBound.toExponential(3)}` : '') +
        ` identity err ${check.identity.relError.toExponential(1)} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    return row;
  }

  /** K_0's copy (the caller keeps its own), ‖K_0‖_F² and ‖θ_0‖. */
  private async baselineFrom(k0: Tensor, lambdaMin0: number, initial: Arena): Promise<ProbeBaseline> {
    const k0Copy = noGrad(() => copy(k0)).keep();
    const fro = frobeniusSq(k0Copy);
    const t0 = arenaSumSquares(initial);
    const [k0FroSq, theta0Sq] = await readScalars([fro.normSq, t0]);
    fro.normSq.dispose();
    t0.dispose();
    return { k0: k0Copy, k0FroSq, lambdaMin0, theta0Norm: Math.sqrt(theta0Sq) };
  }

  /** K_0 at θ_0 and the initial buffers, measured after the run has moved on (a resume). */
  private async measureBaseline(model: Module, set: ParameterSet, initial: Arena): Promise<ProbeBaseline> {
    const rt = set.rt;
    const saved = new Arena(rt, set.params.layout, 'ntk-theta');
    saved.copyFrom(set.params);
    set.params.copyFrom(initial);
    const buffers = model.namedBuffers().filter(([, b]) => b.tensor !== undefined);
    const savedBuffers = buffers.map(([, b]) => noGrad(() => copy(b.tensor!)).keep());
    for (const [, b] of buffers) rt.write(b.tensor!.storage.buffer, b.tensor!.storage.byteOffset, new Float32Array(b.tensor!.size).fill(b.initial));
    try {
      const c0 = await cnnNtkCheck(model, set, this.samples, { keepKernel: true, maxJacobianBytes: this.opts.maxJacobianBytes });
      try {
        return await this.baselineFrom(c0.kernel!, c0.lambdaMin, initial);
      } finally {
        c0.kernel!.dispose();
      }
    } finally {
      set.params.copyFrom(saved);
      saved.dispose();
      buffers.forEach(([, b], i) => rt.copy(savedBuffers[i].region(), b.tensor!.region()));
      for (const t of savedBuffers) t.dispose();
    }
  }

  dispose(): void {
    this.baseline?.k0.dispose();
    this.baseline = undefined;
    this.samples.dispose();
  }
}
