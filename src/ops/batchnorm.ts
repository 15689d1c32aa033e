// 2-D batch normalization (NCHW): forward dispatch and backward rule side by side.
// Kernel family: shaders/batchnorm.wgsl. Semantics follow torch.nn.BatchNorm2d:
//   training  normalize with the batch mean and biased variance (two-pass, stable), and
//             update running_mean/running_var with momentum (running_var gets the
//             unbiased variance) and num_batches_tracked += 1;
//   eval      normalize with running_mean/running_var (constants for the backward pass).
import { ConfigError, ShapeError } from '../errors.js';
import { grid1d, type Grid, type Runtime } from '../gpu/runtime.js';
import { paramsLayout } from '../gpu/uniform.js';
import { record } from '../autograd/tape.js';
import { empty, type Tensor } from '../tensor.js';

export interface BatchNormOptions {
  /** Batch statistics (and running-stat updates) when true, running statistics when false. */
  training: boolean;
  runningMean?: Tensor;
  runningVar?: Tensor;
  /** Incremented by one per training step when given (PyTorch keeps it for momentum=None). */
  numBatchesTracked?: Tensor;
  /** Weight of the new batch in the running estimates (PyTorch's default 0.1). */
  momentum?: number;
  eps?: number;
  /**
   * Use the vec4 entries where H·W % 4 == 0 (default true). They compute the same value per
   * element as the scalar entries; false exists to test exactly that and to time both.
   */
  vectorize?: boolean;
}

interface BnDims {
  batch: number;
  c: number;
  hw: number;
}

function params(d: BnDims, o: { total?: number; eps?: number; a?: number; b?: number; cc?: number; offset?: number } = {}): Uint8Array {
  return paramsLayout('batchnorm').pack({ batch: d.batch, c: d.c, hw: d.hw, total: o.total ?? 0, eps: o.eps ?? 0, a: o.a ?? 0, b: o.b ?? 0, cc: o.cc ?? 0, offset: o.offset ?? 0 });
}

function flatGrid(n: number, rt: Runtime): Grid {
  return grid1d(n, 256, rt.limits.maxComputeWorkgroupsPerDimension);
}

function perChannelGrid(c: number, rt: Runtime): Grid {
  return grid1d(c, 1, rt.limits.maxComputeWorkgroupsPerDimension);
}

function checkVector(t: Tensor | undefined, c: number, name: string): void {
  if (t && t.size !== c) throw new ShapeError(`batchNorm2d: ${name} has ${t.size} values but the input has ${c} channels`);
}

/** dst = a·dst + b·src[offset:] + cc, in place (running statistics, counters). */
function updateInPlace(dst: Tensor, src: Tensor, d: BnDims, coeffs: { a: number; b: number; cc: number; offset: number }): void {
  dst.rt.dispatch({ shader: 'batchnorm', entry: 'update' }, params(d, { total: dst.size, ...coeffs }), [dst.region(), src.region()], flatGrid(dst.size, dst.rt));
}

/** A new tensor holding `count` floats of `src` starting at float `start`. */
function slice(src: Tensor, start: number, count: number): Tensor {
  const out = empty([count], src.rt);
  const r = src.region();
  src.rt.copy({ buffer: r.buffer, offset: r.offset + start * 4, size: count * 4 }, { ...out.region(), size: count * 4 });
  return out;
}

/**
 * y = (x − mean)/sqrt(var + eps)·weight + bias per channel of x [B, C, H, W].
 * weight and bias are [C]. Running statistics are updated in place in training mode.
 */
