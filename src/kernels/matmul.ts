// The matmul kernel family: its kernels, the chooser between them, and matmulInto, which
// encodes one product (unrecorded). The recorded op and its backward rule: src/ops/matmul.ts.
// Kernel family (one binding contract: 0 Params, 1 A, 2 B, 3 bias, 4 C, where possible):
//   naive    shaders/matmul.wgsl main_naive          one invocation per element (reference)
//   tiled    shaders/matmul.wgsl main_tiled          64x64 tiles in workgroup memory (real GPUs)
//   register shaders/matmul_register.wgsl            8x8 per invocation, vec4 loads when aligned
//   texture  shaders/matmul_texture.wgsl (+ _pack)   operands staged into rgba32float textures
//   splitk   shaders/matmul_splitk.wgsl              two passes over K slices (tall K, small C)
//   small    shaders/matmul_small.wgsl               one workgroup per element (N = 1 and the like)
// C = op(A)·op(B) (+ bias) (ReLU), batched over a leading axis with broadcasting.
// Which kernel runs is decided once per (runtime, shape class) and recorded in
// rt.kernelChoices, so a run never changes kernels midway and can pass its choices on.
import { ConfigError, ShapeError } from '../errors.js';
import type { BufferRegion, Runtime } from '../gpu/runtime.js';
import { avoidPowerOfTwo, type StagingCache } from '../gpu/staging.js';
import { paramsLayout } from '../gpu/uniform.js';
import {
  chooseKernel,
  fnv1a,
  forcedKernel,
  kernelVersion,
  pinKernel,
  pinnedKernels,
  plansForSoftware,
  registerFamily,
  setForcedKernel,
  setTunedKernels,
  type KernelFamily,
  type KernelVariant,
} from './chooser.js';
import type { Tensor } from '../tensor.js';

/** A built-in kernel of the matmul family (registerMatmulVariant adds others by name). */
export type MatmulKernel = 'naive' | 'register' | 'tiled' | 'texture' | 'splitk' | 'small';
/** 'auto': the per-shape-class choice (pinned, tuned, or the adapter's default). */
export type MatmulVariant = 'auto' | MatmulKernel;

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** [N], added to every row. */
  bias?: Tensor;
  activation?: 'none' | 'relu';
  /** Force a kernel (benchmarks, tests); otherwise the runtime's choice for the shape class. */
  variant?: MatmulVariant;
}

/** The problem one matmul call solves, as the kernel chooser sees it. */
export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  batch: number;
  transA: boolean;
  transB: boolean;
}

function pow2ceil(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}

/** Shape class: M, N, K rounded up to powers of two, batched or not, transpose flags ('n'/'t'). */
export function matmulShapeClass(s: MatmulShape): string {
  return `${pow2ceil(s.M)}x${pow2ceil(s.N)}x${pow2ceil(s.K)}${s.batch > 1 ? 'b' : ''}:${s.transA ? 't' : 'n'}${s.transB ? 't' : 'n'}`;
}

/** One matmul kernel: the chooser's view (shaders, availability) and how it is encoded. */
export interface MatmulVariantSpec extends KernelVariant<MatmulShape> {
  encode(job: MatmulJob): void;
}

/**
 * The matmul family, declared once: each entry is a variant with its WGSL, when it can run
 * and its encoder. Adding a variant is one entry here (or registerMatmulVariant) plus its
 * .wgsl; the chooser, the autotuner, kernel choices and verify-browser's pins read this table.
 */
export const MATMUL_FAMILY: KernelFamily<MatmulShape, MatmulVariantSpec> = registerFamily({
  name: 'matmul',
  recordsSetting: true,
  variants: new Map<string, MatmulVariantSpec>([
    ['naive', { shaders: ['matmul'], available: () => true, encode: classicEncoder('matmul', 'main_naive', 8) }],
    ['register', { shaders: ['matmul_register'], available: () => true, encode: encodeRegister }],
    ['tiled', { shaders: ['matmul'], available: () => true, encode: classicEncoder('matmul', 'main_tiled', 64) }],
    ['texture', { shaders: ['matmul_texture', 'matmul_pack'], available: textureFits, encode: encodeTexture }],
    ['splitk', { shaders: ['matmul_splitk'], available: (rt, s) => splitSlices(rt, s) >= 2, encode: encodeSplitK }],
    ['small', { shaders: ['matmul_small'], available: (_rt, s) => s.N <= 16, encode: encodeSmall }],
  ]),
  shapeClass: matmulShapeClass,
  untuned: (rt, s) => untunedMatmulKernel(rt, s),
});

