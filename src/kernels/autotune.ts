// Matmul autotuner: per (adapter, shape class) it times the kernels that can run the shape,
// after checking each one against the naive kernel, and keeps the fastest correct one.
// Winners persist through a small store interface (a JSON file in Node, see
// autotune-store-node.ts; Web Storage in a browser; memory in tests), each entry stamped
// with a checksum of the candidate set, so a new kernel version invalidates stale entries.
// Applying winners (loadMatmulTuning) only affects shape classes a runtime has not used
// yet: a run in progress keeps its kernels (rt.kernelChoices records them).
import { ConfigError } from '../errors.js';
import {
  MATMUL_KERNELS,
  fnv1a,
  matmulInto,
  matmulKernelAvailable,
  matmulKernelVersion,
  matmulShapeClass,
  setMatmulTuning,
  untunedMatmulKernel,
  type MatmulKernel,
  type MatmulShape,
} from './matmul.js';
import { empty, fromData, type Tensor } from '../tensor.js';
import type { Runtime } from '../gpu/runtime.js';
import { adapterKey, type AutotuneEntry, type AutotuneStore, type CandidateTiming } from '../gpu/autotune-store.js';

export * from '../gpu/autotune-store.js';

/** One thing the tuner can time: a kernel (or a test's stand-in) that computes C = op(A)·op(B). */
export interface MatmulCandidate {
  /** Stable identity, including the kernel version (it enters the checksum). */
  id: string;
  kernel: MatmulKernel;
  encode(out: Tensor, a: Tensor, b: Tensor, shape: MatmulShape): void;
}

export function kernelCandidate(kernel: MatmulKernel): MatmulCandidate {
  return {
    id: `${kernel}@${matmulKernelVersion(kernel)}`,
    kernel,
    encode: (out, a, b, s) => matmulInto(out, a, b, { transA: s.transA, transB: s.transB, variant: kernel }),
  };
}

/** Above this many multiply-adds the naive kernel is only the reference, never a contender. */
const NAIVE_CANDIDATE_WORK = 128 ** 3;

/** The family's kernels that can run `shape` here. */
export function defaultMatmulCandidates(rt: Runtime, shape: MatmulShape): MatmulCandidate[] {
  const work = shape.M * shape.N * shape.K * shape.batch;
  return MATMUL_KERNELS.filter((k) => matmulKernelAvailable(rt, k, shape) && (k !== 'naive' || work <= NAIVE_CANDIDATE_WORK)).map(kernelCandidate);
}

export function candidateChecksum(candidates: readonly MatmulCandidate[]): string {
  return fnv1a(
    candidates
      .map((c) => c.id)
      .sort()
      .join('\n'),
  );
}

export type CandidateSource = (rt: Runtime, shape: MatmulShape) => MatmulCandidate[];

export interface TuneOptions {
  store?: AutotuneStore;
  /** Time for this shape, all candidates together (each still runs at least once). */
  budgetMs?: number;
  candidates?: CandidateSource;
  /** Re-time even when a valid entry exists. */
  force?: boolean;
  /** Use wall time around rt.sync() even when timestamp queries exist. */
  wallClock?: boolean;
}

/** A stored winner of the matmul family. */
export interface MatmulAutotuneEntry extends AutotuneEntry {
  kernel: MatmulKernel;
  shape: MatmulShape;
}

export interface TuneResult {
  shapeClass: string;
  entry: MatmulAutotuneEntry;
  /** True when a stored entry was reused instead of timing. */
  cached: boolean;
}

function entryKey(rt: Runtime, shapeClass: string): string {
  return `${adapterKey(rt)}|${shapeClass}`;
}

/** Deterministic operands in [-1, 1]. */
function pseudoRandom(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 8) / (1 << 23) - 1;
  }
  return out;
}

function operandShapes(s: MatmulShape): [number[], number[]] {
  const a = s.transA ? [s.K, s.M] : [s.M, s.K];
  const b = s.transB ? [s.N, s.K] : [s.K, s.N];
  return s.batch > 1 ? [[s.batch, ...a], [s.batch, ...b]] : [a, b];
}

