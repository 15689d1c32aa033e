// Pooling over NCHW tensors: forward dispatch and backward rule side by side.
// Kernel family: shaders/pool.wgsl. Backward passes are gathers (each input element sums
// the windows that cover it), so there are no atomics and results are reproducible.
import { ConfigError, ShapeError } from '../errors.js';
import { grid1d, type Grid, type Runtime } from '../gpu/runtime.js';
import { paramsLayout } from '../gpu/uniform.js';
import { record } from '../autograd/tape.js';
import { empty, type Tensor } from '../tensor.js';

export interface Pool2dOptions {
  /** Square window size. */
  kernel: number;
  /** Defaults to the kernel size (non-overlapping windows), as in PyTorch. */
  stride?: number;
  /** Implicit padding on every side; at most half the kernel (PyTorch's rule). */
  padding?: number;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Divide by the full window even where it hangs over the padding (PyTorch's default: true). */
  countIncludePad?: boolean;
}

export interface PoolGeometry {
  batch: number;
  c: number;
  h: number;
  w: number;
  k: number;
  stride: number;
  pad: number;
  ho: number;
  wo: number;
}

export function poolGeometry(shape: readonly number[], opts: Pool2dOptions, what = 'pool2d'): PoolGeometry {
  if (shape.length !== 4) throw new ShapeError(`${what} expects input [batch, channels, height, width] (NCHW), got [${shape}]`);
  const k = opts.kernel;
  const stride = opts.stride ?? k;
  const pad = opts.padding ?? 0;
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`${what} kernel must be an integer >= 1, got ${k}`);
  if (!Number.isInteger(stride) || stride < 1) throw new ConfigError(`${what} stride must be an integer >= 1, got ${stride}`);
  if (!Number.isInteger(pad) || pad < 0 || pad > Math.floor(k / 2)) {
    throw new ConfigError(`${what} padding must be an integer between 0 and half the kernel (${Math.floor(k / 2)}), got ${pad}`);
  }
  const [batch, c, h, w] = shape;
  const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((w + 2 * pad - k) / stride) + 1;
  if (ho < 1 || wo < 1) throw new ShapeError(`${what}: a ${k}x${k} window with padding ${pad} does not fit a ${h}x${w} input. Use a smaller kernel.`);
  return { batch, c, h, w, k, stride, pad, ho, wo };
}

function params(g: PoolGeometry, total: number): Uint8Array {
  return paramsLayout('pool').pack({ batch: g.batch, c: g.c, h: g.h, w: g.w, ho: g.ho, wo: g.wo, kh: g.k, kw: g.k, stride: g.stride, pad: g.pad, total });
}

function flatGrid(n: number, rt: Runtime): Grid {
  return grid1d(n, 256, rt.limits.maxComputeWorkgroupsPerDimension);
}

/**
 * Max pooling. The index of each window's maximum is kept for the backward pass, which
 * routes each output gradient to exactly that input element (first maximum on ties).
 */
export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const g = poolGeometry(x.shape, opts, 'maxPool2d');
  const rt = x.rt;
  const y = empty([g.batch, g.c, g.ho, g.wo], rt);
  // Holds u32 plane offsets (ih·W + iw); only the kernels read it.
  const argmax = empty([y.size], rt);
  rt.dispatch({ shader: 'pool', entry: 'maxpool_fwd' }, params(g, y.size), [y.region(), x.region(), argmax.region()], flatGrid(y.size, rt));
  const out = record('maxPool2d', y, [x], (dy) => {
    const dx = empty(x.shape, rt);
    rt.dispatch({ shader: 'pool', entry: 'maxpool_bwd' }, params(g, dx.size), [dx.region(), dy.region(), argmax.region()], flatGrid(dx.size, rt));
    return [dx];
  });
  // Without a tape node nothing will read the indices again.
  if (!out.node) argmax.dispose();
  return out;
}

export function avgPool2d(x: Tensor, opts: AvgPool2dOptions): Tensor {
  const g = poolGeometry(x.shape, opts, 'avgPool2d');
  const rt = x.rt;
  const overrides = { COUNT_PAD: (opts.countIncludePad ?? true) ? 1 : 0 };
  const y = empty([g.batch, g.c, g.ho, g.wo], rt);
  rt.dispatch({ shader: 'pool', entry: 'avgpool_fwd', overrides }, params(g, y.size), [y.region(), x.region()], flatGrid(y.size, rt));
  return record('avgPool2d', y, [x], (dy) => {
    const dx = empty(x.shape, rt);
    rt.dispatch({ shader: 'pool', entry: 'avgpool_bwd', overrides }, params(g, dx.size), [dx.region(), dy.region()], flatGrid(dx.size, rt));
    return [dx];
  });
}

/** Mean over each H·W plane: [B, C, H, W] → [B, C] (AdaptiveAvgPool2d(1) + flatten). */
export function globalAvgPool(x: Tensor): Tensor {
  if (x.rank !== 4) throw new ShapeError(`globalAvgPool expects input [batch, channels, height, width] (NCHW), got [${x.shape}]`);
  const [batch, c, h, w] = x.shape;
  if (h * w === 0) throw new ShapeError(`globalAvgPool: empty planes in input [${x.shape}]`);
  const g: PoolGeometry = { batch, c, h, w, k: h, stride: 1, pad: 0, ho: 1, wo: 1 };
  const rt = x.rt;
  const y = empty([batch, c], rt);
  rt.dispatch({ shader: 'pool', entry: 'gap_fwd' }, params(g, y.size), [y.region(), x.region()], grid1d(batch * c, 1, rt.limits.maxComputeWorkgroupsPerDimension));
  return record('globalAvgPool', y, [x], (dy) => {
    const dx = empty(x.shape, rt);
    rt.dispatch({ shader: 'pool', entry: 'gap_bwd' }, params(g, dx.size), [dx.region(), dy.region()], flatGrid(dx.size, rt));
    return [dx];
  });
}
