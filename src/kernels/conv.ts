// 2-D convolution (NCHW) kernels: the raw passes (forward, input and weight gradient), their
// variants and kernel forms, and the chooser between them (unrecorded; the recorded op and its
// backward wiring are in src/ops/conv.ts).
// Kernel family: shaders/conv2d.wgsl. Four ways to compute the same thing, selectable
// with `variant` so that benchmarks and tests can compare them:
//   implicit  implicit GEMMs (forward, input gradient) and a split-K weight-gradient GEMM
//             with a fixed-order reduction; the default for every shape but 1x1 stride 1.
//             Kernel forms per pass (ConvKernel): 'buffer' reads the NCHW tensors from
//             storage (conv2d.wgsl); 'texture' stages the image operand channels-last with
//             a zero border and the kernel into rgba32float textures (conv2d_pack.wgsl) and
//             runs conv2d_texture.wgsl; 'gather' (forward of strided or padded 1x1 kernels)
//             gathers the pixels the kernel reads into [B, Cin, Ho·Wo] and runs the engine's
//             matmul on them, as for 1x1 stride 1 (at stride 2 with aligned rows one kernel,
//             fwd_1x1_s2, does both). chooseConvKernel picks one per pass and adapter.
//   im2col    explicit im2col buffer [B, Cin·kh·kw, Ho·Wo] and the engine's matmul.
//   matmul    1x1, stride 1, no padding: the convolution *is* a matmul over [B, Cin, H·W].
//   direct    one invocation per output value (reference/baseline).
import { ConfigError, ShapeError } from '../errors.js';
import { grid1d, type BufferRegion, type Grid, type Runtime } from '../gpu/runtime.js';
import { avoidPowerOfTwo, type StagingCache } from '../gpu/staging.js';
import { paramsLayout } from '../gpu/uniform.js';
import { chooseKernel, plansForSoftware, registerFamily, setForcedKernel, type KernelFamily, type KernelVariant } from './chooser.js';
import { empty, viewOf, type Tensor } from '../tensor.js';
import { matmulInto } from './matmul.js';
import { reduceRaw } from './reduce.js';

export type ConvVariant = 'implicit' | 'im2col' | 'matmul' | 'direct';
export const CONV_VARIANTS: readonly ConvVariant[] = ['implicit', 'im2col', 'matmul', 'direct'];

/** The three passes of a convolution. */
export type ConvPass = 'forward' | 'inputGrad' | 'weightGrad';
/**
 * Kernel form of the implicit variant: storage-buffer operands, staged textures, or (forward
 * of 1x1 kernels) the read pixels gathered into a dense buffer for the engine's matmul.
 */
export type ConvKernel = 'buffer' | 'texture' | 'gather';
export const CONV_KERNELS: readonly ConvKernel[] = ['buffer', 'texture', 'gather'];

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

