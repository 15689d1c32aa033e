// Per-kernel GPU profiler. Attaching it sets the runtime's `dispatchListener` (every
// dispatch then gets its own compute pass) and, where the adapter has 'timestamp-query',
// `profilePassDescriptor`, so that a begin/end timestamp pair brackets exactly one kernel.
// Timestamps go into large query sets that are resolved and read back once per step.
// Without timestamps each dispatch is submitted alone and the wall time of its submit is
// recorded ("timed submits"): exact on backends that execute a submit synchronously
// (Dawn's GL backend on llvmpipe), only the CPU cost of the submit elsewhere, which is
// why the time the step then still waits for the GPU is reported as its own row.
//
// The profiler also wraps the runtime's `dispatch` and `flush` on the instance (restored
// on detach) to learn each kernel's work (FLOPs of GEMM-shaped kernels, bytes bound) and
// how much of a step's CPU time is encoding rather than submitting.
import { ConfigError } from '../errors.js';
import type { BufferRegion, Grid, KernelSpec, Runtime } from './runtime.js';

export type ProfileSource = 'timestamps' | 'timed-submits';

export interface KernelWork {
  /** Floating-point operations (2 per multiply-add), when the kernel's shape is known. */
  flops?: number;
  /** Bytes of the storage regions the kernel binds (each read or written about once). */
  bytes: number;
}

export interface DispatchRecord extends KernelWork {
  /** `shader:entry`. */
  name: string;
  /** GPU time of the kernel (timestamps) or wall time of its submit (timed submits). */
  ms: number;
  /** Timestamps in ns on the device timeline (timestamp mode only). */
  beginNs?: number;
  endNs?: number;
}

export interface StepProfile {
  source: ProfileSource;
  dispatches: DispatchRecord[];
  /** Σ of the per-dispatch times. */
  kernelMs: number;
  /** Begin to end of the whole step on the GPU (timestamp mode; copies and staging included). */
  spanMs?: number;
  /** Time the step waited for the GPU after its last submit (timed submits: not attributed to a kernel). */
  waitMs: number;
  /** Submits of encoded work outside any kernel's own submit (copies, clears, uploads), timed-submit mode. */
  otherSubmitMs: number;
  /** CPU time of the step's synchronous part minus the time spent inside submits. */
  encodeMs: number;
  /** Wall time of the whole step including the final wait. */
  wallMs: number;
}

export interface KernelRow {
  name: string;
  calls: number;
  totalMs: number;
  /** Fraction of the summed kernel time. */
  share: number;
  flops: number | undefined;
  bytes: number;
  gflops: number | undefined;
  gbps: number | undefined;
}

export interface ProfileSummary {
  source: ProfileSource;
  steps: number;
  kernels: KernelRow[];
  perStep: { kernelMs: number; spanMs?: number; waitMs: number; otherSubmitMs: number; encodeMs: number; wallMs: number; dispatches: number };
}

export interface ProfilerOptions {
  /** 'auto' uses timestamps where the device has them. */
  mode?: 'auto' | ProfileSource;
  /** Queries per query set (two per dispatch); at most 4096 per the WebGPU spec. */
  querySetSize?: number;
}

// Spec values (the GPU* flag globals may not exist before the Node bindings load).
const QUERY_RESOLVE = 0x0200;
const COPY_SRC = 0x0004;

const GEMM_CONV_ENTRIES = new Set(['fwd_implicit', 'dgrad_implicit', 'wgrad_partial', 'fwd_direct', 'dgrad_direct', 'wgrad_direct']);

/**
 * Kernels whose uniform block starts with the matmul Params (M, N, K, batch) and which do
 * the product's multiply-adds (a split-K reduce or an operand-packing pass does not).
 */
export function isGemmKernel(spec: KernelSpec): boolean {
  const entry = spec.entry ?? 'main';
  if (spec.shader.startsWith('user-matmul')) return true;
  switch (spec.shader) {
    case 'matmul':
    case 'matmul_register':
    case 'matmul_small':
    case 'matmul_texture':
      return true;
    case 'matmul_splitk':
      return entry === 'partial';
    default:
      return false;
  }
}

/**
 * What a dispatch computes, where that is known from its uniform block: matmul-contract
 * kernels (Params starts M, N, K, batch; see docs/kernel-contract.md) and the GEMM-like
 * conv2d entries (Params starts batch, cin, h, w, cout, ho, wo, kh, kw). Bytes are the
 * sizes of the bound storage regions, the dummy placeholder excluded. Passes that an op
 * encodes itself (not through rt.dispatch, e.g. the texture-sourced matmul) reach the
 * profiler only through the listener: timed, but with unknown work.
 */