function makeOperands(rt: Runtime, s: MatmulShape, seed: number): { a: Tensor; b: Tensor; out: Tensor } {
  const [sa, sb] = operandShapes(s);
  const size = (shape: number[]) => shape.reduce((x, y) => x * y, 1);
  return {
    a: fromData(pseudoRandom(size(sa), seed), sa, rt),
    b: fromData(pseudoRandom(size(sb), seed + 1), sb, rt),
    out: empty(s.batch > 1 ? [s.batch, s.M, s.N] : [s.M, s.N], rt),
  };
}

/**
 * A smaller member of the same class for the correctness check (the naive reference is
 * slow): keeps each size's remainder modulo 64, so the kernels take the same edge and
 * alignment paths (vec4 loads, plain texture copies) as at the full shape.
 */
export function verifyShape(s: MatmulShape): MatmulShape {
  const shrink = (n: number, floor: number) => (n <= floor + 64 ? n : floor + (n % 64));
  return { ...s, M: shrink(s.M, 128), N: shrink(s.N, 128), K: shrink(s.K, 256), batch: Math.min(s.batch, 2) };
}

async function verify(rt: Runtime, cand: MatmulCandidate, s: MatmulShape): Promise<CandidateTiming | undefined> {
  const c = verifyShape(s);
  const { a, b, out: unused } = makeOperands(rt, c, 7);
  unused.dispose();
  const ref = empty(unused.shape, rt);
  // NaN-filled, so a candidate that skips elements cannot pass.
  const out = fromData(new Float32Array(ref.size).fill(Number.NaN), ref.shape, rt);
  try {
    matmulInto(ref, a, b, { transA: c.transA, transB: c.transB, variant: 'naive' });
    cand.encode(out, a, b, c);
    const [got, want] = [await out.read(), await ref.read()];
    // Inputs in [-1, 1]: f32 rounding of a length-K dot product stays far below this.
    const tol = 1e-5 * (c.K + 8);
    for (let i = 0; i < want.length; i++) {
      if (!(Math.abs(got[i] - want[i]) <= tol)) {
        return { rejected: 'wrong-result', detail: `element ${i}: ${got[i]} instead of ${want[i]} at ${c.M}x${c.N}x${c.K}` };
      }
    }
    return undefined;
  } catch (err) {
    return { rejected: 'failed', detail: err instanceof Error ? err.message : String(err) };
  } finally {
    a.dispose();
    b.dispose();
    out.dispose();
    ref.dispose();
  }
}

/** Times GPU work: timestamp queries around it when the device has them, else wall time around sync. */
class GpuTimer {
  readonly kind: 'timestamp' | 'wall';
  private querySet: GPUQuerySet | undefined;
  private resolveBuffer: GPUBuffer | undefined;

  constructor(
    private readonly rt: Runtime,
    wallClock: boolean,
  ) {
    this.kind = rt.ctx.hasTimestamps && !wallClock ? 'timestamp' : 'wall';
    if (this.kind === 'timestamp') {
      this.querySet = rt.device.createQuerySet({ type: 'timestamp', count: 2 });
      // QUERY_RESOLVE | COPY_SRC
      this.resolveBuffer = rt.device.createBuffer({ size: 256, usage: 0x0200 | 0x0004, label: 'autotune-timestamps' });
    }
  }

  /** Milliseconds for `reps` calls of `run`. */
  async time(run: () => void, reps: number): Promise<number> {
    await this.rt.sync();
    if (this.kind === 'wall' || !this.querySet || !this.resolveBuffer) {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) run();
      await this.rt.sync();
      return performance.now() - t0;
    }
    // Empty marker passes carry the timestamps; everything between them runs in order.
    const mark = (index: 0 | 1) => {
      const writes: GPUComputePassTimestampWrites =
        index === 0 ? { querySet: this.querySet!, beginningOfPassWriteIndex: 0 } : { querySet: this.querySet!, endOfPassWriteIndex: 1 };
      this.rt.commandEncoder().beginComputePass({ timestampWrites: writes }).end();
    };
    mark(0);
    for (let i = 0; i < reps; i++) run();
    mark(1);
    this.rt.commandEncoder().resolveQuerySet(this.querySet, 0, 2, this.resolveBuffer, 0);
    const ticks = new BigInt64Array(await this.rt.readRegion({ buffer: this.resolveBuffer, offset: 0, size: 16 }));
    return Number(ticks[1] - ticks[0]) / 1e6;
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuffer?.destroy();
  }
}

