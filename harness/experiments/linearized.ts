// --linearized on an MLP run: before the first update, build K₀ at θ₀ on the run's training
// samples (all n, or the largest stratified subset that fits the memory budget, said in one
// line), iterate the linear recursion for the run's E epochs on the engine, and run Lanczos
// from r₀ for the spectral account. Writes `linearized-info`, `linearized-node` and
// `linearized` rows (docs/metrics.md). Training is untouched: nothing here writes parameters,
// gradients, the optimizer or any random stream the run uses. Platform neutral (the page
// runs it too).
import { ConfigError } from '../../src/errors.js';
import {
  blockedNtk,
  blockResiduals,
  iterateLinearized,
  lanczosQuadrature,
  largestFittingSamples,
  linearizedMemory,
  mlpDims,
  quadratureCurve,
  spectralAccount,
  type NtkBlocks,
} from '../../src/metrics/linearized.js';
import type { MetricRow } from '../../src/metrics/schema.js';
import { Rng } from '../../src/rng.js';
import { fromData, type Tensor, tidy } from '../../src/tensor.js';
import { stratifiedCounts } from '../data/mnist-core.js';
import type { MlpRunConfig } from './mlp-config.js';
import type { MlpTrainState } from './mlp-train.js';

export interface LinearizedOptions {
  lr: number;
  epochs: number;
  seed: number;
  /** Device memory budget for the build (bytes). */
  budgetBytes: number;
  /** Cap on rows per K₀ block (tests; default: what one binding holds). */
  blockRows?: number;
  /** Lanczos steps (default min(n, max(E + 1, 64), 400): exact for the whole curve when E < m). */
  lanczosSteps?: number;
  log?: (message: string) => void;
}

/** Most Lanczos steps by default: each is a GPU matrix-vector product and an O(m·n) reorthogonalization. */
const MAX_LANCZOS_STEPS = 400;

/**
 * A seeded subset of m sample indices (ascending) stratified by target value: each distinct y
 * (a class) keeps its share by largest remainder. Targets with more than 64 distinct values
 * (regression) are treated as one class.
 */