export function estimateWork(rt: Runtime, spec: KernelSpec, uniform: ArrayBuffer | ArrayBufferView, storage: readonly BufferRegion[]): KernelWork {
  const dummy = rt.dummyRegion().buffer;
  let bytes = 0;
  for (const r of storage) if (r.buffer !== dummy) bytes += r.size;
  const view =
    uniform instanceof ArrayBuffer ? new DataView(uniform) : new DataView(uniform.buffer, uniform.byteOffset, uniform.byteLength);
  const u = (i: number) => (view.byteLength >= 4 * (i + 1) ? view.getUint32(4 * i, true) : 0);
  if (isGemmKernel(spec)) {
    return { flops: 2 * u(0) * u(1) * u(2) * Math.max(1, u(3)), bytes };
  }
  if (spec.shader === 'conv2d' && GEMM_CONV_ENTRIES.has(spec.entry ?? 'main')) {
    const [batch, cin, , , cout, ho, wo, kh, kw] = [u(0), u(1), u(2), u(3), u(4), u(5), u(6), u(7), u(8)];
    return { flops: 2 * batch * ho * wo * cout * cin * kh * kw, bytes };
  }
  return { bytes };
}

interface QuerySlot {
  set: GPUQuerySet;
  resolve: GPUBuffer;
  used: number;
  resolved: boolean;
}

interface PendingDispatch extends KernelWork {
  name: string;
  slot?: QuerySlot;
  index?: number;
  ms?: number;
}

type RuntimeHooks = Pick<Runtime, 'dispatch' | 'flush'>;

export class Profiler {
  readonly source: ProfileSource;
  private readonly rt: Runtime;
  private readonly querySetSize: number;
  private readonly slots: QuerySlot[] = [];
  private active = 0;
  private pending: PendingDispatch[] = [];
  /** Empty passes that bracket a step, so that its span includes copies outside kernels. */
  private markers: { slot: QuerySlot; index: number }[] = [];
  private work: KernelWork | undefined;
  private submitMs = 0;
  private otherSubmitMs = 0;
  private attached = false;
  private readonly history: StepProfile[] = [];
  private original: RuntimeHooks | undefined;

  constructor(rt: Runtime, opts: ProfilerOptions = {}) {
    this.rt = rt;
    const mode = opts.mode ?? 'auto';
    if (mode === 'timestamps' && !rt.ctx.hasTimestamps) {
      throw new ConfigError(
        `The adapter "${rt.ctx.info.description || rt.ctx.info.device}" has no 'timestamp-query' feature; profile with timed submits (mode 'auto' or 'timed-submits').`,
      );
    }
    this.source = mode === 'auto' ? (rt.ctx.hasTimestamps ? 'timestamps' : 'timed-submits') : mode;
    this.querySetSize = Math.max(2, Math.min(4096, Math.floor((opts.querySetSize ?? 4096) / 2) * 2));
  }

  /** Steps profiled so far (each `profileStep` adds one). */
  get steps(): readonly StepProfile[] {
    return this.history;
  }

  attach(): void {
    if (this.attached) return;
    if (this.rt.dispatchListener || this.rt.profilePassDescriptor) {
      throw new ConfigError('Another profiler is attached to this runtime; detach it first.');
    }
    this.rt.flush();
    const rt = this.rt;
    const original: RuntimeHooks = { dispatch: rt.dispatch, flush: rt.flush };
    this.original = original;
    // Instance properties shadow the prototype methods, also for the runtime's own `this.flush()`.
    rt.dispatch = (spec, uniform, storage, grid: Grid) => {
      this.work = estimateWork(rt, spec, uniform, storage);
      if (this.source === 'timed-submits') this.timedFlush(false);
      original.dispatch.call(rt, spec, uniform, storage, grid);
      this.work = undefined;
    };
    rt.flush = () => {
      const t0 = performance.now();
      try {
        original.flush.call(rt);
      } finally {
        this.submitMs += performance.now() - t0;
      }
    };
    rt.dispatchListener = (name) => this.onDispatch(name);
    if (this.source === 'timestamps') rt.profilePassDescriptor = () => this.passDescriptor();
    this.attached = true;
  }

  detach(): void {
    if (!this.attached) return;
    this.rt.flush();
    this.rt.dispatchListener = undefined;
    this.rt.profilePassDescriptor = undefined;
    Reflect.deleteProperty(this.rt, 'dispatch');
    Reflect.deleteProperty(this.rt, 'flush');
    this.attached = false;
    for (const s of this.slots) {
      s.set.destroy();
      s.resolve.destroy();
    }
    this.slots.length = 0;
  }