/**
 * Tune one shape: reuse a valid stored entry unless `force`, else check every candidate
 * against the naive kernel, time the correct ones within the budget and store the winner.
 */
export async function tuneMatmulShape(rt: Runtime, shape: MatmulShape, opts: TuneOptions = {}): Promise<TuneResult> {
  const shapeClass = matmulShapeClass(shape);
  const candidates = (opts.candidates ?? defaultMatmulCandidates)(rt, shape);
  if (candidates.length === 0) throw new ConfigError(`No matmul kernel can run ${shapeClass} on this adapter.`);
  const checksum = candidateChecksum(candidates);
  const key = entryKey(rt, shapeClass);
  if (opts.store && !opts.force) {
    const stored = (await opts.store.read()).entries[key] as MatmulAutotuneEntry | undefined;
    if (stored && stored.checksum === checksum) return { shapeClass, entry: stored, cached: true };
  }
  // The adapter's untuned default goes first: it sets the bar that slow candidates must meet.
  const preferred = untunedMatmulKernel(rt, shape);
  const ordered = [...candidates].sort((x, y) => Number(y.kernel === preferred) - Number(x.kernel === preferred));
  const timings: Record<string, CandidateTiming> = {};
  const budgetMs = opts.budgetMs ?? 2000;
  const started = performance.now();
  const timer = new GpuTimer(rt, opts.wallClock ?? false);
  const { a, b, out } = makeOperands(rt, shape, 11);
  let best: { cand: MatmulCandidate; ms: number } | undefined;
  try {
    for (const cand of ordered) {
      const wrong = await verify(rt, cand, shape);
      if (wrong) {
        timings[cand.id] = wrong;
        continue;
      }
      try {
        // verify() already compiled this candidate's pipelines (same overrides: the check
        // shape keeps the alignment), so the first full-size call is timed as is.
        let ms = await timer.time(() => cand.encode(out, a, b, shape), 1);
        if (best && ms > 3 * best.ms) {
          timings[cand.id] = { ms, rejected: 'too-slow' };
          continue;
        }
        // Further trials while this candidate's share of the budget lasts; keep the best.
        const share = budgetMs / ordered.length;
        const reps = Math.max(1, Math.min(16, Math.floor(share / 4 / Math.max(ms, 0.01))));
        const candStart = performance.now();
        while (performance.now() - candStart < share && performance.now() - started < budgetMs) {
          ms = Math.min(ms, (await timer.time(() => cand.encode(out, a, b, shape), reps)) / reps);
        }
        timings[cand.id] = { ms };
        if (!best || ms < best.ms) best = { cand, ms };
      } catch (err) {
        timings[cand.id] = { rejected: 'failed', detail: err instanceof Error ? err.message : String(err) };
      }
    }
  } finally {
    timer.destroy();
    a.dispose();
    b.dispose();
    out.dispose();
  }
  if (!best) throw new ConfigError(`Every matmul candidate failed for ${shapeClass}: ${JSON.stringify(timings)}`);
  const entry: MatmulAutotuneEntry = {
    kernel: best.cand.kernel,
    checksum,
    shape,
    ms: best.ms,
    gflops: (2 * shape.M * shape.N * shape.K * shape.batch) / (best.ms * 1e6),
    timings,
    timer: timer.kind,
    at: new Date().toISOString(),
  };
  if (opts.store) {
    await opts.store.update((data) => {
      data.entries[key] = entry;
    });
  }
  return { shapeClass, entry, cached: false };
}

/**
 * Give the runtime the stored winners for its adapter whose candidate set is unchanged;
 * returns how many were applied. Classes the runtime already used keep their kernel.
 */
export async function loadMatmulTuning(rt: Runtime, store: AutotuneStore, candidates: CandidateSource = defaultMatmulCandidates): Promise<number> {
  const data = await store.read();
  const prefix = `${adapterKey(rt)}|`;
  const winners = new Map<string, MatmulKernel>();
  for (const [key, entry] of Object.entries(data.entries)) {
    if (!key.startsWith(prefix) || !entry?.shape) continue;
    if (candidateChecksum(candidates(rt, entry.shape as MatmulShape)) !== entry.checksum) continue;
    winners.set(key.slice(prefix.length), entry.kernel as MatmulKernel);
  }
  setMatmulTuning(rt, winners);
  return winners.size;
}