/** The family's kernels, in order (live: registerMatmulVariant appends). */
export const MATMUL_KERNELS: readonly MatmulKernel[] = [...MATMUL_FAMILY.variants.keys()] as MatmulKernel[];
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['auto', ...MATMUL_KERNELS];

/**
 * Add a matmul variant: its entry in MATMUL_FAMILY (WGSL files registered with
 * registerShader or in shaders/, availability, encoder). Tests and experiments use it;
 * built-in variants are entries in the table above.
 */
export function registerMatmulVariant(name: string, spec: MatmulVariantSpec): void {
  if (name === 'auto' || MATMUL_FAMILY.variants.has(name)) throw new ConfigError(`A matmul variant named '${name}' exists already.`);
  MATMUL_FAMILY.variants.set(name, spec);
  (MATMUL_KERNELS as string[]).push(name);
  (MATMUL_VARIANTS as string[]).push(name);
}

/** The runtime-wide setting: 'auto' unless setMatmulVariant forced one kernel. */
export function defaultMatmulVariant(rt: Runtime): MatmulVariant {
  return forcedKernel(rt, MATMUL_FAMILY) as MatmulVariant;
}

/** Force one kernel for every shape ('auto' restores the per-shape-class choice). */
export function setMatmulVariant(rt: Runtime, variant: MatmulVariant): void {
  setForcedKernel(rt, MATMUL_FAMILY, variant);
}

/**
 * Pin per-shape-class kernels, e.g. the `matmul@…` entries of a run's recorded
 * rt.kernelChoices when it resumes. Other keys are ignored; unknown kernels are a ConfigError.
 */
export function setMatmulChoices(rt: Runtime, choices: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(choices)) {
    if (key === MATMUL_FAMILY.name) {
      setMatmulVariant(rt, value as MatmulVariant);
      continue;
    }
    if (!key.startsWith(`${MATMUL_FAMILY.name}@`)) continue;
    pinKernel(rt, MATMUL_FAMILY, key.slice(MATMUL_FAMILY.name.length + 1), value);
  }
}

/** The per-shape-class choices made so far on this runtime (keys without the prefix). */
export function matmulChoices(rt: Runtime): Record<string, MatmulKernel> {
  return pinnedKernels(rt, MATMUL_FAMILY) as Record<string, MatmulKernel>;
}

/** Tuned winners by shape class (from the autotuner); used for classes not yet chosen. */
export function setMatmulTuning(rt: Runtime, winners: ReadonlyMap<string, MatmulKernel>): void {
  setTunedKernels(rt, MATMUL_FAMILY, winners);
}

/** Whether a kernel can run this shape on this adapter (texture sizes, scratch sizes). */
export function matmulKernelAvailable(rt: Runtime, kernel: MatmulKernel, s: MatmulShape): boolean {
  const v = MATMUL_FAMILY.variants.get(kernel);
  if (!v) throw new ConfigError(`Unknown matmul variant '${kernel}'. Use one of: ${MATMUL_VARIANTS.join(', ')}.`);
  return v.available(rt, s);
}

/** The texture kernel's staging textures fit: either staging layout may be taken (it depends on offsets too), so both must. */
function textureFits(rt: Runtime, s: MatmulShape): boolean {
  const max = rt.limits.maxTextureDimension2D;
  const kPad = Math.ceil(s.K / 8) * 8;
  const fits = (n: number) => avoidPowerOfTwo(n) <= max;
  return [kPad / 4, Math.ceil(s.M / 4), Math.ceil(s.N / 4), s.M * s.batch, s.N * s.batch, kPad * s.batch].every(fits);
}

