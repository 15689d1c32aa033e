// 2-D convolution (NCHW): forward dispatch and backward rule side by side.
// Kernel family: shaders/conv2d.wgsl. Four ways to compute the same thing, selectable
// with `variant` so that benchmarks and tests can compare them:
//   implicit  implicit GEMMs (forward, input gradient) and a split-K weight-gradient GEMM
//             with a fixed-order reduction; the default for every shape but 1x1 stride 1.
//   im2col    explicit im2col buffer [B, Cin·kh·kw, Ho·Wo] and the engine's matmul.
//   matmul    1x1, stride 1, no padding: the convolution *is* a matmul over [B, Cin, H·W].
//   direct    one invocation per output value (reference/baseline).
import { ConfigError, ShapeError } from '../errors.js';
import { grid1d, type Grid, type Runtime } from '../gpu/runtime.js';
import { uniform } from '../gpu/uniform.js';
import { record } from '../autograd/tape.js';
import { empty, viewOf, type Tensor } from '../tensor.js';
import { matmulInto } from './matmul.js';
import { reduceRaw } from './reduce.js';

export type ConvVariant = 'implicit' | 'im2col' | 'matmul' | 'direct';
export const CONV_VARIANTS: readonly ConvVariant[] = ['implicit', 'im2col', 'matmul', 'direct'];

export interface Conv2dOptions {
  stride?: number;
  /** Zero padding on every side. */
  padding?: number;
  /** 'auto' (default): matmul for 1x1 stride-1 unpadded convolutions, implicit otherwise. */
  variant?: ConvVariant | 'auto';
  /** Weight gradient (implicit variant): number of K-splits; default chosen from the shape. */
  splits?: number;
}

/** Everything a kernel needs to know about one convolution. */
export interface Conv2dGeometry {
  batch: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
  ho: number;
  wo: number;
}

export function conv2dGeometry(xShape: readonly number[], wShape: readonly number[], stride = 1, padding = 0): Conv2dGeometry {
  if (xShape.length !== 4) throw new ShapeError(`conv2d expects input [batch, channels, height, width] (NCHW), got [${xShape}]. Reshape it first.`);
  if (wShape.length !== 4) throw new ShapeError(`conv2d expects weight [out_channels, in_channels, kh, kw], got [${wShape}]`);
  if (!Number.isInteger(stride) || stride < 1) throw new ConfigError(`conv2d stride must be an integer >= 1, got ${stride}`);
  if (!Number.isInteger(padding) || padding < 0) throw new ConfigError(`conv2d padding must be an integer >= 0, got ${padding}`);
  const [batch, cin, h, w] = xShape;
  const [cout, wcin, kh, kw] = wShape;
  if (wcin !== cin) {
    throw new ShapeError(`conv2d: input has ${cin} channels but the weight [${wShape}] expects ${wcin} (groups are not supported)`);
  }
  const ho = Math.floor((h + 2 * padding - kh) / stride) + 1;
  const wo = Math.floor((w + 2 * padding - kw) / stride) + 1;
  if (kh < 1 || kw < 1 || ho < 1 || wo < 1) {
    throw new ShapeError(
      `conv2d: a ${kh}x${kw} kernel with padding ${padding} does not fit a ${h}x${w} input. Use a larger input or more padding.`,
    );
  }
  return { batch, cin, h, w, cout, kh, kw, stride, pad: padding, ho, wo };
}

export function isPointwiseConv(g: Conv2dGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.stride === 1 && g.pad === 0;
}

export function chooseConvVariant(g: Conv2dGeometry, requested: ConvVariant | 'auto' = 'auto'): ConvVariant {
  if (requested === 'auto') return isPointwiseConv(g) ? 'matmul' : 'implicit';
  if (!CONV_VARIANTS.includes(requested)) throw new ConfigError(`Unknown conv variant '${requested}'. Use one of: auto, ${CONV_VARIANTS.join(', ')}.`);
  if (requested === 'matmul' && !isPointwiseConv(g)) {
    throw new ConfigError(`conv2d variant 'matmul' needs a 1x1 kernel with stride 1 and no padding (got ${g.kh}x${g.kw}, stride ${g.stride}, padding ${g.pad}); use 'implicit' or 'im2col'.`);
  }
  return requested;
}

/** Multiply-adds of one convolution (x2 for FLOPs); the same for forward and each gradient. */
export function conv2dMacs(g: Conv2dGeometry): number {
  return g.batch * g.ho * g.wo * g.cout * g.cin * g.kh * g.kw;
}

