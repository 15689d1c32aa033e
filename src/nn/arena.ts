// Flat arenas: many tensors in one buffer (offset views), chunked when the total exceeds
// the adapter's storage-binding limit. Parameters, gradients and optimizer state share
// one layout, so an optimizer update, a gradient norm or a zeroing is one dispatch per
// chunk rather than one per parameter.
import { LimitError } from '../errors.js';
import { type BufferRegion, fmtBytes, type Runtime } from '../gpu/runtime.js';
import { Storage, Tensor, sizeOf } from '../tensor.js';

export interface ArenaSlot {
  name: string;
  shape: number[];
  size: number;
  chunk: number;
  /** Byte offset inside the chunk (aligned for binding). */
  byteOffset: number;
}

export interface ArenaLayout {
  slots: ArenaSlot[];
  /** Used bytes of each chunk. */
  chunkBytes: number[];
}

export function planArena(entries: readonly { name: string; shape: readonly number[] }[], rt: Runtime): ArenaLayout {
  const align = Math.max(256, rt.limits.minStorageBufferOffsetAlignment);
  const maxChunk = Math.floor(Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize) / align) * align;
  const slots: ArenaSlot[] = [];
  const chunkBytes: number[] = [0];
  for (const e of entries) {
    const size = sizeOf(e.shape);
    const bytes = Math.max(4, size * 4);
    if (bytes > maxChunk) {
      throw new LimitError(
        `Parameter '${e.name}' [${e.shape}] needs ${fmtBytes(bytes)}, more than the adapter's ${fmtBytes(maxChunk)} per storage binding. ` +
          `Use a smaller width, or an adapter with a larger maxStorageBufferBindingSize.`,
      );
    }
    let chunk = chunkBytes.length - 1;
    let offset = Math.ceil(chunkBytes[chunk] / align) * align;
    if (offset + bytes > maxChunk) {
      chunkBytes.push(0);
      chunk++;
      offset = 0;
    }
    slots.push({ name: e.name, shape: [...e.shape], size, chunk, byteOffset: offset });
    chunkBytes[chunk] = offset + bytes;
  }
  return { slots, chunkBytes };
}

export class Arena {
  readonly buffers: GPUBuffer[];
  private readonly views = new Map<string, Tensor>();
  private disposed = false;

  constructor(
    readonly rt: Runtime,
    readonly layout: ArenaLayout,
    readonly label: string,
  ) {
    // Fresh buffers are zero-filled by WebGPU, so alignment padding never holds garbage
    // (norms and distances over whole chunks stay exact).
    this.buffers = layout.chunkBytes.map((b, i) => rt.createStorage(Math.max(b, 4), `${label}#${i}`));
  }

  get totalFloats(): number {
    return this.layout.slots.reduce((n, s) => n + s.size, 0);
  }

  /** The tensor view of one slot (cached; owned by the arena). */
  view(name: string): Tensor {
    let t = this.views.get(name);
    if (!t) {
      const slot = this.layout.slots.find((s) => s.name === name);
      if (!slot) throw new Error(`Arena '${this.label}' has no slot '${name}'`);
      t = new Tensor(slot.shape, new Storage(this.rt, this.buffers[slot.chunk], slot.byteOffset, Math.max(4, slot.size * 4), false)).keep();
      t.name = name;
      this.views.set(name, t);
    }
    return t;
  }

  /** Each chunk as a flat 1-D tensor over its used bytes (padding included, always zero). */
  chunkTensors(): Tensor[] {
    return this.buffers.map((buffer, i) => {
      const floats = Math.ceil(this.layout.chunkBytes[i] / 4);
      return new Tensor([floats], new Storage(this.rt, buffer, 0, floats * 4, false));
    });
  }

  chunkRegions(): BufferRegion[] {
    return this.buffers.map((buffer, i) => ({ buffer, offset: 0, size: Math.max(4, Math.ceil(this.layout.chunkBytes[i] / 4) * 4) }));
  }

  zero(): void {
    for (const r of this.chunkRegions()) this.rt.clear(r);
  }

  copyFrom(other: Arena): void {
    const src = other.chunkRegions();
    this.chunkRegions().forEach((r, i) => this.rt.copy(src[i], r));
  }

  write(name: string, data: Float32Array): void {
    const slot = this.layout.slots.find((s) => s.name === name);
    if (!slot) throw new Error(`Arena '${this.label}' has no slot '${name}'`);
    if (data.length !== slot.size) throw new Error(`Arena write '${name}': ${data.length} values for ${slot.size}`);
    this.rt.write(this.buffers[slot.chunk], slot.byteOffset, data);
  }

  /** Read every slot back, keyed by name. */
  async readAll(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const chunks = await Promise.all(this.chunkRegions().map((r) => this.rt.readRegion(r)));
    for (const s of this.layout.slots) {
      out.set(s.name, new Float32Array(chunks[s.chunk].slice(s.byteOffset, s.byteOffset + s.size * 4)));
    }
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.views.values()) v.dispose();
    for (const b of this.buffers) this.rt.destroyStorage(b);
  }
}