/** What runs when nothing is pinned or tuned: measured preferences per adapter kind. */
export function untunedMatmulKernel(rt: Runtime, s: MatmulShape): MatmulKernel {
  const work = s.M * s.N * s.K;
  if (plansForSoftware(rt)) {
    // llvmpipe: texel fetches are vectorized, storage loads are per-lane loops, barriers are
    // costly; so textures for everything big enough to amortize the staging copies.
    if (s.N >= 8 && s.M >= 8 && work >= 64 ** 3 && matmulKernelAvailable(rt, 'texture', s)) return 'texture';
    return 'register';
  }
  if (s.N <= 4 && s.K >= 256) return 'small';
  if (s.K >= 8 * Math.max(s.M, s.N) && s.M * s.N <= 256 * 256 && matmulKernelAvailable(rt, 'splitk', s)) return 'splitk';
  return 'tiled';
}

/** The kernel a call runs: forced by the call or the runtime, else pinned/tuned/default per class. */
export function resolveMatmulKernel(rt: Runtime, s: MatmulShape, requested: MatmulVariant = 'auto'): MatmulKernel {
  return chooseKernel(rt, MATMUL_FAMILY, s, requested) as MatmulKernel;
}

/** A fingerprint of the kernel's assembled WGSL: a new kernel version invalidates tuned entries. */
export function matmulKernelVersion(kernel: MatmulKernel): string {
  return kernelVersion(MATMUL_FAMILY, kernel);
}

export { fnv1a };

export interface MatmulGeometry extends MatmulShape {
  batchA: number;
  batchB: number;
  outShape: number[];
}

export function matmulGeometry(a: Tensor, b: Tensor, transA: boolean, transB: boolean): MatmulGeometry {
  if (a.rank < 2 || b.rank < 2 || a.rank > 3 || b.rank > 3) {
    throw new ShapeError(`matmul takes rank-2 or rank-3 operands, got [${a.shape}] and [${b.shape}]`);
  }
  const [aR, aC] = a.shape.slice(-2);
  const [bR, bC] = b.shape.slice(-2);
  const M = transA ? aC : aR;
  const K = transA ? aR : aC;
  const Kb = transB ? bC : bR;
  const N = transB ? bR : bC;
  if (K !== Kb) {
    throw new ShapeError(
      `matmul: inner dimensions differ: op(A) is [${M}, ${K}] and op(B) is [${Kb}, ${N}] (A [${a.shape}]${transA ? 'ᵀ' : ''}, B [${b.shape}]${transB ? 'ᵀ' : ''})`,
    );
  }
  const batchA = a.rank === 3 ? a.shape[0] : 1;
  const batchB = b.rank === 3 ? b.shape[0] : 1;
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    throw new ShapeError(`matmul: batch sizes ${batchA} and ${batchB} do not broadcast`);
  }
  const batch = Math.max(batchA, batchB);
  const outShape = a.rank === 3 || b.rank === 3 ? [batch, M, N] : [M, N];
  return { M, N, K, batch, batchA, batchB, outShape, transA, transB };
}

/** Encode one matmul into `out` (which may be accumulated into). Not recorded on the tape. */
export function matmulInto(
  out: Tensor,
  a: Tensor,
  b: Tensor,
  opts: MatmulOptions & { accumulate?: boolean } = {},
): void {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const g = matmulGeometry(a, b, transA, transB);
  if (out.size !== g.batch * g.M * g.N) throw new ShapeError(`matmulInto: output [${out.shape}] is not [${g.outShape}]`);
  if (opts.bias && opts.bias.size !== g.N) throw new ShapeError(`matmul: bias has ${opts.bias.size} values for ${g.N} columns`);
  if (g.M === 0 || g.N === 0 || g.batch === 0) return;
  const rt = a.rt;
  if (g.K === 0) throw new ShapeError('matmul with an empty inner dimension');
  const kernel = resolveMatmulKernel(rt, g, opts.variant);
  const job: MatmulJob = {
    rt,
    g,
    a: a.region(),
    b: b.region(),
    bias: opts.bias ? opts.bias.region() : undefined,
    out: out.region(),
    act: opts.activation === 'relu' ? 1 : 0,
    accumulate: opts.accumulate ?? false,
  };
  MATMUL_FAMILY.variants.get(kernel)!.encode(job);
}

