// `lplr bench matmul --kernel my.wgsl`: a user's matmul kernel under the built-in
// binding contract (docs/kernel-contract.md), checked against a float64 CPU reference on
// odd shapes, then timed beside the built-in variants.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assembleWgslSource } from '../scripts/wgsl-import.mjs';
import { ConfigError, GpuError, LplrError } from '../src/errors.js';
import type { Grid, KernelSpec, Runtime } from '../src/gpu/runtime.js';
import { paramsLayout } from '../src/gpu/uniform.js';
import { fromData, type Tensor } from '../src/tensor.js';

/** The override constants of the contract; a kernel declares the ones it supports. */
export const CONTRACT_OVERRIDES = ['TRANS_A', 'TRANS_B', 'HAS_BIAS', 'ACT', 'ACCUMULATE'] as const;
export type ContractOverride = (typeof CONTRACT_OVERRIDES)[number];

export interface UserKernel {
  file: string;
  source: string;
  entry: string;
  /** Output tile per workgroup: grid = (ceil(N / tileN), ceil(M / tileM), batch). */
  tileM: number;
  tileN: number;
  /** Contract overrides the source declares. */
  supports: Set<ContractOverride>;
}

function constInt(source: string, name: string): number | undefined {
  const m = new RegExp(`(?:const|override)\\s+${name}\\s*(?::\\s*[ui]32)?\\s*=\\s*(\\d+)u?\\s*;`).exec(source);
  return m ? Number(m[1]) : undefined;
}

/** Read and statically check a user kernel (entry point present, tile size known). */
export function loadUserKernel(file: string, entry = 'main', tile?: string): UserKernel {
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`--kernel ${file}: cannot read the file. Give the path of a WGSL file (see docs/kernel-contract.md).`);
  }
  try {
    // #import lines, as in shaders/ (a copy of a built-in kernel imports its preludes).
    source = assembleWgslSource(source, path.resolve(file)).text;
  } catch (err) {
    throw new ConfigError(`--kernel ${err instanceof Error ? err.message : String(err)}`);
  }
  const entries = [...source.matchAll(/@compute[\s\S]*?fn\s+(\w+)\s*\(/g)].map((m) => m[1]);
  if (!entries.includes(entry)) {
    throw new ConfigError(
      `--kernel ${file} has no @compute entry point '${entry}'${entries.length ? ` (it has: ${entries.join(', ')}); pass --entry NAME` : '; declare one (see docs/kernel-contract.md)'}.`,
    );
  }
  let tileM: number | undefined;
  let tileN: number | undefined;
  if (tile !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(tile);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new ConfigError(`--tile expects MxN with positive integers (e.g. 64x64), got '${tile}'.`);
    tileM = Number(m[1]);
    tileN = Number(m[2]);
  } else {
    tileM = constInt(source, 'TILE_M');
    tileN = constInt(source, 'TILE_N');
  }
  const supports = new Set(CONTRACT_OVERRIDES.filter((name) => new RegExp(`override\\s+${name}\\b`).test(source)));
  return { file, source, entry, tileM: tileM ?? 32, tileN: tileN ?? 32, supports };
}

export interface UserDispatchOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor;
  relu?: boolean;
  accumulate?: boolean;
}

function kernelSpec(k: UserKernel, o: UserDispatchOptions): KernelSpec {
  const want: Record<ContractOverride, number> = {
    TRANS_A: o.transA ? 1 : 0,
    TRANS_B: o.transB ? 1 : 0,
    HAS_BIAS: o.bias ? 1 : 0,
    ACT: o.relu ? 1 : 0,
    ACCUMULATE: o.accumulate ? 1 : 0,
  };
  const overrides: Record<string, number> = {};
  for (const name of CONTRACT_OVERRIDES) {
    if (k.supports.has(name)) overrides[name] = want[name];
    else if (want[name]) throw new ConfigError(`The kernel ${k.file} does not declare 'override ${name}'`);
  }
  // The shader name starts with 'user-matmul' so that the profiler counts its FLOPs.
  return { shader: `user-matmul-${path.basename(k.file, '.wgsl')}`, entry: k.entry, source: k.source, overrides };
}