  /** Flush now and time the submit (timed-submit mode); `kernel` says whose time it is. */
  private timedFlush(kernel: boolean): number {
    const t0 = performance.now();
    this.rt.flush();
    const ms = performance.now() - t0;
    if (!kernel) this.otherSubmitMs += ms;
    return ms;
  }

  private currentSlot(): QuerySlot {
    let slot = this.slots[this.active];
    if (slot && slot.used + 2 > this.querySetSize) {
      this.resolveSlot(slot);
      slot = this.slots[++this.active];
    }
    if (!slot) {
      const device = this.rt.device;
      slot = {
        set: device.createQuerySet({ type: 'timestamp', count: this.querySetSize, label: 'lplr-profiler' }),
        resolve: device.createBuffer({ size: this.querySetSize * 8, usage: QUERY_RESOLVE | COPY_SRC, label: 'lplr-profiler-resolve' }),
        used: 0,
        resolved: false,
      };
      this.slots.push(slot);
    }
    return slot;
  }

  private passDescriptor(): GPUComputePassDescriptor {
    const slot = this.currentSlot();
    const index = slot.used;
    slot.used += 2;
    this.pending.push({ name: '', bytes: 0, slot, index });
    return { timestampWrites: { querySet: slot.set, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 } };
  }

  private markerPass(): void {
    const slot = this.currentSlot();
    const index = slot.used;
    slot.used += 2;
    this.markers.push({ slot, index });
    this.rt
      .commandEncoder()
      .beginComputePass({ timestampWrites: { querySet: slot.set, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 } })
      .end();
  }

  private onDispatch(name: string): void {
    const work = this.work ?? { bytes: 0 };
    if (this.source === 'timestamps') {
      // passDescriptor() queued the record for this very pass just before.
      const rec = this.pending[this.pending.length - 1];
      Object.assign(rec, work, { name });
    } else {
      this.pending.push({ name, ...work, ms: this.timedFlush(true) });
    }
  }

  private resolveSlot(slot: QuerySlot): void {
    if (slot.resolved || slot.used === 0) return;
    this.rt.commandEncoder().resolveQuerySet(slot.set, 0, slot.used, slot.resolve, 0);
    slot.resolved = true;
  }

  /**
   * Run one step under the profiler: `fn` encodes work (its synchronous part is the
   * encode time), then the step's queries are resolved and read back once.
   */
  async profileStep(fn: () => void | Promise<void>): Promise<StepProfile> {
    if (!this.attached) this.attach();
    this.rt.flush();
    this.pending = [];
    this.markers = [];
    this.active = 0;
    for (const s of this.slots) {
      s.used = 0;
      s.resolved = false;
    }
    this.submitMs = 0;
    this.otherSubmitMs = 0;
    if (this.source === 'timestamps') this.markerPass();
    const t0 = performance.now();
    const maybe = fn();
    const syncEnd = performance.now();
    const encodeMs = Math.max(0, syncEnd - t0 - this.submitMs);
    if (maybe instanceof Promise) await maybe;
    if (this.source === 'timestamps') this.markerPass();
    const beforeWait = performance.now();
    this.rt.flush();
    await this.rt.sync();
    const waitMs = performance.now() - beforeWait;
    const wallMs = performance.now() - t0;
    const { dispatches, spanMs } = await this.collect();
    const kernelMs = dispatches.reduce((a, d) => a + d.ms, 0);
    const step: StepProfile = {
      source: this.source,
      dispatches,
      kernelMs,
      spanMs,
      waitMs: this.source === 'timed-submits' ? waitMs : 0,
      otherSubmitMs: this.otherSubmitMs,
      encodeMs,
      wallMs,
    };
    this.history.push(step);
    return step;
  }

  private async collect(): Promise<{ dispatches: DispatchRecord[]; spanMs?: number }> {
    if (this.source === 'timed-submits') {
      return { dispatches: this.pending.map((p) => ({ name: p.name, ms: p.ms ?? 0, flops: p.flops, bytes: p.bytes })) };
    }
    const used = this.slots.filter((s) => s.used > 0);
    for (const s of used) this.resolveSlot(s);
    const values = new Map<QuerySlot, BigUint64Array>();
    for (const s of used) {
      const raw = await this.rt.readRegion({ buffer: s.resolve, offset: 0, size: s.used * 8 });
      values.set(s, new BigUint64Array(raw));
    }
    const dispatches = this.pending.map((p) => {
      const v = values.get(p.slot!)!;
      const begin = Number(v[p.index!]);
      const end = Number(v[p.index! + 1]);
      // A zero or reversed pair means the implementation did not write the query (or wrapped).
      const ms = end > begin ? (end - begin) / 1e6 : 0;
      return { name: p.name, ms, flops: p.flops, bytes: p.bytes, beginNs: begin, endNs: end };
    });
    let spanMs: number | undefined;
    if (this.markers.length === 2) {
      const [first, last] = this.markers;
      const begin = Number(values.get(first.slot)![first.index]);
      const end = Number(values.get(last.slot)![last.index + 1]);
      spanMs = end > begin ? (end - begin) / 1e6 : 0;
    }
    return { dispatches, spanMs };
  }