/** One product to encode: geometry, operand regions and the epilogue. */
export interface MatmulJob {
  rt: Runtime;
  g: MatmulGeometry;
  a: BufferRegion;
  b: BufferRegion;
  bias: BufferRegion | undefined;
  out: BufferRegion;
  act: number;
  accumulate: boolean;
}

function epilogueOverrides(j: MatmulJob): Record<string, number> {
  return { HAS_BIAS: j.bias ? 1 : 0, ACT: j.act, ACCUMULATE: j.accumulate ? 1 : 0 };
}

/** The fields every matmul Params block starts with: sizes and operand batch strides (0 broadcasts). */
function problemFields(g: MatmulGeometry): Record<string, number> {
  return { M: g.M, N: g.N, K: g.K, batch: g.batch, strideA: g.batchA === 1 ? 0 : g.M * g.K, strideB: g.batchB === 1 ? 0 : g.K * g.N };
}

/** Params of prelude/matmul_contract.wgsl (matmul, matmul_register, matmul_small); `aux` is matmul_small's grid rows. */
function classicUniform(g: MatmulGeometry, aux = 0): Uint8Array {
  return paramsLayout('matmul').pack({ ...problemFields(g), strideC: g.M * g.N, aux });
}

/**
 * The encoder of a kernel with matmul.wgsl's contract (Params as classicUniform, bindings
 * A, B, bias, C; TRANS_A/B and epilogue overrides; one workgroup per block x block of C).
 */
export function classicEncoder(shader: string, entry: string, block: number): (job: MatmulJob) => void {
  return (j) => encodeClassic(j, shader, entry, block);
}

function encodeClassic(j: MatmulJob, shader: string, entry: string, block: number): void {
  const { rt, g } = j;
  rt.dispatch(
    { shader, entry, overrides: { TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0, ...epilogueOverrides(j) } },
    classicUniform(g),
    [j.a, j.b, j.bias ?? rt.dummyRegion(), j.out],
    [Math.ceil(g.N / block), Math.ceil(g.M / block), g.batch],
  );
}

/** Round a binding up to whole vec4s; pool buffers are 256-byte multiples, so it stays inside. */
function vec4Region(r: BufferRegion): BufferRegion {
  const size = Math.ceil(r.size / 16) * 16;
  if (r.offset + size > r.buffer.size) throw new Error(`matmul: region at ${r.offset}+${r.size} cannot be widened to vec4s`);
  return { buffer: r.buffer, offset: r.offset, size };
}

function encodeRegister(j: MatmulJob): void {
  const { rt, g } = j;
  const vecA = !g.transA && g.K % 4 === 0;
  const vecB = !g.transB && g.N % 4 === 0;
  rt.dispatch(
    {
      shader: 'matmul_register',
      entry: 'main',
      overrides: { TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0, VEC_A: vecA ? 1 : 0, VEC_B: vecB ? 1 : 0, ...epilogueOverrides(j) },
    },
    classicUniform(g),
    [vec4Region(j.a), vec4Region(j.b), j.bias ?? rt.dummyRegion(), j.out],
    [Math.ceil(g.N / 64), Math.ceil(g.M / 64), g.batch],
  );
}

function encodeSmall(j: MatmulJob): void {
  const { rt, g } = j;
  const gridY = Math.min(g.M, rt.limits.maxComputeWorkgroupsPerDimension);
  const mBlocks = Math.ceil(g.M / gridY);
  rt.dispatch(
    { shader: 'matmul_small', entry: 'main', overrides: { TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0, ...epilogueOverrides(j) } },
    classicUniform(g, gridY),
    [j.a, j.b, j.bias ?? rt.dummyRegion(), j.out],
    [g.N, gridY, g.batch * mBlocks],
  );
}

/** Scratch for split-K partial sums stays under this many bytes. */
const SPLITK_SCRATCH_BYTES = 64 << 20;