export function stratifiedSampleSubset(y: ArrayLike<number>, m: number, seed: number): Int32Array {
  const n = y.length;
  if (m >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const byValue = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = byValue.get(y[i]) ?? [];
    list.push(i);
    byValue.set(y[i], list);
  }
  const classes = byValue.size <= 64 ? [...byValue.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v) : [Array.from({ length: n }, (_, i) => i)];
  const counts = stratifiedCounts(
    classes.map((c) => c.length),
    m,
  );
  const rng = new Rng(seed, 'linearized-subset');
  const chosen: number[] = [];
  classes.forEach((c, k) => {
    const perm = rng.permutation(c.length);
    for (let j = 0; j < counts[k]; j++) chosen.push(c[perm[j]]);
  });
  return Int32Array.from(chosen.sort((a, b) => a - b));
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 24 ? 1 : 0)} MiB`;
}

/** K₀·v/n on the engine for a float64 vector (one upload, one blockwise product, one readback). */
function kernelOperator(kernel: NtkBlocks, rt: Tensor['rt']): (v: Float64Array) => Promise<Float64Array> {
  return async (v) => {
    const n = kernel.n;
    const parts = tidy(() => {
      const vs = kernel.ranges.map((r) => fromData(Float32Array.from(v.subarray(r.start, r.start + r.rows)), [1, r.rows], rt));
      return kernel.apply(vs);
    });
    try {
      const out = new Float64Array(n);
      const read = await Promise.all(parts.map((p) => p.read()));
      kernel.ranges.forEach((r, i) => {
        for (let k = 0; k < r.rows; k++) out[r.start + k] = read[i][k] / n;
      });
      return out;
    } finally {
      for (const p of parts) p.dispose();
    }
  };
}

/**
 * The linearized account of the run in `s`, at its current parameters (θ₀ when called before
 * the first update): every row to write. GPU memory is released before it returns.
 */
export async function linearizedRows(s: MlpTrainState, o: LinearizedOptions): Promise<MetricRow[]> {
  const rt = s.set.rt;
  const n = s.data.n;
  const dims = mlpDims(s.data.d, s.config.width, s.config.depth);
  const limit = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
  const full = linearizedMemory(n, dims, limit, o.blockRows);
  const used = largestFittingSamples(n, dims, limit, o.budgetBytes, o.blockRows);
  if (used < 2) {
    throw new ConfigError(`--linearized: even 2 samples need more than the ${mib(o.budgetBytes)} budget for this model; raise --linearized-memory.`);
  }
  const mem = linearizedMemory(used, dims, limit, o.blockRows);
  let x = s.x;
  let y = s.y;
  if (used < n) {
    o.log?.(
      `linearized: K₀ on all ${n} samples needs ${mib(full.totalBytes)} (K₀ ${mib(full.kernelBytes)}, layer activations and backprop signals ${mib(full.factorBytes)}), ` +
        `above the --linearized-memory budget of ${mib(o.budgetBytes)}; using the largest stratified subset that fits, n_used = ${used}.`,
    );
    const idx = stratifiedSampleSubset(s.data.y, used, o.seed);
    const xs = new Float32Array(used * s.data.d);
    const ys = new Float32Array(used);
    idx.forEach((src, k) => {
      xs.set(s.data.x.subarray(src * s.data.d, (src + 1) * s.data.d), k * s.data.d);
      ys[k] = s.data.y[src];
    });
    x = fromData(xs, [used, s.data.d], rt);
    y = fromData(ys, [used, 1], rt);
  }
  let kernel: NtkBlocks | undefined;
  let r0: Tensor[] = [];
  // Kernel choices are pinned per shape class at first use, from the first shape seen: the
  // build's shapes must not decide the kernels (and so the summation order) training gets.
  const pinnedBefore = new Set(rt.kernelChoices.keys());
  try {
    const buildStart = performance.now();
    const built = blockedNtk(s.model, x, { blockRows: mem.blockRows });
    kernel = built.kernel;
    r0 = blockResiduals(built.outputs, y, kernel.ranges);
    for (const t of built.outputs) t.dispose();
    const r0Parts = await Promise.all(r0.map((t) => t.read()));
    const buildMs = performance.now() - buildStart;
    const r0Host = new Float64Array(used);
    kernel.ranges.forEach((r, i) => r0Host.set(r0Parts[i], r.start));

    const iterStart = performance.now();
    const curve = await iterateLinearized(kernel, r0, o.lr, o.epochs);
    const iterateMs = performance.now() - iterStart;

    const lanczosStart = performance.now();
    const steps = o.lanczosSteps ?? Math.min(used, Math.max(o.epochs + 1, 64), MAX_LANCZOS_STEPS);
    const measure = await lanczosQuadrature(kernelOperator(kernel, rt), r0Host, steps);
    const lanczosMs = performance.now() - lanczosStart;
    const account = spectralAccount(measure, o.lr, used, o.epochs);
    const quad = quadratureCurve(measure, o.lr, used, o.epochs);
    let quadDiff = 0;
    for (let t = 0; t <= o.epochs; t++) quadDiff = Math.max(quadDiff, Math.abs(quad[t] - curve[t]) / Math.abs(curve[t]));

    o.log?.(
      `linearized: K₀ on ${used} samples (${mem.blocks}×${mem.blocks} blocks of ≤ ${mem.blockRows} rows, ${mib(mem.kernelBytes)}) built in ${(buildMs / 1000).toFixed(2)} s, ` +
        `${o.epochs} epochs iterated in ${(iterateMs / 1000).toFixed(2)} s, ${measure.steps} Lanczos steps in ${(lanczosMs / 1000).toFixed(2)} s; ` +
        `ηλ_max = ${account.etaLambdaMax.toPrecision(4)}, predicted final loss ${curve[o.epochs].toExponential(4)}, ` +
        `${(100 * account.slowFraction).toFixed(1)} % of the initial loss cannot converge within ${o.epochs} epochs`,
    );
    if (!(account.etaLambdaMax < 2)) {
      o.log?.(`linearized: ηλ_max = ${account.etaLambdaMax.toPrecision(4)} ≥ 2: the linearized GD diverges along the top eigenvector at this learning rate.`);
    }
    const rows: MetricRow[] = [
      {
        kind: 'linearized-info',
        epoch: 0,
        samples: used,
        trainingSamples: n,
        lr: o.lr,
        epochs: o.epochs,
        blockRows: mem.blockRows,
        blocks: mem.blocks,
        kernelBytes: mem.kernelBytes,
        heldBytes: mem.totalBytes,
        budgetBytes: o.budgetBytes,
        initialLoss: measure.residualNormSq / (2 * used),
        lambdaMax: account.lambdaMax,
        lambdaMaxResidual: measure.maxResidual,
        etaLambdaMax: account.etaLambdaMax,
        lambdaHalf: account.lambdaHalf,
        slowFraction: account.slowFraction,
        predictedRate: account.rateAtEnd,
        quadratureFinalLoss: account.finalLoss,
        quadratureMaxRelDiff: quadDiff,
        lanczosSteps: measure.steps,
        lanczosExhausted: measure.exhausted ? 1 : 0,
        buildMs: Math.round(buildMs),
        iterateMs: Math.round(iterateMs),
        lanczosMs: Math.round(lanczosMs),
      },
    ];
    measure.nodes.forEach((lambda, index) => rows.push({ kind: 'linearized-node', epoch: 0, index, lambda, weight: measure.weights[index] }));
    curve.forEach((loss, epoch) => rows.push({ kind: 'linearized', epoch, loss }));
    return rows;
  } finally {
    for (const key of [...rt.kernelChoices.keys()]) if (!pinnedBefore.has(key)) rt.kernelChoices.delete(key);
    kernel?.dispose();
    for (const t of r0) t.dispose();
    if (x !== s.x) x.dispose();
    if (y !== s.y) y.dispose();
  }
}

type Measure = (epoch: number, s: MlpTrainState) => Promise<MetricRow[]>;

/**
 * The measure hook of --linearized: the whole account at epoch 0, before the first update.
 * A run resumed from a checkpoint already has these rows (every checkpoint comes after
 * epoch 0), so later epochs add nothing.
 */
export function linearizedMeasure(config: MlpRunConfig, log?: (message: string) => void): Measure | undefined {
  if (!config.linearized) return undefined;
  if (config.loss !== 'mse') throw new ConfigError('--linearized needs --loss mse.');
  const opts: LinearizedOptions = { lr: config.lr, epochs: config.epochs, seed: config.seed, budgetBytes: config.linearized.memoryMiB * 2 ** 20, log };
  return async (epoch, s) => (epoch === 0 ? linearizedRows(s, opts) : []);
}

/** `factory`'s measure hook (e.g. the theory checks) followed by --linearized's, for one run. */
export function withLinearized(
  factory: (config: MlpRunConfig, log: (message: string) => void) => Measure | undefined,
): (config: MlpRunConfig, log: (message: string) => void) => Measure | undefined {
  return (config, log) => {
    const first = factory(config, log);
    const lin = linearizedMeasure(config, log);
    if (!lin) return first;
    if (!first) return lin;
    return async (epoch, s) => [...(await lin(epoch, s)), ...(await first(epoch, s))];
  };
}
