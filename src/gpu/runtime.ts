// The kernel runtime: pipeline cache, buffer pool, uniform ring, batched command
// encoding, explicit readback. Every GPU dispatch in lplr goes through `dispatch`.
//
// Binding convention for every kernel in shaders/: @binding(0) is the uniform struct
// (shapes, scalars), storage buffers follow at @binding(1..n) in the order given.
// Shapes travel as uniforms, so a pipeline is keyed only by shader + entry point +
// override constants, and a new shape never recompiles.
import { GpuError, LimitError } from '../errors.js';
import type { GpuContext } from './device.js';
import { shaderSource } from './shaders.js';
import { StagingCache, type StagingCacheOptions } from './staging.js';

export interface KernelSpec {
  /** File name in shaders/ without extension, e.g. 'matmul'. */
  shader: string;
  entry?: string;
  /** WGSL `override` constants; part of the pipeline key. */
  overrides?: Record<string, number>;
  /** Generated WGSL instead of a file in shaders/ (small specializations only). */
  source?: string;
}

/** A region of a GPU buffer bound as one storage binding. */
export interface BufferRegion {
  buffer: GPUBuffer;
  /** Byte offset; a multiple of minStorageBufferOffsetAlignment. */
  offset: number;
  /** Byte size of the region. */
  size: number;
}

export type Grid = readonly [number, number?, number?];

export interface DispatchStats {
  dispatches: number;
  submits: number;
  readbacks: number;
  pipelinesCreated: number;
}

export interface MemoryStats {
  /** Bytes in buffers handed out and not yet released to the pool. */
  liveBytes: number;
  /** Bytes in the pool's free lists. */
  pooledBytes: number;
  /** Bytes held by kernel caches outside the pool (e.g. the texture matmul's staging textures); trim() drops them. */
  cachedBytes: number;
  /** Bytes of every buffer and texture created and not yet destroyed (live + pooled + cached + internal). */
  allocatedBytes: number;
}

/**
 * GPU memory a kernel family keeps for reuse outside the buffer pool (staging textures,
 * uniform blocks). Registered with Runtime.registerCache so that memoryStats() counts it
 * and trim() can release it.
 */
export interface KernelCache {
  /** Bytes of the buffers and textures it holds now. */
  bytes(): number;
  /** Destroy all of it. Called after the encoded work was submitted (destroy waits for it). */
  drop(): void;
}

export type DispatchListener = (name: string, encoder: GPUComputePassEncoder | undefined) => void;

// Spec values; the GPUBufferUsage globals may not exist before the Node bindings load.
const USAGE = { MAP_READ: 0x0001, COPY_SRC: 0x0004, COPY_DST: 0x0008, UNIFORM: 0x0040, STORAGE: 0x0080 } as const;
const STORAGE_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;