/** Number of K slices: about 256 k per slice (at least 2), at most 32, within the scratch and binding limits. */
function splitSlices(rt: Runtime, s: MatmulShape): number {
  const perSlice = s.batch * s.M * s.N * 4;
  const cap = Math.floor(Math.min(SPLITK_SCRATCH_BYTES, rt.limits.maxStorageBufferBindingSize) / perSlice);
  return Math.min(32, Math.max(2, Math.floor(s.K / 256)), cap, s.K);
}

function encodeSplitK(j: MatmulJob): void {
  const { rt, g } = j;
  const slices = Math.max(1, splitSlices(rt, g));
  const kChunk = Math.ceil(g.K / slices);
  const scratch = rt.acquire(g.batch * slices * g.M * g.N * 4, 'matmul-splitk');
  const partialRegion: BufferRegion = { buffer: scratch, offset: 0, size: g.batch * slices * g.M * g.N * 4 };
  const total = g.batch * g.M * g.N;
  const groups = Math.ceil(total / 64);
  const maxWg = rt.limits.maxComputeWorkgroupsPerDimension;
  const gridY = Math.ceil(groups / maxWg);
  const gridX = Math.ceil(groups / gridY);
  const u = paramsLayout('matmul_splitk').pack({ ...problemFields(g), slices, kChunk, gridX });
  const flags = { TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0 };
  rt.dispatch({ shader: 'matmul_splitk', entry: 'partial', overrides: flags }, u, [j.a, j.b, partialRegion], [
    Math.ceil(g.N / 32),
    Math.ceil(g.M / 32),
    g.batch * slices,
  ]);
  rt.dispatch(
    { shader: 'matmul_splitk', entry: 'reduce', overrides: epilogueOverrides(j) },
    u,
    [partialRegion, j.bias ?? rt.dummyRegion(), j.out],
    [gridX, gridY, 1],
  );
  // Encoded work keeps using the scratch in order; the pool hands it out again only after.
  rt.release(scratch);
}

// ------------------------------------------------------------------ texture-sourced variant

/** The texture kernel's staging textures (A, B), uniform blocks and zero rows, kept by the runtime. */
function staging(rt: Runtime): StagingCache {
  return rt.stagingCache('matmul-texture', { label: 'matmul', maxTextureBytes: 768 << 20, maxParams: 1024 });
}

/** Where one operand's texels come from and how they are laid out. */
interface Staging {
  /** Texel layout in matmul_texture.wgsl terms (A_KMAJOR / B_KMAJOR). */
  kMajor: boolean;
  width: number;
  /** Texel rows per batch written (data rows, then zero rows up to rowsOut). */
  rows: number;
  rowsOut: number;
  /** Plain copy of the buffer's rows; otherwise the pack kernel. */
  direct: boolean;
}

/**
 * Pick each operand's staging. A buffer row can be copied as a texel row when it is a
 * multiple of 64 floats (bytesPerRow must be a multiple of 256) and the offset is texel
 * aligned: row-major A ([M, K]) and B ([K, N]) land in the default layouts, transposed
 * ones ([K, M], [N, K]) in the k-major layouts. Anything else is packed (default layouts).
 */
function textureStaging(g: MatmulGeometry, aOffset: number, bOffset: number): { a: Staging; b: Staging; kPad: number } {
  const kPad = Math.ceil(g.K / 8) * 8;
  const aDirect = aOffset % 16 === 0 && (g.transA ? g.M % 64 === 0 : g.K % 64 === 0);
  const bDirect = bOffset % 16 === 0 && (g.transB ? g.K % 64 === 0 : g.N % 64 === 0);
  const a: Staging =
    aDirect && g.transA
      ? { kMajor: true, width: g.M / 4, rows: g.K, rowsOut: kPad, direct: true }
      : { kMajor: false, width: kPad / 4, rows: g.M, rowsOut: g.M, direct: aDirect };
  const b: Staging =
    bDirect && g.transB
      ? { kMajor: true, width: kPad / 4, rows: g.N, rowsOut: g.N, direct: true }
      : { kMajor: false, width: Math.ceil(g.N / 4), rows: g.K, rowsOut: kPad, direct: bDirect };
  return { a, b, kPad };
}

