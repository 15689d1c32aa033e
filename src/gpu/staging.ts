// Staging resources that texture-sourced kernels keep between calls, owned by the runtime
// (Runtime.stagingCache): rgba32float staging textures by role, uniform blocks by content
// (shapes repeat, so they are few; created mapped, never rewritten) and a zero-filled copy
// source. Counted in rt.memoryStats().cachedBytes; rt.trim() releases all of it.

// Spec values; the GPU* usage globals may not exist before the Node bindings load.
const TEXTURE_USAGE = { COPY_DST: 0x02, TEXTURE_BINDING: 0x04, STORAGE_BINDING: 0x08 } as const;
const BUFFER_USAGE = { COPY_SRC: 0x0004, UNIFORM: 0x0040 } as const;

export interface StagingCacheOptions {
  /** Label prefix of what it creates ('matmul' → 'matmul-A', 'matmul-params'). */
  label: string;
  /** Staging texture bytes kept before they are all dropped (and re-created on demand). */
  maxTextureBytes: number;
  /** Uniform blocks kept before they are all dropped. */
  maxParams: number;
}

/**
 * llvmpipe compiles a shader variant per power-of-two-ness of each bound texture's size
 * (seconds each for the texture kernels); never handing it a power of two keeps one variant.
 * The extra texel column or row is never read.
 */
export function avoidPowerOfTwo(n: number): number {
  if (n & (n - 1)) return n;
  return n === 1 ? 3 : n + 1;
}

interface StagingTexture {
  role: string;
  width: number;
  height: number;
  texture: GPUTexture;
}

export class StagingCache {
  private textures: StagingTexture[] = [];
  private textureBytes = 0;
  private readonly params = new Map<string, GPUBuffer>();
  private paramBytes = 0;
  private zeroBuffer: GPUBuffer | undefined;
  /** Counts the times the textures were dropped: a texture handed out before a drop is gone. */
  private textureGeneration = 0;

  /** `flush` submits the encoded work, which may still read what is about to be destroyed. */
  constructor(
    private readonly device: GPUDevice,
    private readonly flush: () => void,
    readonly options: StagingCacheOptions,
  ) {}

  /** Bytes of the textures and buffers it holds now. */
  bytes(): number {
    return this.textureBytes + this.paramBytes + (this.zeroBuffer?.size ?? 0);
  }

  /** Destroy all of it (the work using it was submitted; destroy waits for it). */
  drop(): void {
    this.dropTextures();
    for (const b of this.params.values()) b.destroy();
    this.params.clear();
    this.paramBytes = 0;
    this.zeroBuffer?.destroy();
    this.zeroBuffer = undefined;
  }

  /** Changes whenever the textures handed out so far are destroyed (drop, or the byte cap). */
  get generation(): number {
    return this.textureGeneration;
  }

  private dropTextures(): void {
    this.textureGeneration++;
    for (const t of this.textures) t.texture.destroy();
    this.textures = [];
    this.textureBytes = 0;
  }

  /**
   * A staging texture of `role` of at least the used size. The kernels read only the used
   * region, so any larger texture of the same role serves (the smallest that fits is taken);
   * one training step's products then share a few textures instead of one per shape.
   */
  texture(role: string, usedWidth: number, usedHeight: number): GPUTexture {
    let fit: StagingTexture | undefined;
    for (const t of this.textures) {
      if (t.role === role && t.width >= usedWidth && t.height >= usedHeight && (!fit || t.width * t.height < fit.width * fit.height)) fit = t;
    }
    // Reuse unless it is far larger than needed (a tiny product should not hold a huge one busy).
    if (fit && fit.width * fit.height <= 8 * usedWidth * usedHeight + 4096) return fit.texture;
    const width = avoidPowerOfTwo(usedWidth);
    const height = avoidPowerOfTwo(usedHeight);
    const bytes = width * height * 16;
    if (this.textureBytes + bytes > this.options.maxTextureBytes) {
      // Work already encoded still reads the old textures: submit it before dropping them.
      this.flush();
      this.dropTextures();
    }
    const texture = this.device.createTexture({
      label: `${this.options.label}-${role}`,
      size: [width, height],
      format: 'rgba32float',
      usage: TEXTURE_USAGE.COPY_DST | TEXTURE_USAGE.TEXTURE_BINDING | TEXTURE_USAGE.STORAGE_BINDING,
    });
    this.textures.push({ role, width, height, texture });
    this.textureBytes += bytes;
    return texture;
  }

  /** A uniform block holding `words` (32-bit; negative ones as their two's complement). */
  paramBuffer(words: readonly number[]): GPUBuffer {
    const key = words.join(',');
    let buf = this.params.get(key);
    if (buf) return buf;
    if (this.params.size >= this.options.maxParams) {
      this.flush();
      for (const old of this.params.values()) old.destroy();
      this.params.clear();
      this.paramBytes = 0;
    }
    const size = Math.max(16, Math.ceil((words.length * 4) / 16) * 16);
    buf = this.device.createBuffer({ label: `${this.options.label}-params`, size, usage: BUFFER_USAGE.UNIFORM, mappedAtCreation: true });
    new Int32Array(buf.getMappedRange()).set(words);
    buf.unmap();
    this.params.set(key, buf);
    this.paramBytes += size;
    return buf;
  }

  /** A zero-filled buffer of at least `bytes` (WebGPU zero-initializes; nothing writes it), only ever a copy source. */
  zeros(bytes: number): GPUBuffer {
    if (!this.zeroBuffer || this.zeroBuffer.size < bytes) {
      if (this.zeroBuffer) {
        // Work already encoded may still copy from it.
        this.flush();
        this.zeroBuffer.destroy();
      }
      this.zeroBuffer = this.device.createBuffer({ label: `${this.options.label}-zeros`, size: Math.ceil(Math.max(bytes, 64 << 10) / 4) * 4, usage: BUFFER_USAGE.COPY_SRC });
    }
    return this.zeroBuffer;
  }
}