/** Encode C = op(A)·op(B) with the user kernel under the built-in contract (batch 1 or A, B, C batched). */
export function dispatchUserKernel(
  rt: Runtime,
  k: UserKernel,
  dims: { M: number; N: number; K: number; batch: number },
  a: Tensor,
  b: Tensor,
  c: Tensor,
  o: UserDispatchOptions = {},
): void {
  const { M, N, K, batch } = dims;
  // The classic matmul contract's Params (shaders/uniforms/matmul.json), as the built-in kernels get it.
  const u = paramsLayout('matmul').pack({ M, N, K, batch, strideA: M * K, strideB: K * N, strideC: M * N, aux: 0 });
  const grid: Grid = [Math.ceil(N / k.tileN), Math.ceil(M / k.tileM), batch];
  rt.dispatch(kernelSpec(k, o), u, [a.region(), b.region(), o.bias ? o.bias.region() : rt.dummyRegion(), c.region()], grid);
}

/** float64 reference of the contract: C[b] = act(op(A[b])·op(B[b]) + bias) (+ C0). */
export function referenceMatmul(
  dims: { M: number; N: number; K: number; batch: number },
  a: Float32Array,
  b: Float32Array,
  o: { transA?: boolean; transB?: boolean; bias?: Float32Array; relu?: boolean; c0?: Float32Array },
): { value: Float64Array; magnitude: Float64Array } {
  const { M, N, K, batch } = dims;
  const value = new Float64Array(batch * M * N);
  const magnitude = new Float64Array(batch * M * N);
  for (let bi = 0; bi < batch; bi++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        let mag = 0;
        for (let k = 0; k < K; k++) {
          const av = a[bi * M * K + (o.transA ? k * M + m : m * K + k)];
          const bv = b[bi * K * N + (o.transB ? n * K + k : k * N + n)];
          s += av * bv;
          mag += Math.abs(av * bv);
        }
        if (o.bias) {
          s += o.bias[n];
          mag += Math.abs(o.bias[n]);
        }
        if (o.relu) s = Math.max(s, 0);
        const idx = bi * M * N + m * N + n;
        if (o.c0) {
          s += o.c0[idx];
          mag += Math.abs(o.c0[idx]);
        }
        value[idx] = s;
        magnitude[idx] = mag;
      }
    }
  }
  return { value, magnitude };
}

export interface CheckCase {
  name: string;
  M: number;
  N: number;
  K: number;
  batch: number;
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  relu?: boolean;
  accumulate?: boolean;
}

export interface CheckResult extends CheckCase {
  passed: boolean;
  /** max |got − ref| / (Σ|a·b| + ε) over the output. */
  maxRelError: number | null;
  error?: string;
}

/** Odd shapes (edges in every dimension, K = 1, a row/column vector, a batch) and each declared feature once. */
export function checkCases(k: UserKernel): CheckCase[] {
  const cases: CheckCase[] = [
    { name: '1x1x1', M: 1, N: 1, K: 1, batch: 1 },
    { name: '7x13x5', M: 7, N: 13, K: 5, batch: 1 },
    { name: '33x65x17', M: 33, N: 65, K: 17, batch: 1 },
    { name: '127x1x300', M: 127, N: 1, K: 300, batch: 1 },
    { name: '1x130x67', M: 1, N: 130, K: 67, batch: 1 },
    { name: '61x67x129', M: 61, N: 67, K: 129, batch: 1 },
    { name: '3x(9x5x11)', M: 9, N: 5, K: 11, batch: 3 },
  ];
  if (k.supports.has('TRANS_A')) cases.push({ name: '37x29x41 Aᵀ', M: 37, N: 29, K: 41, batch: 1, transA: true });
  if (k.supports.has('TRANS_B')) cases.push({ name: '37x29x41 Bᵀ', M: 37, N: 29, K: 41, batch: 1, transB: true });
  if (k.supports.has('TRANS_A') && k.supports.has('TRANS_B')) cases.push({ name: '19x45x23 AᵀBᵀ', M: 19, N: 45, K: 23, batch: 1, transA: true, transB: true });
  if (k.supports.has('HAS_BIAS')) cases.push({ name: '21x35x9 +bias', M: 21, N: 35, K: 9, batch: 1, bias: true });
  if (k.supports.has('ACT')) cases.push({ name: '21x35x9 relu', M: 21, N: 35, K: 9, batch: 1, relu: true });
  if (k.supports.has('ACCUMULATE')) cases.push({ name: '21x35x9 +=C', M: 21, N: 35, K: 9, batch: 1, accumulate: true });
  return cases;
}