export function batchNorm2d(x: Tensor, weight: Tensor, bias: Tensor, opts: BatchNormOptions): Tensor {
  if (x.rank !== 4) throw new ShapeError(`batchNorm2d expects input [batch, channels, height, width] (NCHW), got [${x.shape}]`);
  const [batch, c, h, w] = x.shape;
  const d: BnDims = { batch, c, hw: h * w };
  const n = batch * h * w;
  const eps = opts.eps ?? 1e-5;
  const momentum = opts.momentum ?? 0.1;
  if (!(eps > 0)) throw new ConfigError(`batchNorm2d eps must be positive, got ${eps}`);
  if (!(momentum >= 0 && momentum <= 1)) throw new ConfigError(`batchNorm2d momentum must be in [0, 1], got ${momentum}`);
  checkVector(weight, c, 'weight');
  checkVector(bias, c, 'bias');
  checkVector(opts.runningMean, c, 'running_mean');
  checkVector(opts.runningVar, c, 'running_var');
  const rt = x.rt;
  const training = opts.training;
  // Four values of one channel per invocation where every plane splits into whole vec4s
  // (same arithmetic per value: bit-identical to the scalar entries).
  const vec4 = (opts.vectorize ?? true) && d.hw % 4 === 0;
  // saved [3C]: mean, invstd, unbiased variance.
  const saved = empty([3 * c], rt);
  if (training) {
    if (n < 2) {
      throw new ShapeError(`batchNorm2d needs more than one value per channel in training mode, got input [${x.shape}]. Use a larger batch or eval mode.`);
    }
    rt.dispatch({ shader: 'batchnorm', entry: 'stats' }, params(d, { eps }), [saved.region(), x.region()], perChannelGrid(c, rt));
    if (opts.runningMean) updateInPlace(opts.runningMean, saved, d, { a: 1 - momentum, b: momentum, cc: 0, offset: 0 });
    if (opts.runningVar) updateInPlace(opts.runningVar, saved, d, { a: 1 - momentum, b: momentum, cc: 0, offset: 2 * c });
    if (opts.numBatchesTracked) updateInPlace(opts.numBatchesTracked, saved, d, { a: 1, b: 0, cc: 1, offset: 0 });
  } else {
    if (!opts.runningMean || !opts.runningVar) {
      throw new ConfigError('batchNorm2d in eval mode needs runningMean and runningVar (or call it with training: true).');
    }
    rt.dispatch(
      { shader: 'batchnorm', entry: 'eval_stats' },
      params(d, { eps }),
      [saved.region(), opts.runningMean.region(), opts.runningVar.region()],
      flatGrid(c, rt),
    );
  }
  const coef = empty([2 * c], rt);
  rt.dispatch({ shader: 'batchnorm', entry: 'fold' }, params(d), [coef.region(), saved.region(), weight.region(), bias.region()], flatGrid(c, rt));
  const y = empty(x.shape, rt);
  rt.dispatch({ shader: 'batchnorm', entry: vec4 ? 'apply4' : 'apply' }, params(d, { total: y.size }), [y.region(), x.region(), saved.region(), coef.region()], flatGrid(vec4 ? y.size / 4 : y.size, rt));
  coef.dispose();

  const out = record('batchNorm2d', y, [x, weight, bias], (dy) => {
    // red [2C]: Σ dy (dbeta), Σ dy·x̂ (dgamma).
    const red = empty([2 * c], rt);
    rt.dispatch(
      { shader: 'batchnorm', entry: 'bwd_reduce' },
      params(d),
      [red.region(), x.region(), dy.region(), saved.region()],
      perChannelGrid(c, rt),
    );
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      const k = empty([4 * c], rt);
      rt.dispatch(
        { shader: 'batchnorm', entry: 'bwd_coef', overrides: { TRAINING: training ? 1 : 0 } },
        params(d),
        [k.region(), saved.region(), weight.region(), red.region()],
        flatGrid(c, rt),
      );
      dx = empty(x.shape, rt);
      rt.dispatch(
        { shader: 'batchnorm', entry: vec4 ? 'bwd_apply4' : 'bwd_apply' },
        params(d, { total: dx.size }),
        [dx.region(), dy.region(), x.region(), k.region()],
        flatGrid(vec4 ? dx.size / 4 : dx.size, rt),
      );
      k.dispose();
    }
    const dWeight = weight.requiresGrad ? slice(red, c, c) : null;
    const dBias = bias.requiresGrad ? slice(red, 0, c) : null;
    red.dispose();
    return [dx, dWeight, dBias];
  });
  // Without a tape node nothing will read the statistics again.
  if (!out.node) saved.dispose();
  return out;
}