/** The GEMM each pass amounts to (M x K times K x N), for comparing against plain matmul. */
export function conv2dGemmShapes(g: Conv2dGeometry): Record<'forward' | 'inputGrad' | 'weightGrad', { M: number; N: number; K: number }> {
  const taps = g.kh * g.kw;
  return {
    forward: { M: g.batch * g.ho * g.wo, N: g.cout, K: g.cin * taps },
    inputGrad: { M: g.batch * g.h * g.w, N: g.cin, K: g.cout * taps },
    weightGrad: { M: g.cout, N: g.cin * taps, K: g.batch * g.ho * g.wo },
  };
}

function params(g: Conv2dGeometry, extra: { chunk?: number; splits?: number; total?: number } = {}): Uint8Array {
  return uniform()
    .u32(g.batch)
    .u32(g.cin)
    .u32(g.h)
    .u32(g.w)
    .u32(g.cout)
    .u32(g.ho)
    .u32(g.wo)
    .u32(g.kh)
    .u32(g.kw)
    .u32(g.stride)
    .u32(g.pad)
    .u32(extra.chunk ?? 0)
    .u32(extra.splits ?? 0)
    .u32(extra.total ?? 0)
    .u32(0)
    .u32(0)
    .bytes();
}

function flatGrid(n: number, rt: Runtime): Grid {
  return grid1d(n, 256, rt.limits.maxComputeWorkgroupsPerDimension);
}

/** Grid of 32x32 GEMM tiles: N tiles in x, M tiles folded into y·z past the per-dimension cap. */
function gemmGrid(M: number, N: number, rt: Runtime): Grid {
  const maxDim = rt.limits.maxComputeWorkgroupsPerDimension;
  const mTiles = Math.ceil(M / 32);
  const y = Math.min(mTiles, maxDim);
  return [Math.ceil(N / 32), y, Math.ceil(mTiles / y)];
}

function outShape(g: Conv2dGeometry): number[] {
  return [g.batch, g.cout, g.ho, g.wo];
}

function checkSize(t: Tensor, size: number, what: string, g: Conv2dGeometry): void {
  if (t.size !== size) throw new ShapeError(`conv2d: ${what} [${t.shape}] does not match the convolution ${describe(g)}`);
}

function describe(g: Conv2dGeometry): string {
  return `[${g.batch}, ${g.cin}, ${g.h}, ${g.w}] * [${g.cout}, ${g.cin}, ${g.kh}, ${g.kw}] (stride ${g.stride}, padding ${g.pad})`;
}

// ------------------------------------------------------------------ im2col

/** The explicit im2col buffer [B, Cin·kh·kw, Ho·Wo] (not recorded). */
export function im2col(x: Tensor, g: Conv2dGeometry): Tensor {
  checkSize(x, g.batch * g.cin * g.h * g.w, 'input', g);
  const K = g.cin * g.kh * g.kw;
  const cols = empty([g.batch, K, g.ho * g.wo], x.rt);
  x.rt.dispatch({ shader: 'conv2d', entry: 'im2col' }, params(g, { total: cols.size }), [cols.region(), x.region()], flatGrid(cols.size, x.rt));
  return cols;
}

/** The adjoint of im2col: sums every column entry back into its input position (not recorded). */
export function col2im(cols: Tensor, g: Conv2dGeometry): Tensor {
  checkSize(cols, g.batch * g.cin * g.kh * g.kw * g.ho * g.wo, 'columns', g);
  const dx = empty([g.batch, g.cin, g.h, g.w], cols.rt);
  cols.rt.dispatch({ shader: 'conv2d', entry: 'col2im' }, params(g, { total: dx.size }), [dx.region(), cols.region()], flatGrid(dx.size, cols.rt));
  return dx;
}

function addBiasInPlace(y: Tensor, bias: Tensor, g: Conv2dGeometry): void {
  y.rt.dispatch({ shader: 'conv2d', entry: 'add_bias' }, params(g, { total: y.size }), [y.region(), bias.region()], flatGrid(y.size, y.rt));
}

/** C[b] = op(A[b])·op(B[b]) into `out` through 3-D views (broadcast where an operand has batch 1). */
function batchedMatmul(out: Tensor, a: Tensor, aShape: number[], b: Tensor, bShape: number[], opts: { transA?: boolean; transB?: boolean }): void {
  const av = viewOf(a, aShape);
  const bv = viewOf(b, bShape);
  try {
    matmulInto(out, av, bv, opts);
  } finally {
    av.dispose();
    bv.dispose();
  }
}

/** `t` under another shape, handing its storage over (an unrecorded reshape that frees t). */
function reshapeOwned(t: Tensor, shape: number[]): Tensor {
  const v = viewOf(t, shape);
  t.dispose();
  return v;
}