/** Size classes: multiples of 256 B up to 4 KiB, then 8 steps per power of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 256) * 256);
  if (b <= 4096) return b;
  const pow = 2 ** Math.floor(Math.log2(b));
  const step = pow / 8;
  return Math.ceil(b / step) * step;
}

const UNIFORM_SLOT = 256;
const MAX_DISPATCHES_PER_BATCH = 512;

export class Runtime {
  readonly ctx: GpuContext;
  readonly device: GPUDevice;
  private pipelines = new Map<string, GPUComputePipeline>();
  private modules = new Map<string, GPUShaderModule>();
  private free = new Map<number, GPUBuffer[]>();
  private readonly bufferSizes = new WeakMap<GPUBuffer, number>();
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private batchDispatches = 0;
  /** Kernels ('shader:entry') encoded in the open batch, to name them in its errors. */
  private readonly batchKernels = new Set<string>();
  /** Kernels of the last submitted batch (context for device loss and unscoped errors). */
  private lastBatchKernels: string[] = [];
  /** Error-scope results of submitted batches not yet known. */
  private readonly scopeChecks = new Set<Promise<void>>();
  private uniformRing: GPUBuffer;
  private uniformData: Uint8Array<ArrayBuffer>;
  private uniformUsed = 0;
  private readonly stats: DispatchStats = { dispatches: 0, submits: 0, readbacks: 0, pipelinesCreated: 0 };
  private mem = { live: 0, pooled: 0, allocated: 0 };
  private readonly staging: GPUBuffer[] = [];
  private readonly caches = new Map<string, KernelCache>();
  /** Per-dispatch hooks (profiler). When set, every dispatch gets its own pass. */
  dispatchListener: DispatchListener | undefined;
  /** Records kernel choices (e.g. matmul variants) so that a run can log and reuse them. */
  readonly kernelChoices = new Map<string, string>();
  private destroyed = false;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.device = ctx.device;
    const slots = 4096;
    this.uniformRing = this.createRaw(slots * UNIFORM_SLOT, USAGE.UNIFORM | USAGE.COPY_DST, 'uniform-ring');
    this.uniformData = new Uint8Array(slots * UNIFORM_SLOT);
    ctx.setWorkContext?.(() => (this.lastBatchKernels.length ? `after kernels ${listKernels(this.lastBatchKernels)}` : ''));
  }

  private dummy: GPUBuffer | undefined;
  /** A small buffer to bind where a kernel's optional input is unused (e.g. no bias). */
  dummyRegion(): BufferRegion {
    this.dummy ??= this.createRaw(256, STORAGE_USAGE, 'dummy');
    return { buffer: this.dummy, offset: 0, size: 256 };
  }

  get limits() {
    return this.ctx.limits;
  }

  get dispatchStats(): Readonly<DispatchStats> {
    return this.stats;
  }

  memoryStats(): MemoryStats {
    let cachedBytes = 0;
    for (const cache of this.caches.values()) cachedBytes += cache.bytes();
    return { liveBytes: this.mem.live, pooledBytes: this.mem.pooled, cachedBytes, allocatedBytes: this.mem.allocated + cachedBytes };
  }

  /** Count `cache` in memoryStats() and release it in trim(); `name` replaces an earlier registration. */
  registerCache(name: string, cache: KernelCache): void {
    this.caches.set(name, cache);
  }

  private readonly stagingCaches = new Map<string, StagingCache>();

  /**
   * The staging textures, uniform blocks and zero rows of a texture-sourced kernel family,
   * created on first use under `name`, counted in memoryStats() and released by trim().
   */
  stagingCache(name: string, options: StagingCacheOptions): StagingCache {
    let cache = this.stagingCaches.get(name);
    if (!cache) {
      cache = new StagingCache(this.device, () => this.flush(), options);
      this.stagingCaches.set(name, cache);
      this.registerCache(name, cache);
    }
    return cache;
  }

  // ---------------------------------------------------------------- buffers

  private createRaw(size: number, usage: number, label: string): GPUBuffer {
    if (size > this.ctx.limits.maxBufferSize) {
      throw new LimitError(
        `Buffer '${label}' needs ${fmtBytes(size)} but the adapter allows at most ${fmtBytes(this.ctx.limits.maxBufferSize)} per buffer. ` +
          `Use a smaller width or batch, or a GPU with larger limits.`,
      );
    }
    const buffer = this.device.createBuffer({ size, usage, label });
    this.bufferSizes.set(buffer, size);
    this.mem.allocated += size;
    return buffer;
  }

  /** A storage buffer of at least `bytes` from the pool; contents undefined. */
  acquire(bytes: number, label = 'tensor'): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    const reused = list?.pop();
    if (reused) {
      this.mem.pooled -= size;
      this.mem.live += size;
      return reused;
    }
    const buffer = this.createRaw(size, STORAGE_USAGE, label);
    this.mem.live += size;
    return buffer;
  }

  /** Return a buffer from `acquire` to the pool. GPU work already encoded keeps using it in order. */
  release(buffer: GPUBuffer): void {
    const size = this.bufferSizes.get(buffer);
    if (size === undefined) throw new Error('release() of a buffer the runtime did not create');
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.mem.live -= size;
    this.mem.pooled += size;
  }

  /** A dedicated storage buffer outside the pool (arenas). */
  createStorage(bytes: number, label: string): GPUBuffer {
    const buffer = this.createRaw(Math.max(256, Math.ceil(bytes / 256) * 256), STORAGE_USAGE, label);
    this.mem.live += this.bufferSizes.get(buffer)!;
    return buffer;
  }

  destroyStorage(buffer: GPUBuffer): void {
    const size = this.bufferSizes.get(buffer) ?? 0;
    this.flush();
    buffer.destroy();
    this.mem.live -= size;
    this.mem.allocated -= size;
  }

  /** Destroy the pool's free buffers and empty the kernel caches. */
  trim(): void {
    this.flush();
    for (const cache of this.caches.values()) cache.drop();
    for (const list of this.free.values()) for (const b of list) {
      const size = this.bufferSizes.get(b)!;
      b.destroy();
      this.mem.pooled -= size;
      this.mem.allocated -= size;
    }
    this.free.clear();
  }

  /** Upload bytes into a buffer. Flushes encoded work first so the write is ordered after it. */
  write(buffer: GPUBuffer, byteOffset: number, data: ArrayBufferView): void {
    this.flush();
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    // writeBuffer wants sizes in multiples of 4.
    if (bytes.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      this.device.queue.writeBuffer(buffer, byteOffset, padded);
    } else {
      this.device.queue.writeBuffer(buffer, byteOffset, bytes);
    }
  }

  // --------------------------------------------------------------- pipelines

  private module(spec: KernelSpec): GPUShaderModule {
    const key = spec.source !== undefined ? `gen:${spec.shader}:${spec.source}` : spec.shader;
    let m = this.modules.get(key);
    if (!m) {
      const code = spec.source ?? shaderSource(spec.shader);
      const file = `${spec.shader}.wgsl`;
      m = this.device.createShaderModule({ code, label: file });
      this.modules.set(key, m);
      // Compilation messages arrive asynchronously; queue them ahead of the generic
      // "invalid pipeline" errors so that the first error reported names the file and line.
      void m.getCompilationInfo().then((info) => {
        const errors = info.messages.filter((msg) => msg.type === 'error');
        if (errors.length) {
          const where = errors.map((e) => `${file}:${e.lineNum}:${e.linePos}: ${e.message}`).join('; ');
          this.ctx.reportError(new GpuError(`Shader ${file} failed to compile: ${where}`));
        }
      });
    }
    return m;
  }

  pipeline(spec: KernelSpec): GPUComputePipeline {
    const entry = spec.entry ?? 'main';
    const overrides = spec.overrides ?? {};
    const overrideKey = Object.keys(overrides)
      .sort()
      .map((k) => `${k}=${overrides[k]}`)
      .join(',');
    const key = `${spec.shader}|${entry}|${overrideKey}|${spec.source ?? ''}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.device.createComputePipeline({
        label: `${spec.shader}.wgsl:${entry}`,
        layout: 'auto',
        compute: { module: this.module(spec), entryPoint: entry, constants: overrides },
      });
      this.pipelines.set(key, p);
      this.stats.pipelinesCreated++;
    }
    return p;
  }

  /** Compile a pipeline and report validation errors with the shader's name (tests, tuning). */
  async checkPipeline(spec: KernelSpec): Promise<void> {
    this.device.pushErrorScope('validation');
    this.pipeline(spec);
    const err = await this.device.popErrorScope();
    if (err) throw new GpuError(`Shader ${spec.shader}.wgsl (entry ${spec.entry ?? 'main'}) failed to compile: ${err.message}`);
  }

  // ---------------------------------------------------------------- dispatch

  /**
   * Open a batch: its command encoder and two error scopes (validation, out-of-memory) that
   * stay pushed until flush() submits it, so that any error raised while encoding or
   * submitting the batch is reported with the kernels it contains. Scopes nest: code that
   * pushes its own scope around a flushed batch (checkPipeline, bench/user-kernel) still
   * pops its own.
   */
  private beginBatch(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope('validation');
      this.device.pushErrorScope('out-of-memory');
      this.encoder = this.device.createCommandEncoder({ label: 'lplr-batch' });
    }
    return this.encoder;
  }

  private ensurePass(): GPUComputePassEncoder {
    const encoder = this.beginBatch();
    if (!this.pass) this.pass = encoder.beginComputePass();
    return this.pass;
  }

  private ensureEncoder(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = undefined;
    }
    return this.beginBatch();
  }

  /** Reserve a uniform slot and fill it; returns its byte offset. */
  private uniformSlot(data: ArrayBuffer | ArrayBufferView): number {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength > UNIFORM_SLOT) throw new Error(`uniform block of ${bytes.byteLength} B exceeds ${UNIFORM_SLOT} B`);
    if (this.uniformUsed + UNIFORM_SLOT > this.uniformData.byteLength) this.flush();
    const offset = this.uniformUsed;
    this.uniformData.set(bytes, offset);
    this.uniformUsed += UNIFORM_SLOT;
    return offset;
  }

  /**
   * Encode one compute dispatch. `storage` regions bind at 1..n, `uniform` at 0.
   * Nothing runs until the batch is flushed (automatically every few hundred
   * dispatches, or by a readback).
   */
  dispatch(spec: KernelSpec, uniform: ArrayBuffer | ArrayBufferView, storage: readonly BufferRegion[], grid: Grid): void {
    if (this.destroyed) throw new GpuError('The runtime was destroyed; create a new one with init().');
    const [gx, gy = 1, gz = 1] = grid;
    if (gx === 0 || gy === 0 || gz === 0) return;
    const maxWg = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    if (gx > maxWg || gy > maxWg || gz > maxWg) {
      throw new LimitError(`Kernel ${spec.shader}.wgsl needs a grid of ${gx}x${gy}x${gz} workgroups; the adapter allows ${maxWg} per dimension.`);
    }
    const maxBinding = this.ctx.limits.maxStorageBufferBindingSize;
    for (const r of storage) {
      if (r.size > maxBinding) {
        throw new LimitError(
          `Kernel ${spec.shader}.wgsl binds ${fmtBytes(r.size)} but the adapter allows ${fmtBytes(maxBinding)} per storage binding. ` +
            `Reduce the width or the number of samples per chunk.`,
        );
      }
    }
    const uOffset = this.uniformSlot(uniform);
    // Pipeline and bind group are created inside the batch's error scopes.
    this.beginBatch();
    const name = `${spec.shader}:${spec.entry ?? 'main'}`;
    this.batchKernels.add(name);
    const pipeline = this.pipeline(spec);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniformRing, offset: uOffset, size: UNIFORM_SLOT } }];
    storage.forEach((r, i) => entries.push({ binding: i + 1, resource: { buffer: r.buffer, offset: r.offset, size: r.size } }));
    // Labelled with the kernel name, which Dawn quotes in its messages.
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: name });
    if (this.dispatchListener) {
      // Profiling: one pass per dispatch so timestamps bracket exactly one kernel.
      const encoder = this.ensureEncoder();
      const pass = encoder.beginComputePass(this.profilePassDescriptor?.(name));
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(gx, gy, gz);
      pass.end();
      this.dispatchListener(name, pass);
    } else {
      const pass = this.ensurePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(gx, gy, gz);
    }
    this.stats.dispatches++;
    if (++this.batchDispatches >= MAX_DISPATCHES_PER_BATCH) this.flush();
  }

  /**
   * Encode one dispatch with explicit bind-group entries (textures, or a uniform block of
   * its own) in a pass of its own. The texture kernels use it; everything else goes through
   * dispatch(). Named like dispatch's kernels in errors and the profiler.
   */
  dispatchBound(spec: KernelSpec, entries: GPUBindGroupEntry[], grid: readonly [number, number, number]): void {
    if (this.destroyed) throw new GpuError('The runtime was destroyed; create a new one with init().');
    if (grid.some((n) => n === 0)) return;
    const name = `${spec.shader}:${spec.entry ?? 'main'}`;
    const encoder = this.ensureEncoder();
    this.batchKernels.add(name);
    const pipeline = this.pipeline(spec);
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: name });
    const pass = encoder.beginComputePass(this.profilePassDescriptor?.(name));
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    pass.end();
    this.dispatchListener?.(name, pass);
  }

  /** Set by the profiler to attach timestampWrites to each pass. */
  profilePassDescriptor: ((name: string) => GPUComputePassDescriptor | undefined) | undefined;

  copy(src: BufferRegion, dst: BufferRegion): void {
    if (src.size !== dst.size) throw new Error(`copy size mismatch ${src.size} vs ${dst.size}`);
    this.ensureEncoder().copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, src.size);
  }

  clear(region: BufferRegion): void {
    this.ensureEncoder().clearBuffer(region.buffer, region.offset, region.size);
  }

  /** Expose the batch encoder (outside any pass) for profiler resolve commands. */
  commandEncoder(): GPUCommandEncoder {
    return this.ensureEncoder();
  }

  /** Submit everything encoded so far. */
  flush(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = undefined;
    }
    if (!this.encoder) return;
    if (this.uniformUsed > 0) {
      // One upload per batch: each dispatch owns a distinct slot, so all writes land
      // before the batch runs; the next batch's writes are ordered after this submit.
      this.device.queue.writeBuffer(this.uniformRing, 0, this.uniformData, 0, this.uniformUsed);
      this.uniformUsed = 0;
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = undefined;
    this.batchDispatches = 0;
    this.stats.submits++;
    const kernels = [...this.batchKernels];
    this.batchKernels.clear();
    if (kernels.length) this.lastBatchKernels = kernels;
    // Popped in reverse order of beginBatch's pushes.
    const outOfMemory = this.device.popErrorScope();
    const validation = this.device.popErrorScope();
    const check: Promise<void> = Promise.all([validation, outOfMemory]).then(
      ([v, m]) => {
        this.scopeChecks.delete(check);
        if (v) this.ctx.reportError(new GpuError(kernelErrorMessage('validation', v.message, kernels)));
        else if (m) this.ctx.reportError(new GpuError(kernelErrorMessage('out-of-memory', m.message, kernels)));
      },
      () => {
        // The device was lost or destroyed: device.lost reports that.
        this.scopeChecks.delete(check);
      },
    );
    this.scopeChecks.add(check);
    const err = this.ctx.takeError();
    if (err) throw err;
  }

  /** Wait until the error scopes of every submitted batch have answered. */
  private async settleScopes(): Promise<void> {
    while (this.scopeChecks.size) await Promise.all([...this.scopeChecks]);
  }

  /** Wait for all submitted work; surfaces asynchronous WebGPU errors. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.settleScopes();
    const err = this.ctx.takeError();
    if (err) throw err;
  }

  /** Copy a region back to the CPU. The one place lplr waits on the GPU. */
  async readRegion(region: BufferRegion): Promise<ArrayBuffer> {
    const size = Math.ceil(region.size / 4) * 4;
    const staging = this.takeStaging(size);
    this.ensureEncoder().copyBufferToBuffer(region.buffer, region.offset, staging, 0, size);
    this.flush();
    this.stats.readbacks++;
    try {
      await staging.mapAsync(GPUMapModeFlags.READ, 0, size);
    } catch (e) {
      await this.settleScopes();
      const err = this.ctx.takeError();
      throw err ?? new GpuError(`Reading a buffer back failed: ${String(e)}`);
    }
    const out = staging.getMappedRange(0, size).slice(0);
    staging.unmap();
    this.staging.push(staging);
    await this.settleScopes();
    const err = this.ctx.takeError();
    if (err) throw err;
    return out.byteLength === region.size ? out : out.slice(0, region.size);
  }

  private takeStaging(size: number): GPUBuffer {
    const idx = this.staging.findIndex((b) => (this.bufferSizes.get(b) ?? 0) >= size);
    if (idx >= 0) return this.staging.splice(idx, 1)[0];
    // Staging buffers are internal: counted in allocatedBytes, never in live/pooled.
    return this.createRaw(sizeClass(size), USAGE.MAP_READ | USAGE.COPY_DST, 'staging');
  }

  destroy(): void {
    if (this.destroyed) return;
    try {
      this.flush();
    } catch {
      // Destroying after an error must still release the device.
    }
    this.destroyed = true;
    this.pipelines.clear();
    this.modules.clear();
    this.free.clear();
    this.caches.clear();
    this.stagingCaches.clear();
    // Tear the device down once the queue has drained: with Dawn in Node, destroying the
    // device and dropping the instance while work from device creation is in flight
    // crashed the process at exit (SIGSEGV/SIGABRT in test/engine-exit.test.ts).
    const ctx = this.ctx;
    this.device.queue.onSubmittedWorkDone().then(
      () => ctx.destroy(),
      () => ctx.destroy(),
    );
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }
}

const GPUMapModeFlags = { READ: 0x0001 };

/** 'a:main, b:main and 3 more' */
function listKernels(kernels: readonly string[]): string {
  const shown = kernels.slice(0, 6).join(', ');
  return kernels.length > 6 ? `${shown} and ${kernels.length - 6} more` : shown;
}

/**
 * A batch's WebGPU error with the kernel it came from: the one whose label Dawn quotes
 * (bind groups carry 'shader:entry', pipelines 'shader.wgsl:entry'), else the batch's list.
 */
export function kernelErrorMessage(kind: 'validation' | 'out-of-memory', message: string, kernels: readonly string[]): string {
  const quoted = kernels.filter((k) => {
    const [shader, entry] = k.split(':');
    return message.includes(`"${k}"`) || message.includes(`"${shader}.wgsl:${entry}"`);
  });
  const where = quoted.length ? `Kernel ${listKernels(quoted)}` : kernels.length ? `A batch running kernels ${listKernels(kernels)}` : 'A copy or clear';
  if (kind === 'out-of-memory') {
    return `${where} ran out of GPU memory: ${message} Use a smaller width or batch, or a GPU with more memory.`;
  }
  return `${where} failed WebGPU validation: ${message} This is a bug in lplr or in a custom kernel's bindings; please report it with this message.`;
}

export function fmtBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Split `n` invocations of workgroup size `wg` into a 2-D grid that respects the per-dimension cap. */
export function grid1d(n: number, wg: number, maxPerDim = 65535): [number, number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= maxPerDim) return [Math.max(groups, 1), 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}