/** Copy `rows` buffer rows per batch into texel rows, then zero rows up to `rowsOut`. */
function copyRows(rt: Runtime, tex: GPUTexture, src: BufferRegion, st: Staging, batches: number): void {
  const encoder = rt.commandEncoder();
  const rowBytes = st.width * 16;
  if (st.rows === st.rowsOut) {
    encoder.copyBufferToTexture(
      { buffer: src.buffer, offset: src.offset, bytesPerRow: rowBytes, rowsPerImage: st.rows * batches },
      { texture: tex },
      [st.width, st.rows * batches],
    );
    return;
  }
  const tail = st.rowsOut - st.rows;
  const zeros = staging(rt).zeros(tail * rowBytes);
  for (let b = 0; b < batches; b++) {
    encoder.copyBufferToTexture(
      { buffer: src.buffer, offset: src.offset + b * st.rows * rowBytes, bytesPerRow: rowBytes, rowsPerImage: st.rows },
      { texture: tex, origin: [0, b * st.rowsOut] },
      [st.width, st.rows],
    );
    encoder.copyBufferToTexture(
      { buffer: zeros, offset: 0, bytesPerRow: rowBytes, rowsPerImage: tail },
      { texture: tex, origin: [0, b * st.rowsOut + st.rows] },
      [st.width, tail],
    );
  }
}

/** The pack kernel: op(X) [rows, cols] (X transposed in memory or not) into the default layout. */
function packRows(rt: Runtime, tex: GPUTexture, src: BufferRegion, st: Staging, batches: number, cols: number, transposed: boolean, strideSrc: number): void {
  const words = paramsLayout('matmul_pack').words({ rows: st.rows, cols, rowsOut: st.rowsOut, width: st.width, batches, strideSrc });
  rt.dispatchBound(
    { shader: 'matmul_pack', entry: 'main', overrides: { TRANSPOSED: transposed ? 1 : 0 } },
    [
      { binding: 0, resource: { buffer: staging(rt).paramBuffer(words) } },
      { binding: 1, resource: { buffer: src.buffer, offset: src.offset, size: src.size } },
      { binding: 2, resource: tex.createView() },
    ],
    [Math.ceil(st.width / 8), Math.ceil((st.rowsOut * batches) / 8), 1],
  );
}

function encodeTexture(j: MatmulJob): void {
  const { rt, g } = j;
  const { a, b, kPad } = textureStaging(g, j.a.offset, j.b.offset);
  const aTex = staging(rt).texture('A', a.width, a.rowsOut * g.batchA);
  const bTex = staging(rt).texture('B', b.width, b.rowsOut * g.batchB);
  if (a.direct) copyRows(rt, aTex, j.a, a, g.batchA);
  else packRows(rt, aTex, j.a, a, g.batchA, g.K, g.transA, g.M * g.K);
  if (b.direct) copyRows(rt, bTex, j.b, b, g.batchB);
  else packRows(rt, bTex, j.b, b, g.batchB, g.N, g.transB, g.K * g.N);
  const epilogue = (j.bias ? 1 : 0) | (j.act === 1 ? 2 : 0) | (j.accumulate ? 4 : 0);
  const strides = { strideA: g.batchA === 1 ? 0 : a.rowsOut, strideB: g.batchB === 1 ? 0 : b.rowsOut, strideC: g.M * g.N };
  const words = paramsLayout('matmul_texture').words({ M: g.M, N: g.N, K: g.K, batch: g.batch, ...strides, kPad, epilogue });
  const bias = j.bias ?? rt.dummyRegion();
  rt.dispatchBound(
    { shader: 'matmul_texture', entry: 'main', overrides: { A_KMAJOR: a.kMajor ? 1 : 0, B_KMAJOR: b.kMajor ? 1 : 0 } },
    [
      { binding: 0, resource: { buffer: staging(rt).paramBuffer(words) } },
      { binding: 1, resource: aTex.createView() },
      { binding: 2, resource: bTex.createView() },
      { binding: 3, resource: { buffer: bias.buffer, offset: bias.offset, size: bias.size } },
      { binding: 4, resource: { buffer: j.out.buffer, offset: j.out.offset, size: j.out.size } },
    ],
    [Math.ceil(g.N / 128), Math.ceil(g.M / 128), g.batch],
  );
}