  /** Per-kernel totals over the profiled steps (or the given ones), largest first. */
  summary(steps: readonly StepProfile[] = this.history): ProfileSummary {
    return summarizeSteps(steps, this.source);
  }
}

export function summarizeSteps(steps: readonly StepProfile[], source: ProfileSource): ProfileSummary {
  const byName = new Map<string, { calls: number; ms: number; flops: number; flopsKnown: boolean; bytes: number }>();
  let kernelMs = 0;
  for (const s of steps) {
    for (const d of s.dispatches) {
      let e = byName.get(d.name);
      if (!e) byName.set(d.name, (e = { calls: 0, ms: 0, flops: 0, flopsKnown: true, bytes: 0 }));
      e.calls++;
      e.ms += d.ms;
      e.bytes += d.bytes;
      if (d.flops === undefined) e.flopsKnown = false;
      else e.flops += d.flops;
      kernelMs += d.ms;
    }
  }
  const kernels: KernelRow[] = [...byName.entries()]
    .map(([name, e]) => ({
      name,
      calls: e.calls,
      totalMs: e.ms,
      share: kernelMs > 0 ? e.ms / kernelMs : 0,
      flops: e.flopsKnown ? e.flops : undefined,
      bytes: e.bytes,
      gflops: e.flopsKnown && e.ms > 0 ? e.flops / (e.ms * 1e6) : undefined,
      // Bandwidth only means something for kernels that are not GEMM-shaped.
      gbps: !e.flopsKnown && e.ms > 0 && e.bytes > 0 ? e.bytes / (e.ms * 1e6) : undefined,
    }))
    .sort((a, b) => b.totalMs - a.totalMs);
  const n = Math.max(1, steps.length);
  const avg = (f: (s: StepProfile) => number) => steps.reduce((a, s) => a + f(s), 0) / n;
  const spans = steps.map((s) => s.spanMs).filter((x): x is number => x !== undefined);
  return {
    source,
    steps: steps.length,
    kernels,
    perStep: {
      kernelMs: avg((s) => s.kernelMs),
      spanMs: spans.length ? spans.reduce((a, b) => a + b, 0) / spans.length : undefined,
      waitMs: avg((s) => s.waitMs),
      otherSubmitMs: avg((s) => s.otherSubmitMs),
      encodeMs: avg((s) => s.encodeMs),
      wallMs: avg((s) => s.wallMs),
      dispatches: avg((s) => s.dispatches.length),
    },
  };
}

function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** The per-kernel table and the per-step lines, aligned for a terminal. */
export function formatProfile(s: ProfileSummary): string {
  const header = ['kernel', 'calls', 'total ms', 'share', 'GFLOP/s', 'GB/s'];
  const rows = s.kernels.map((k) => [
    k.name,
    String(k.calls),
    fmtMs(k.totalMs),
    `${(k.share * 100).toFixed(1)}%`,
    k.gflops === undefined ? '-' : k.gflops.toFixed(2),
    k.gbps === undefined ? '-' : k.gbps.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const p = s.perStep;
  const timing = s.source === 'timestamps' ? 'GPU timestamp queries, one pass per kernel' : 'timed submits (one submit per kernel; exact only where a submit runs synchronously)';
  const out = [
    `timing: ${timing}; ${s.steps} step(s)`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `per step: ${p.dispatches.toFixed(0)} dispatches, kernels ${fmtMs(p.kernelMs)} ms` +
      (p.spanMs !== undefined ? `, GPU span ${fmtMs(p.spanMs)} ms` : '') +
      (s.source === 'timed-submits' ? `, other submits ${fmtMs(p.otherSubmitMs)} ms, unattributed wait ${fmtMs(p.waitMs)} ms` : '') +
      `, CPU encode ${fmtMs(p.encodeMs)} ms, wall ${fmtMs(p.wallMs)} ms`,
  ];
  return out.join('\n');
}
