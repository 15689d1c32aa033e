// Full-batch gradient descent on an MLP (paper sections 6.1, 6.2, 6.4, 6.5), platform
// neutral: Node's CLI and the browser page both drive this. Row t of the metrics (t = 0..E)
// holds L(θ_t), ‖∇L(θ_t)‖², ‖θ_t − θ_0‖ and the training accuracy, measured before update t.
import { DivergenceError, LimitError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { noGrad } from '../../src/autograd/tape.js';
import { backward } from '../../src/ops/backward.js';
import { Arena } from '../../src/nn/arena.js';
import { mlp } from '../../src/nn/layers.js';
import { build, loadParameters, type ParameterSet } from '../../src/nn/module.js';
import type { InitScheme } from '../../src/nn/init.js';
import { SGD } from '../../src/optim/sgd.js';
import { arenaDistanceSq, arenaSumSquares, readScalars } from '../../src/metrics/norms.js';
import { add, equal, full, greater, mulScalar } from '../../src/ops/elementwise.js';
import { bceWithLogits, mseLoss } from '../../src/ops/loss.js';
import { sum } from '../../src/ops/reduce.js';
import { empty, fromData, type Tensor, tidy } from '../../src/tensor.js';
import type { Sequential } from '../../src/nn/layers.js';
import type { EpochRow } from '../../src/metrics/schema.js';
import { trainedEpochs } from './mlp-config.js';

export interface MlpTrainConfig {
  width: number;
  depth: number;
  /** The analysis horizon E; the run trains trainedEpochs() = k·E with lstarExtend k ≥ 2. */
  epochs: number;
  lstarExtend?: number;
  lr: number;
  loss: 'mse' | 'bce';
  init: InitScheme;
  depthFactor?: number;
  seed: number;
}

export type { EpochRow };

export interface MlpData {
  x: Float32Array;
  y: Float32Array;
  n: number;
  d: number;
}

export interface TrainHooks {
  /** Called with each epoch row as soon as it is known. */
  onRow(row: EpochRow): void | Promise<void>;
  /** Called after each update with the epoch just finished (for checkpoints, yielding to the UI). */
  afterEpoch?(epoch: number, state: MlpTrainState): void | Promise<void>;
  /** Return true to stop early (browser stop button). */
  shouldStop?(): boolean;
  /** Optional extra per-epoch measurements (NTK, Hessian) before update t. */
  measure?(epoch: number, state: MlpTrainState): void | Promise<void>;
}

export interface MlpTrainState {
  model: Sequential;
  set: ParameterSet;
  initial: Arena;
  optimizer: SGD;
  x: Tensor;
  y: Tensor;
  chunks: { start: number; rows: number }[];
  config: MlpTrainConfig;
  data: MlpData;
}

/** Rows per forward/backward chunk so that no activation exceeds a storage binding. */
export function rowChunks(n: number, widest: number, rt: Runtime, maxRows?: number): { start: number; rows: number }[] {
  const limit = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
  const byLimit = Math.floor(limit / (4 * widest));
  if (byLimit < 1) throw new LimitError(`A single sample of width ${widest} exceeds the adapter's storage binding limit.`);
  const per = Math.max(1, Math.min(byLimit, maxRows ?? Infinity));
  const out: { start: number; rows: number }[] = [];
  for (let s = 0; s < n; s += per) out.push({ start: s, rows: Math.min(per, n - s) });
  return out;
}

export function createMlpState(
  rt: Runtime,
  config: MlpTrainConfig,
  data: MlpData,
  opts: { initFrom?: { values: Map<string, { shape: number[]; data: Float32Array }>; source: string }; maxRowsPerChunk?: number } = {},
): MlpTrainState {
  const model = mlp({ inputs: data.d, width: config.width, depth: config.depth, outputs: 1 });
  const set = build(model, { scheme: config.init, depthFactor: config.depthFactor, seed: config.seed, rt });
  if (opts.initFrom) loadParameters(set, opts.initFrom.values, opts.initFrom.source);
  const initial = new Arena(rt, set.params.layout, 'theta0');
  initial.copyFrom(set.params);
  const optimizer = new SGD(set, { lr: config.lr });
  const x = fromData(data.x, [data.n, data.d], rt).keep();
  const y = fromData(data.y, [data.n, 1], rt).keep();
  const chunks = rowChunks(data.n, Math.max(config.width, data.d), rt, opts.maxRowsPerChunk);
  return { model, set, initial, optimizer, x, y, chunks, config, data };
}

export function disposeMlpState(s: MlpTrainState): void {
  s.x.dispose();
  s.y.dispose();
  s.initial.dispose();
  s.optimizer.dispose();
  s.set.dispose();
}

/** Rows [start, start+rows) of a row-major [n, cols] tensor: the tensor itself or a copy. */
function rowsOf(t: Tensor, start: number, rows: number, cols: number): Tensor {
  if (start === 0 && rows * cols === t.size) return t;
  const out = empty([rows, cols], t.rt);
  const bytes = rows * cols * 4;
  t.rt.copy({ buffer: t.storage.buffer, offset: t.storage.byteOffset + start * cols * 4, size: bytes }, { ...out.region(), size: bytes });
  return out;
}

/**
 * One evaluation + gradient at θ_t: zero the gradient arena, accumulate the exact
 * full-batch gradient over row chunks, and return scalar tensors (loss, correct count).
 */
export function lossAndGradient(s: MlpTrainState): { loss: Tensor; correct: Tensor } {
  const { config, data } = s;
  s.set.zeroGrad();
  let lossTotal: Tensor | undefined;
  let correctTotal: Tensor | undefined;
  for (const { start, rows } of s.chunks) {
    const [l, c] = tidy(() => {
      const xc = rowsOf(s.x, start, rows, data.d);
      const yc = rowsOf(s.y, start, rows, 1);
      const out = s.model.forward(xc);
      const lossMean = config.loss === 'mse' ? mseLoss(out, yc) : bceWithLogits(out, yc);
      // The full-batch loss is the row-weighted mean of the chunk means.
      const weight = rows / data.n;
      backward(lossMean, full([], weight, s.x.rt));
      const weighted = noGrad(() => mulScalar(lossMean, weight));
      const threshold = config.loss === 'mse' ? 0.5 : 0;
      const predicted = noGrad(() => greater(out, full([], threshold, s.x.rt)));
      const correct = noGrad(() => sum(equal(predicted, yc)));
      return [weighted, correct];
    });
    lossTotal = lossTotal ? tidy(() => add(lossTotal!, l)) : l;
    correctTotal = correctTotal ? tidy(() => add(correctTotal!, c)) : c;
  }
  return { loss: lossTotal!, correct: correctTotal! };
}

/** Train for config.epochs updates, streaming E+1 epoch rows through hooks.onRow. */
export async function trainMlp(
  s: MlpTrainState,
  hooks: TrainHooks,
  opts: { startEpoch?: number; startTimeMs?: number; continueOnNonFinite?: boolean } = {},
): Promise<EpochRow[]> {
  const startEpoch = opts.startEpoch ?? 0;
  const startTimeMs = opts.startTimeMs ?? 0;
  const rows: EpochRow[] = [];
  const t0 = performance.now() - startTimeMs;
  const last = trainedEpochs(s.config);
  for (let t = startEpoch; t <= last; t++) {
    if (hooks.shouldStop?.()) break;
    await hooks.measure?.(t, s);
    const scalars = tidy(() => {
      const { loss, correct } = lossAndGradient(s);
      const gradNormSq = arenaSumSquares(s.set.grads);
      const driftSq = arenaDistanceSq(s.set.params, s.initial);
      return [loss, gradNormSq, driftSq, correct];
    });
    // Encode the update before waiting on this epoch's numbers, so the GPU never idles on the readback.
    if (t < last) s.optimizer.step(s.config.lr);
    const [loss, gradNormSq, driftSq, correct] = await readScalars(scalars);
    for (const sc of scalars) sc.dispose();
    const row: EpochRow = {
      kind: 'epoch',
      epoch: t,
      loss,
      gradNormSq,
      drift: Math.sqrt(Math.max(driftSq, 0)),
      acc: correct / s.data.n,
      lr: s.config.lr,
      timeMs: Math.round(performance.now() - t0),
    };
    rows.push(row);
    await hooks.onRow(row);
    if (!opts.continueOnNonFinite && (!Number.isFinite(loss) || !Number.isFinite(gradNormSq))) {
      throw new DivergenceError(`Training diverged at epoch ${t}: loss ${loss}, ‖∇L‖² ${gradNormSq}. Lower --lr or check the data.`, t);
    }
    if (t < last) await hooks.afterEpoch?.(t, s);
  }
  return rows;
}

/** Floating-point work of one epoch (forward + backward GEMMs), for ETAs and benchmarks. */
export function mlpEpochFlops(n: number, d: number, width: number, depth: number): number {
  let flops = 0;
  for (let l = 0; l < depth; l++) {
    const fin = l === 0 ? d : width;
    const fout = l === depth - 1 ? 1 : width;
    // forward 2nk, weight grad 2nk, input grad 2nk (not for the first layer)
    flops += 2 * n * fin * fout * (l === 0 ? 2 : 3);
  }
  return flops;
}