/** conv2d.wgsl's Params for one convolution (chunk, splits, total: per entry point, else 0). */
function params(g: Conv2dGeometry, extra: { chunk?: number; splits?: number; total?: number } = {}): Uint8Array {
  return paramsLayout('conv2d').pack({
    batch: g.batch,
    cin: g.cin,
    h: g.h,
    w: g.w,
    cout: g.cout,
    ho: g.ho,
    wo: g.wo,
    kh: g.kh,
    kw: g.kw,
    stride: g.stride,
    pad: g.pad,
    chunk: extra.chunk ?? 0,
    splits: extra.splits ?? 0,
    total: extra.total ?? 0,
  });
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

/** Output pixels per invocation of conv2d.wgsl gather_1x1 (its PIXELS_PER_LANE). */
const GATHER_PIXELS_PER_LANE = 4;

/**
 * im2col of a 1x1 kernel, [B, Cin, Ho·Wo]: the input pixels the strided (or padded) kernel
 * reads, zeros in the padding (not recorded). One integer division per four pixels where
 * im2col has several per element (llvmpipe runs them lane by lane).
 */
export function gather1x1(x: Tensor, g: Conv2dGeometry): Tensor {
  if (g.kh !== 1 || g.kw !== 1) throw new ConfigError(`gather1x1 needs a 1x1 kernel, got ${g.kh}x${g.kw}; use im2col.`);
  checkSize(x, g.batch * g.cin * g.h * g.w, 'input', g);
  const rt = x.rt;
  const cols = empty([g.batch, g.cin, g.ho * g.wo], rt);
  if (g.stride === 2 && g.pad === 0 && g.h % 2 === 0 && g.w % 8 === 0) {
    // Whole rows of vec4 pairs: vec4 loads and stores over one flat index (see gather_1x1_s2).
    const quads = cols.size / 4;
    rt.dispatch({ shader: 'conv2d', entry: 'gather_1x1_s2' }, params(g, { total: quads }), [cols.region(), x.region()], flatGrid(quads, rt));
    return cols;
  }
  const lanes = g.ho * Math.ceil(g.wo / GATHER_PIXELS_PER_LANE);
  const planes = g.batch * g.cin;
  const y = Math.min(planes, rt.limits.maxComputeWorkgroupsPerDimension);
  rt.dispatch({ shader: 'conv2d', entry: 'gather_1x1' }, params(g), [cols.region(), x.region()], [Math.ceil(lanes / 64), y, Math.ceil(planes / y)]);
  return cols;
}

/**
 * Whether conv2d.wgsl fwd_1x1_s2 runs this forward: a 1x1 stride-2 unpadded kernel whose
 * pixels of eight come from four aligned vec4s of x (W % 16 == 0) and whose weight rows are
 * whole vec4s (Cin % 4 == 0).
 */
function fusesStride2Gather(g: Conv2dGeometry, rt: Runtime): boolean {
  return g.kh === 1 && g.kw === 1 && g.stride === 2 && g.pad === 0 && g.w % 16 === 0 && g.cin % 4 === 0 && g.batch <= rt.limits.maxComputeWorkgroupsPerDimension;
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

// ------------------------------------------------------------------ texture-sourced kernels

/** Force one kernel form for the implicit variant on this runtime ('auto' restores the choice). */
export function setConvKernel(rt: Runtime, kernel: ConvKernel | 'auto'): void {
  if (kernel !== 'auto' && !CONV_KERNELS.includes(kernel)) {
    throw new ConfigError(`Unknown conv kernel '${kernel}'. Use one of: auto, ${CONV_KERNELS.join(', ')}.`);
  }
  setForcedKernel(rt, CONV_FAMILY, kernel);
}

/** The largest grid dimension the texture kernel needs and its staged texture sizes. */
function textureSizes(g: Conv2dGeometry, pass: ConvPass): { width: number; height: number }[] {
  if (pass === 'weightGrad') {
    const { image } = forwardTexturePlan(g);
    const dyImage = weightGradDyPlan(g);
    return [
      { width: image.width, height: image.rows },
      { width: dyImage.width, height: dyImage.rows },
    ];
  }
  if (pass === 'forward') {
    const fwd = forwardTexturePlan(g);
    return [
      { width: fwd.image.width, height: fwd.image.rows },
      { width: Math.ceil(g.cout / 4), height: g.kh * g.kw * Math.ceil(g.cin / 4) * 4 },
    ];
  }
  const dgrad = inputGradTexturePlan(g);
  return [
    { width: dgrad.image.width, height: dgrad.image.rows },
    { width: Math.ceil(g.cin / 4), height: g.kh * g.kw * Math.ceil(g.cout / 4) * 4 },
  ];
}

/** Whether a kernel form can run this pass (gather: 1x1 forward; texture: texture, grid and binding limits). */
export function convKernelAvailable(rt: Runtime, g: Conv2dGeometry, pass: ConvPass, kernel: ConvKernel): boolean {
  if (kernel === 'buffer') return true;
  if (kernel === 'gather') return pass === 'forward' && g.kh === 1 && g.kw === 1;
  const max = rt.limits.maxTextureDimension2D;
  if (pass === 'weightGrad') {
    const { splits } = weightGradTextureSplits(g);
    if (splits * g.cout * g.cin * g.kh * g.kw * 4 > rt.limits.maxStorageBufferBindingSize) return false;
  } else {
    const pixels = pass === 'forward' ? g.batch * g.ho * g.wo : g.batch * Math.ceil(g.h / g.stride) * Math.ceil(g.w / g.stride);
    if (Math.ceil(pixels / TEXTURE_TILE_M) > rt.limits.maxComputeWorkgroupsPerDimension) return false;
  }
  return textureSizes(g, pass).every((t) => avoidPowerOfTwo(t.width) <= max && avoidPowerOfTwo(t.height) <= max);
}

/** One pass of one convolution, as the kernel chooser sees it. */
export interface ConvPassShape {
  g: Conv2dGeometry;
  pass: ConvPass;
}

/** Shape class of a conv pass: the exact geometry (every size enters the forms' limits). */
export function convShapeClass({ g, pass }: ConvPassShape): string {
  return `${pass}:${g.batch}x${g.cin}x${g.h}x${g.w}*${g.cout}x${g.kh}x${g.kw}s${g.stride}p${g.pad}`;
}

/**
 * The conv family's kernel forms (implicit variant), declared once: the WGSL each runs and
 * when it can run. Chosen per pass and recorded as `conv@pass:geometry` in rt.kernelChoices,
 * like matmul's classes, so the page and resumed runs pin them.
 */
export const CONV_FAMILY: KernelFamily<ConvPassShape> = registerFamily({
  name: 'conv',
  variants: new Map<string, KernelVariant<ConvPassShape>>([
    ['buffer', { shaders: ['conv2d'], available: () => true }],
    ['texture', { shaders: ['conv2d_pack', 'conv2d_texture', 'conv2d_wgrad', 'conv2d'], available: (rt, s) => convKernelAvailable(rt, s.g, s.pass, 'texture') }],
    ['gather', { shaders: ['conv2d'], available: (rt, s) => convKernelAvailable(rt, s.g, s.pass, 'gather') }],
  ]),
  shapeClass: convShapeClass,
  untuned: (rt, { g, pass }) => untunedConvKernel(rt, g, pass),
});

/**
 * The default form of a pass. The forward of a strided or padded 1x1 kernel is a GEMM with
 * K = Cin over a subset of the pixels (a quarter of x at stride 2): gathered, they make a
 * dense matmul operand; at stride 2 a register-blocked GEMM loads them straight from x (on
 * llvmpipe about twice the texture form's rate at ResNet-20's 16→32 shortcut, batch 128).
 * Otherwise, on software adapters (llvmpipe) texel fetches are vectorized and storage loads
 * are not, so textures win wherever they fit; on GPUs the storage-buffer kernels need no
 * staging copies.
 */
export function untunedConvKernel(rt: Runtime, g: Conv2dGeometry, pass: ConvPass): ConvKernel {
  if (!isPointwiseConv(g) && convKernelAvailable(rt, g, pass, 'gather')) return 'gather';
  if (plansForSoftware(rt) && convKernelAvailable(rt, g, pass, 'texture')) return 'texture';
  return 'buffer';
}

/**
 * The kernel form a pass runs, through the one chooser: forced by the call or the runtime (a
 * form that cannot run the pass yields to the default), else the class's pin, else the
 * default (untunedConvKernel), recorded as the class's pin on first use.
 */
export function chooseConvKernel(rt: Runtime, g: Conv2dGeometry, pass: ConvPass, requested: ConvKernel | 'auto' = 'auto'): ConvKernel {
  if (requested !== 'auto' && !CONV_KERNELS.includes(requested)) {
    throw new ConfigError(`Unknown conv kernel '${requested}'. Use one of: auto, ${CONV_KERNELS.join(', ')}.`);
  }
  return chooseKernel(rt, CONV_FAMILY, { g, pass }, requested) as ConvKernel;
}

/** Pixels per workgroup of conv2d_texture.wgsl (8 lanes x 32 rows). */
const TEXTURE_TILE_M = 256;
/** image: x, or dy in the input gradient; gradient: dy beside x in the weight gradient. */
type TextureRole = 'image' | 'kernel' | 'gradient';

/** The texture forms' staging textures and uniform blocks, kept by the runtime. */
function staging(rt: Runtime): StagingCache {
  return rt.stagingCache('conv2d-texture', { label: 'conv2d', maxTextureBytes: 256 << 20, maxParams: 512 });
}

function stagingTexture(rt: Runtime, role: TextureRole, width: number, height: number): GPUTexture {
  return staging(rt).texture(role, width, height);
}

function paramBuffer(rt: Runtime, words: readonly number[]): GPUBuffer {
  return staging(rt).paramBuffer(words);
}

function bufferEntry(binding: number, r: BufferRegion): GPUBindGroupEntry {
  return { binding, resource: { buffer: r.buffer, offset: r.offset, size: r.size } };
}

/** An NCHW image staged channels-last with a zero border (conv2d_pack.wgsl pack_image). */
interface ImagePlan {
  channels: number;
  h: number;
  w: number;
  top: number;
  bottom: number;
  left: number;
  right: number;
  /** Source pixels per texel row/column (subsampling for 1x1 strided convolutions). */
  step: number;
  c4: number;
  imageRows: number;
  width: number;
  rows: number;
}

/** Staged rows/columns: the image plus its border (or, with `sampled`, exactly that many). */
function imagePlan(
  batch: number,
  channels: number,
  h: number,
  w: number,
  border: { top: number; bottom: number; left: number; right: number },
  sampled?: { rows: number; cols: number; step: number },
): ImagePlan {
  const c4 = Math.ceil(channels / 4);
  const imageRows = sampled ? sampled.rows : h + border.top + border.bottom;
  const cols = sampled ? sampled.cols : w + border.left + border.right;
  return { channels, h, w, ...border, step: sampled?.step ?? 1, c4, imageRows, width: cols * c4, rows: batch * imageRows };
}

/**
 * dy as the input gradient staged it (bordered), kept for the weight gradient that the same
 * backward rule computes next: it reads the interior of that texture instead of staging dy
 * again. Valid only for that tensor, until the next 'gradient' staging or texture drop.
 */
interface StagedGradient {
  source: Tensor;
  plan: ImagePlan;
  texture: GPUTexture;
  generation: number;
}
const stagedGradients = new WeakMap<Runtime, StagedGradient>();

function stageImage(rt: Runtime, src: BufferRegion, plan: ImagePlan, role: TextureRole = 'image'): GPUTexture {
  if (role === 'gradient') stagedGradients.delete(rt);
  const tex = stagingTexture(rt, role, plan.width, plan.rows);
  const { width, rows, c4, channels, h, w, imageRows, top, left, step } = plan;
  const words = paramsLayout('conv2d_pack').words({ width, rows, c4, channels, h, w, imageRows, top, left, step, n: 0, kc: 0, taps: 0, nStride: 0, kcStride: 0 });
  rt.dispatchBound(
    { shader: 'conv2d_pack', entry: 'pack_image' },
    [{ binding: 0, resource: { buffer: paramBuffer(rt, words) } }, bufferEntry(1, src), { binding: 2, resource: tex.createView() }],
    [Math.ceil(plan.width / plan.c4 / 8), Math.ceil(plan.imageRows / 8), plan.rows / plan.imageRows],
  );
  return tex;
}

/** The weight as Bt: n output-side channels (texel columns) by taps x kc input-side channels. */
function stageKernel(rt: Runtime, src: BufferRegion, g: Conv2dGeometry, pass: 'forward' | 'inputGrad'): GPUTexture {
  const taps = g.kh * g.kw;
  const [n, kc, nStride, kcStride] = pass === 'forward' ? [g.cout, g.cin, g.cin * taps, taps] : [g.cin, g.cout, taps, g.cin * taps];
  const c4 = Math.ceil(kc / 4);
  const width = Math.ceil(n / 4);
  const rows = taps * c4 * 4;
  const tex = stagingTexture(rt, 'kernel', width, rows);
  const image = { channels: 0, h: 0, w: 0, imageRows: 0, top: 0, left: 0, step: 0 };
  const words = paramsLayout('conv2d_pack').words({ width, rows, c4, ...image, n, kc, taps, nStride, kcStride });
  rt.dispatchBound(
    { shader: 'conv2d_pack', entry: 'pack_kernel' },
    [{ binding: 0, resource: { buffer: paramBuffer(rt, words) } }, bufferEntry(1, src), { binding: 2, resource: tex.createView() }],
    [Math.ceil(width / 8), Math.ceil(rows / 8), 1],
  );
  return tex;
}

/** One GEMM of conv2d_texture.wgsl (its Params less the epilogue and grid fields). */
interface TextureGemm {
  M: number;
  N: number;
  c4: number;
  imagePixels: number;
  rowPixels: number;
  aImageRows: number;
  aRow0: number;
  aCol0: number;
  aStep: number;
  tapsY: number;
  tapsX: number;
  tapRow0: number;
  tapStepY: number;
  tapStepX: number;
  outImage: number;
  outRowLen: number;
  outRow0: number;
  outCol0: number;
  outStep: number;
  outPlane: number;
}

function runTextureGemm(rt: Runtime, gemm: TextureGemm, image: GPUTexture, kernel: GPUTexture, out: BufferRegion, bias: BufferRegion | undefined): void {
  const g = gemm;
  const words = paramsLayout('conv2d_texture').words({ ...gemm, epilogue: bias ? 1 : 0, gridRows: g.imagePixels / g.rowPixels });
  const groups = g.N <= 4 ? 1 : 4;
  rt.dispatchBound(
    { shader: 'conv2d_texture', entry: 'main', overrides: { GROUPS: groups } },
    [
      { binding: 0, resource: { buffer: paramBuffer(rt, words) } },
      { binding: 1, resource: image.createView() },
      { binding: 2, resource: kernel.createView() },
      bufferEntry(3, bias ?? rt.dummyRegion()),
      bufferEntry(4, out),
    ],
    [Math.ceil(g.M / TEXTURE_TILE_M), Math.ceil(g.N / (16 * groups)), 1],
  );
}

/** Forward: x staged with the padding as its border, one GEMM over all output pixels. */
function forwardTexturePlan(g: Conv2dGeometry): { image: ImagePlan; gemm: TextureGemm } {
  // The last window ends at (ho − 1)·stride + kh − 1 in padded coordinates, at most h + 2·pad − 1.
  const bottom = Math.max(0, (g.ho - 1) * g.stride + g.kh - g.h - g.pad);
  const right = Math.max(0, (g.wo - 1) * g.stride + g.kw - g.w - g.pad);
  const border = { top: g.pad, bottom, left: g.pad, right };
  // A 1x1 kernel reads one pixel per output: stage just those (a quarter of x at stride 2).
  const subsample = g.kh === 1 && g.kw === 1 && g.stride > 1;
  const image = imagePlan(g.batch, g.cin, g.h, g.w, border, subsample ? { rows: g.ho, cols: g.wo, step: g.stride } : undefined);
  const aStep = subsample ? 1 : g.stride;
  const P = g.ho * g.wo;
  const gemm: TextureGemm = {
    M: g.batch * P,
    N: g.cout,
    c4: image.c4,
    imagePixels: P,
    rowPixels: g.wo,
    aImageRows: image.imageRows,
    aRow0: 0,
    aCol0: 0,
    aStep,
    tapsY: g.kh,
    tapsX: g.kw,
    tapRow0: 0,
    tapStepY: g.kw,
    tapStepX: 1,
    outImage: g.cout * P,
    outRowLen: g.wo,
    outRow0: 0,
    outCol0: 0,
    outStep: 1,
    outPlane: P,
  };
  return { image, gemm };
}

/** One axis of one stride phase of the input gradient. */
interface PhaseAxis {
  /** First input row (column) of the phase and how many it has. */
  first: number;
  count: number;
  /** Taps of the kernel that reach it (r, r + s, ...). */
  taps: number;
  /** Output row reached by the first input row through tap r. */
  top: number;
}

function phaseAxis(r: number, size: number, k: number, s: number, pad: number): PhaseAxis {
  // Input rows i with (i + pad) ≡ r (mod s) take output row (i + pad − ky)/s through taps ky ≡ r.
  const first = (((r - pad) % s) + s) % s;
  const count = first < size ? Math.ceil((size - first) / s) : 0;
  const taps = r < k ? Math.ceil((k - r) / s) : 0;
  return { first, count, taps, top: (first + pad - r) / s };
}

/**
 * Input gradient: dy staged with a border wide enough for every phase, then one GEMM per
 * stride phase (ry, rx) over its input pixels; taps run descending so rows of dy ascend.
 */
function inputGradTexturePlan(g: Conv2dGeometry): { image: ImagePlan; gemms: TextureGemm[]; zeroPhases: boolean } {
  const s = g.stride;
  const rows = Array.from({ length: s }, (_, r) => phaseAxis(r, g.h, g.kh, s, g.pad));
  const cols = Array.from({ length: s }, (_, r) => phaseAxis(r, g.w, g.kw, s, g.pad));
  // Output rows a phase reads: top − (taps − 1) .. top + count − 1; the border covers the overhang.
  const live = (axes: PhaseAxis[]) => axes.filter((a) => a.count > 0 && a.taps > 0);
  const before = (axes: PhaseAxis[]) => Math.max(0, ...live(axes).map((a) => a.taps - 1 - a.top));
  const after = (axes: PhaseAxis[], n: number) => Math.max(0, ...live(axes).map((a) => a.top + a.count - n));
  const image = imagePlan(g.batch, g.cout, g.ho, g.wo, { top: before(rows), bottom: after(rows, g.ho), left: before(cols), right: after(cols, g.wo) });
  const gemms: TextureGemm[] = [];
  let zeroPhases = false;
  for (let ry = 0; ry < s; ry++) {
    for (let rx = 0; rx < s; rx++) {
      const py = rows[ry];
      const px = cols[rx];
      if (py.count === 0 || px.count === 0) continue;
      if (py.taps === 0 || px.taps === 0) {
        // No tap reaches these input pixels (kernel smaller than the stride): dx is zero there.
        zeroPhases = true;
        continue;
      }
      gemms.push({
        M: g.batch * py.count * px.count,
        N: g.cin,
        c4: image.c4,
        imagePixels: py.count * px.count,
        rowPixels: px.count,
        aImageRows: image.imageRows,
        aRow0: image.top + py.top - (py.taps - 1),
        aCol0: image.left + px.top - (px.taps - 1),
        aStep: 1,
        tapsY: py.taps,
        tapsX: px.taps,
        tapRow0: (ry + (py.taps - 1) * s) * g.kw + rx + (px.taps - 1) * s,
        tapStepY: -s * g.kw,
        tapStepX: -s,
        outImage: g.cin * g.h * g.w,
        outRowLen: g.w,
        outRow0: py.first,
        outCol0: px.first,
        outStep: s,
        outPlane: g.h * g.w,
      });
    }
  }
  return { image, gemms, zeroPhases };
}

function forwardTexture(x: Tensor, w: Tensor, bias: Tensor | undefined, y: Tensor, g: Conv2dGeometry): void {
  const rt = x.rt;
  const { image, gemm } = forwardTexturePlan(g);
  const imageTex = stageImage(rt, x.region(), image);
  const kernelTex = stageKernel(rt, w.region(), g, 'forward');
  runTextureGemm(rt, gemm, imageTex, kernelTex, y.region(), bias?.region());
}

function inputGradTexture(dy: Tensor, w: Tensor, dx: Tensor, g: Conv2dGeometry): void {
  const rt = dy.rt;
  const { image, gemms, zeroPhases } = inputGradTexturePlan(g);
  if (zeroPhases) rt.clear(dx.region());
  // In the 'gradient' role, so that the weight gradient can read the same staging of dy.
  const imageTex = stageImage(rt, dy.region(), image, 'gradient');
  stagedGradients.set(rt, { source: dy, plan: image, texture: imageTex, generation: staging(rt).generation });
  const kernelTex = stageKernel(rt, w.region(), g, 'inputGrad');
  for (const gemm of gemms) runTextureGemm(rt, gemm, imageTex, kernelTex, dx.region(), undefined);
}


/** dy staged channels-last without a border, for the weight gradient. */
function weightGradDyPlan(g: Conv2dGeometry): ImagePlan {
  return imagePlan(g.batch, g.cout, g.ho, g.wo, { top: 0, bottom: 0, left: 0, right: 0 });
}

/** Output channels per invocation of conv2d_wgrad.wgsl. */
function weightGradRows(g: Conv2dGeometry): number {
  return g.cout <= 16 ? 16 : 32;
}

/**
 * Reduction chunks of the texture weight gradient: a multiple of 8 (one per lane), enough
 * for a few dozen workgroups, at least 8 output rows each. Fixed by the shape, so results
 * are reproducible run to run.
 */
export function weightGradTextureSplits(g: Conv2dGeometry): { splits: number; linesPerSplit: number } {
  const groups = g.kh * g.kw * Math.ceil(g.cin / 4);
  const tiles = Math.ceil(groups / 4) * Math.ceil(g.cout / weightGradRows(g));
  const lines = g.batch * g.ho;
  const groupsOf8 = Math.max(1, Math.min(Math.ceil(32 / tiles), Math.floor(lines / 64)));
  const linesPerSplit = Math.ceil(lines / (8 * groupsOf8));
  return { splits: 8 * Math.ceil(lines / linesPerSplit / 8), linesPerSplit };
}

function weightGradTexture(x: Tensor, dy: Tensor, dw: Tensor, g: Conv2dGeometry): void {
  const rt = x.rt;
  const { image, gemm } = forwardTexturePlan(g);
  const dyPlan = weightGradDyPlan(g);
  const xTex = stageImage(rt, x.region(), image);
  // dy where the input gradient just staged it (its interior, past the border), else staged here.
  const kept = stagedGradients.get(rt);
  const reuse = kept !== undefined && kept.source === dy && kept.generation === staging(rt).generation;
  const dyTex = reuse ? kept.texture : stageImage(rt, dy.region(), dyPlan, 'gradient');
  const dyLayout = reuse ? kept.plan : dyPlan;
  stagedGradients.delete(rt);
  const { splits, linesPerSplit } = weightGradTextureSplits(g);
  const K = g.cin * g.kh * g.kw;
  const groups = g.kh * g.kw * image.c4;
  const rows = weightGradRows(g);
  const partial = empty([splits, g.cout * K], rt);
  const words = paramsLayout('conv2d_wgrad').words({
    cout: g.cout,
    cin: g.cin,
    taps: g.kh * g.kw,
    kw: g.kw,
    groups,
    c4x: image.c4,
    cout4: dyPlan.c4,
    ho: g.ho,
    wo: g.wo,
    lines: g.batch * g.ho,
    linesPerSplit,
    xImageRows: image.imageRows,
    xStep: gemm.aStep,
    dyImageRows: dyLayout.imageRows,
    dyRow0: dyLayout.top,
    dyCol0: dyLayout.left,
  });
  rt.dispatchBound(
    { shader: 'conv2d_wgrad', entry: 'main', overrides: { ROWS: rows } },
    [
      { binding: 0, resource: { buffer: paramBuffer(rt, words) } },
      { binding: 1, resource: dyTex.createView() },
      { binding: 2, resource: xTex.createView() },
      bufferEntry(3, partial.region()),
    ],
    [Math.ceil(groups / 4), Math.ceil(g.cout / rows), splits / 8],
  );
  rt.dispatch({ shader: 'conv2d', entry: 'wgrad_reduce' }, params(g, { splits, total: dw.size }), [dw.region(), partial.region()], flatGrid(dw.size, rt));
  partial.dispose();
}

// ------------------------------------------------------------------ raw passes

/** y = conv2d(x, w) (+ bias) with the given variant (and kernel form for 'implicit'); not recorded on the tape. */
export function conv2dForward(
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  g: Conv2dGeometry,
  variant: ConvVariant,
  kernel: ConvKernel | 'auto' = 'auto',
): Tensor {
  checkSize(x, g.batch * g.cin * g.h * g.w, 'input', g);
  checkSize(w, g.cout * g.cin * g.kh * g.kw, 'weight', g);
  if (bias && bias.size !== g.cout) throw new ShapeError(`conv2d: bias has ${bias.size} values for ${g.cout} output channels`);
  const rt = x.rt;
  const y = empty(outShape(g), rt);
  const K = g.cin * g.kh * g.kw;
  const P = g.ho * g.wo;
  switch (variant) {
    case 'implicit': {
      const form = chooseConvKernel(rt, g, 'forward', kernel);
      if (form === 'texture') {
        forwardTexture(x, w, bias, y, g);
        return y;
      }
      if (form === 'gather') {
        if (fusesStride2Gather(g, rt)) {
          rt.dispatch(
            { shader: 'conv2d', entry: 'fwd_1x1_s2', overrides: { HAS_BIAS: bias ? 1 : 0 } },
            params(g),
            [y.region(), x.region(), w.region(), bias ? bias.region() : rt.dummyRegion()],
            [Math.ceil(P / 64), Math.ceil(g.cout / 32), g.batch],
          );
          return y;
        }
        // y[b] = W [Cout, Cin] · pixels[b] [Cin, Ho·Wo].
        const pixels = gather1x1(x, g);
        batchedMatmul(y, w, [1, g.cout, g.cin], pixels, [g.batch, g.cin, P], {});
        pixels.dispose();
        if (bias) addBiasInPlace(y, bias, g);
        return y;
      }
      rt.dispatch(
        { shader: 'conv2d', entry: 'fwd_implicit', overrides: { HAS_BIAS: bias ? 1 : 0 } },
        params(g),
        [y.region(), x.region(), w.region(), bias ? bias.region() : rt.dummyRegion()],
        gemmGrid(g.batch * P, g.cout, rt),
      );
      return y;
    }
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
export function conv2dInputGrad(dy: Tensor, w: Tensor, g: Conv2dGeometry, variant: ConvVariant, kernel: ConvKernel | 'auto' = 'auto'): Tensor {
  checkSize(dy, g.batch * g.cout * g.ho * g.wo, 'output gradient', g);
  const rt = dy.rt;
  const K = g.cin * g.kh * g.kw;
  const P = g.ho * g.wo;
  switch (variant) {
    case 'implicit': {
      const dx = empty([g.batch, g.cin, g.h, g.w], rt);
      if (chooseConvKernel(rt, g, 'inputGrad', kernel) === 'texture') {
        inputGradTexture(dy, w, dx, g);
        return dx;
      }
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

/** dW [Cout, Cin, kh, kw] from x and dy; not recorded. `forcedSplits` applies to the buffer form. */
export function conv2dWeightGrad(
  x: Tensor,
  dy: Tensor,
  g: Conv2dGeometry,
  variant: ConvVariant,
  forcedSplits?: number,
  kernel: ConvKernel | 'auto' = 'auto',
): Tensor {
  checkSize(x, g.batch * g.cin * g.h * g.w, 'input', g);
  checkSize(dy, g.batch * g.cout * g.ho * g.wo, 'output gradient', g);
  const rt = x.rt;
  const K = g.cin * g.kh * g.kw;
  const P = g.ho * g.wo;
  const wShape = [g.cout, g.cin, g.kh, g.kw];
  switch (variant) {
    case 'implicit': {
      const dw = empty(wShape, rt);
      // A forced split count pins the buffer form (its split-K is what the count means).
      if (forcedSplits === undefined && chooseConvKernel(rt, g, 'weightGrad', kernel) === 'texture') {
        weightGradTexture(x, dy, dw, g);
        return dw;
      }
      const { splits, chunk } = conv2dWeightGradSplits(g, rt, forcedSplits);
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