function seeded(n: number, seed: number): Float32Array {
  // A small LCG: deterministic operands in [-1, 1) without the engine's RNG.
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Relative tolerance of an f32 dot product of length K against its float64 value. */
export function tolerance(K: number): number {
  return 1e-6 * (8 + K);
}

/**
 * Compile and dispatch the kernel once inside a validation error scope, so that a
 * contract violation (an unused binding, a compile error) is one clear error instead of
 * a validation failure per shape.
 */
export async function validateUserKernel(rt: Runtime, k: UserKernel): Promise<void> {
  rt.flush();
  const a = fromData([1], [1], rt);
  const b = fromData([1], [1], rt);
  const c = fromData([0], [1], rt);
  let scoped: GPUError | null = null;
  rt.device.pushErrorScope('validation');
  try {
    dispatchUserKernel(rt, k, { M: 1, N: 1, K: 1, batch: 1 }, a, b, c);
    rt.flush();
  } finally {
    scoped = await rt.device.popErrorScope();
    await rt.device.queue.onSubmittedWorkDone();
    a.dispose();
    b.dispose();
    c.dispose();
  }
  // Compilation messages arrive through the runtime's error queue (with file and line).
  const queued: string[] = [];
  for (let e = rt.ctx.takeError(); e; e = rt.ctx.takeError()) queued.push(e.message);
  if (scoped || queued.length) {
    const first = (scoped?.message ?? '').split('\n').filter((l) => l.trim() && !l.startsWith(' -')).slice(0, 2).join(' ');
    throw new ConfigError(
      `The kernel ${k.file} (entry ${k.entry}) is not valid under the matmul contract: ${[...queued, first].filter(Boolean).join('; ')}. ` +
        'See docs/kernel-contract.md (bindings 0-4 must all be used by the entry point; Params is 8 u32).',
    );
  }
}

export async function checkUserKernel(rt: Runtime, k: UserKernel): Promise<CheckResult[]> {
  await validateUserKernel(rt, k);
  const out: CheckResult[] = [];
  for (const [i, c] of checkCases(k).entries()) {
    const dims = { M: c.M, N: c.N, K: c.K, batch: c.batch };
    const aData = seeded(c.batch * c.M * c.K, 3 * i + 1);
    const bData = seeded(c.batch * c.K * c.N, 3 * i + 2);
    const biasData = c.bias ? seeded(c.N, 3 * i + 3) : undefined;
    const c0 = c.accumulate ? seeded(c.batch * c.M * c.N, 7 * i + 5) : undefined;
    const tensors: Tensor[] = [];
    try {
      const a = fromData(aData, [aData.length], rt);
      const b = fromData(bData, [bData.length], rt);
      const dst = fromData(c0 ?? new Float32Array(c.batch * c.M * c.N), [c.batch * c.M * c.N], rt);
      const bias = biasData ? fromData(biasData, [c.N], rt) : undefined;
      tensors.push(a, b, dst, ...(bias ? [bias] : []));
      dispatchUserKernel(rt, k, dims, a, b, dst, { transA: c.transA, transB: c.transB, bias, relu: c.relu, accumulate: c.accumulate });
      const got = await dst.read();
      const ref = referenceMatmul(dims, aData, bData, { transA: c.transA, transB: c.transB, bias: biasData, relu: c.relu, c0 });
      let worst = 0;
      for (let j = 0; j < got.length; j++) {
        const e = Math.abs(got[j] - ref.value[j]) / (ref.magnitude[j] + 1e-12);
        // NaN must fail, so compare with `!(e <= worst)`.
        if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
      }
      out.push({ ...c, passed: worst <= tolerance(c.K), maxRelError: worst });
    } catch (err) {
      if (!(err instanceof LplrError)) throw err;
      const msg = err instanceof GpuError ? `${err.message} (check the bindings against docs/kernel-contract.md)` : err.message;
      out.push({ ...c, passed: false, maxRelError: null, error: msg });
      // A failed dispatch can leave an error queued; drop it so the next case starts clean.
      while (rt.ctx.takeError()) {
        /* drained */
      }
    } finally {
      for (const t of tensors) t.dispose();
    }
  }
  return out;
}