/** Σ over the leading batch axis of t [B, ...rest] into a tensor of `shape`. */
function sumBatch(t: Tensor, batch: number, shape: number[]): Tensor {
  if (batch === 1) return reshapeOwned(t, shape);
  const r = reduceRaw(t, 1, batch, t.size / batch, 'sum');
  t.dispose();
  return reshapeOwned(r, shape);
}

// ------------------------------------------------------------------ raw passes

/** y = conv2d(x, w) (+ bias) with the given variant; not recorded on the tape. */
export function conv2dForward(x: Tensor, w: Tensor, bias: Tensor | undefined, g: Conv2dGeometry, variant: ConvVariant): Tensor {
  checkSize(x, g.batch * g.cin * g.h * g.w, 'input', g);
  checkSize(w, g.cout * g.cin * g.kh * g.kw, 'weight', g);
  if (bias && bias.size !== g.cout) throw new ShapeError(`conv2d: bias has ${bias.size} values for ${g.cout} output channels`);
  const rt = x.rt;
  const y = empty(outShape(g), rt);
  const K = g.cin * g.kh * g.kw;
  const P = g.ho * g.wo;
  switch (variant) {
    case 'implicit':
      rt.dispatch(
        { shader: 'conv2d', entry: 'fwd_implicit', overrides: { HAS_BIAS: bias ? 1 : 0 } },
        params(g),
        [y.region(), x.region(), w.region(), bias ? bias.region() : rt.dummyRegion()],
        gemmGrid(g.batch * P, g.cout, rt),
      );
      return y;
    case 'direct':
      rt.dispatch(
        { shader: 'conv2d', entry: 'fwd_direct', overrides: { HAS_BIAS: bias ? 1 : 0 } },
        params(g, { total: y.size }),
        [y.region(), x.region(), w.region(), bias ? bias.region() : rt.dummyRegion()],
        flatGrid(y.size, rt),
      );
      return y;
    case 'matmul':
    case 'im2col': {
      // y[b] = W [Cout, K] · cols[b] [K, P]; for 1x1 stride 1 the input itself is cols.
      const cols = variant === 'matmul' ? x : im2col(x, g);
      batchedMatmul(y, w, [1, g.cout, K], cols, [g.batch, K, P], {});
      if (cols !== x) cols.dispose();
      if (bias) addBiasInPlace(y, bias, g);
      return y;
    }
  }
}

/** dx from dy [B, Cout, Ho, Wo]; not recorded. */
export function conv2dInputGrad(dy: Tensor, w: Tensor, g: Conv2dGeometry, variant: ConvVariant): Tensor {
  checkSize(dy, g.batch * g.cout * g.ho * g.wo, 'output gradient', g);
  const rt = dy.rt;
  const K = g.cin * g.kh * g.kw;
  const P = g.ho * g.wo;
  switch (variant) {
    case 'implicit': {
      const dx = empty([g.batch, g.cin, g.h, g.w], rt);
      // One GEMM per stride phase (grid z); the largest phase has ceil(H/s)·ceil(W/s) pixels per image.
      const [gx, gy, gz = 1] = gemmGrid(g.batch * Math.ceil(g.h / g.stride) * Math.ceil(g.w / g.stride), g.cin, rt);
      const grid: Grid = [gx, gy, gz * g.stride * g.stride];
      rt.dispatch({ shader: 'conv2d', entry: 'dgrad_implicit' }, params(g), [dx.region(), dy.region(), w.region()], grid);
      return dx;
    }
    case 'direct': {
      const dx = empty([g.batch, g.cin, g.h, g.w], rt);
      rt.dispatch({ shader: 'conv2d', entry: 'dgrad_direct' }, params(g, { total: dx.size }), [dx.region(), dy.region(), w.region()], flatGrid(dx.size, rt));
      return dx;
    }
    case 'matmul':
    case 'im2col': {
      // dcols[b] = Wᵀ [K, Cout] · dy[b] [Cout, P]; col2im folds the columns back.
      const dcols = empty([g.batch, K, P], rt);
      batchedMatmul(dcols, w, [1, g.cout, K], dy, [g.batch, g.cout, P], { transA: true });
      if (variant === 'matmul') return reshapeOwned(dcols, [g.batch, g.cin, g.h, g.w]);
      const dx = col2im(dcols, g);
      dcols.dispose();
      return dx;
    }
  }
}

/** How the implicit weight gradient splits its reduction over R = B·Ho·Wo rows. */
export function conv2dWeightGradSplits(g: Conv2dGeometry, rt: Runtime, forced?: number): { splits: number; chunk: number } {
  const R = g.batch * g.ho * g.wo;
  const tiles = Math.ceil(g.cout / 32) * Math.ceil((g.cin * g.kh * g.kw) / 32);
  // Enough workgroups to fill a GPU (~256), each summing at least 64 rows; splits are
  // fixed by the shape (not the timing), so results are reproducible run to run.
  let splits = forced ?? Math.min(Math.ceil(R / 64), Math.max(1, Math.ceil(256 / tiles)));
  if (!Number.isInteger(splits) || splits < 1) throw new ConfigError(`conv2d weight-gradient splits must be an integer >= 1, got ${forced}`);
  splits = Math.min(splits, R, rt.limits.maxComputeWorkgroupsPerDimension);
  const chunk = Math.ceil(R / splits);
  return { splits: Math.ceil(R / chunk), chunk };
}

/** dW [Cout, Cin, kh, kw] from x and dy; not recorded. */
export function conv2dWeightGrad(x: Tensor, dy: Tensor, g: Conv2dGeometry, variant: ConvVariant, forcedSplits?: number): Tensor {
  checkSize(x, g.batch * g.cin * g.h * g.w, 'input', g);
  checkSize(dy, g.batch * g.cout * g.ho * g.wo, 'output gradient', g);
  const rt = x.rt;
  const K = g.cin * g.kh * g.kw;
  const P = g.ho * g.wo;
  const wShape = [g.cout, g.cin, g.kh, g.kw];
  switch (variant) {
    case 'implicit': {
      const { splits, chunk } = conv2dWeightGradSplits(g, rt, forcedSplits);
      const dw = empty(wShape, rt);
      const grid: Grid = [Math.ceil(K / 32), Math.ceil(g.cout / 32), splits];
      if (splits === 1) {
        rt.dispatch({ shader: 'conv2d', entry: 'wgrad_partial' }, params(g, { chunk, splits }), [dw.region(), x.region(), dy.region()], grid);
        return dw;
      }
      const partial = empty([splits, g.cout * K], rt);
      rt.dispatch({ shader: 'conv2d', entry: 'wgrad_partial' }, params(g, { chunk, splits }), [partial.region(), x.region(), dy.region()], grid);
      rt.dispatch(
        { shader: 'conv2d', entry: 'wgrad_reduce' },
        params(g, { splits, total: dw.size }),
        [dw.region(), partial.region()],
        flatGrid(dw.size, rt),
      );
      partial.dispose();
      return dw;
    }
    case 'direct': {
      const dw = empty(wShape, rt);
      rt.dispatch({ shader: 'conv2d', entry: 'wgrad_direct' }, params(g, { total: dw.size }), [dw.region(), x.region(), dy.region()], flatGrid(dw.size, rt));
      return dw;
    }
    case 'matmul':
    case 'im2col': {
      // dW = Σ_b dy[b] [Cout, P] · cols[b]ᵀ [P, K]: per-sample products, then a batch sum.
      const cols = variant === 'matmul' ? x : im2col(x, g);
      const perSample = empty([g.batch, g.cout, K], rt);
      batchedMatmul(perSample, dy, [g.batch, g.cout, P], cols, [g.batch, K, P], { transB: true });
      if (cols !== x) cols.dispose();
      return sumBatch(perSample, g.batch, wShape);
    }
  }
}

/** db [Cout] = Σ over batch and pixels of dy (fixed-order tree); not recorded. */
export function conv2dBiasGrad(dy: Tensor, g: Conv2dGeometry): Tensor {
  checkSize(dy, g.batch * g.cout * g.ho * g.wo, 'output gradient', g);
  const db = empty([g.cout], dy.rt);
  dy.rt.dispatch({ shader: 'conv2d', entry: 'bias_grad' }, params(g), [db.region(), dy.region()], grid1d(g.cout, 1, dy.rt.limits.maxComputeWorkgroupsPerDimension));
  return db;
}

// ------------------------------------------------------------------ recorded op

/**
 * y = conv2d(x, weight) + bias, PyTorch semantics (cross-correlation, zero padding),
 * x [B, Cin, H, W], weight [Cout, Cin, kh, kw], bias [Cout] → y [B, Cout, Ho, Wo].
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor, opts: Conv2dOptions = {}): Tensor {
  const g = conv2dGeometry(x.shape, weight.shape, opts.stride ?? 1, opts.padding ?? 0);
  const variant = chooseConvVariant(g, opts.variant ?? 'auto');
  const y = conv2dForward(x, weight, bias, g, variant);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('conv2d', y, inputs, (dy) => [
    x.requiresGrad ? conv2dInputGrad(dy, weight, g, variant) : null,
    weight.requiresGrad ? conv2dWeightGrad(x, dy, g, variant, opts.splits) : null,
    bias?.requiresGrad ? conv2dBiasGrad(dy, g) : null,
  ]);
}
