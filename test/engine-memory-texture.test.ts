// The texture matmul's and texture conv's staging (textures, uniform blocks, zero rows) is GPU
// memory outside the buffer pool: rt.memoryStats() counts it as cachedBytes (and in
// allocatedBytes), and rt.trim() destroys it; the kernels re-create what they need afterwards.
import { describe, expect, it } from 'vitest';
import * as E from '../src/index.js';
import { useGpu } from './helpers/gpu.js';

const gpu = useGpu();

/** Count what the device creates and destroys, independently of the runtime's bookkeeping. */
function watchDevice(device: GPUDevice, prefixes: readonly string[] = ['matmul-']) {
  const live = new Map<object, number>();
  const origTexture = device.createTexture.bind(device);
  const origBuffer = device.createBuffer.bind(device);
  const track = <T extends GPUTexture | GPUBuffer>(obj: T, bytes: number): T => {
    live.set(obj, bytes);
    const destroy = obj.destroy.bind(obj);
    obj.destroy = () => {
      live.delete(obj);
      destroy();
    };
    return obj;
  };
  device.createTexture = (desc: GPUTextureDescriptor) => {
    const [w, h = 1] = desc.size as number[];
    expect(desc.format).toBe('rgba32float');
    return track(origTexture(desc), w * h * 16);
  };
  device.createBuffer = (desc: GPUBufferDescriptor) => {
    const b = origBuffer(desc);
    // Only the matmul's own cache buffers: pool buffers are accounted elsewhere.
    return prefixes.some((p) => desc.label?.startsWith(p)) ? track(b, b.size) : b;
  };
  return {
    liveBytes: () => [...live.values()].reduce((a, b) => a + b, 0),
    restore: () => {
      device.createTexture = origTexture;
      device.createBuffer = origBuffer;
    },
  };
}

function referenceMatmul(a: Float32Array, b: Float32Array, M: number, K: number, N: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[i * K + k] * b[k * N + j];
      out.push(s);
    }
  }
  return out;
}

describe('texture matmul staging in memoryStats and trim', () => {
  it('is counted as cachedBytes, released by trim(), and rebuilt on the next product', async () => {
    const rt = gpu.rt();
    rt.trim();
    const watch = watchDevice(rt.device);
    try {
      const before = rt.memoryStats();
      expect(before.cachedBytes).toBe(0);
      // 33x70 · 70x20: K not a multiple of 8 (zero rows), sizes that need packing.
      const [M, K, N] = [33, 70, 20];
      const a = Float32Array.from({ length: M * K }, (_, i) => ((i * 7) % 13) / 8 - 0.5);
      const b = Float32Array.from({ length: K * N }, (_, i) => ((i * 5) % 11) / 8 - 0.5);
      const check = async () => {
        const ta = E.fromData(a, [M, K], rt);
        const tb = E.fromData(b, [K, N], rt);
        const c = E.matmul(ta, tb, { variant: 'texture' });
        const got = Array.from(await c.read());
        const want = referenceMatmul(a, b, M, K, N);
        got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i]))));
        for (const t of [ta, tb, c]) t.dispose();
      };
      await check();
      const used = rt.memoryStats();
      expect(watch.liveBytes()).toBeGreaterThan(0);
      expect(used.cachedBytes).toBe(watch.liveBytes());
      expect(used.allocatedBytes - before.allocatedBytes).toBeGreaterThanOrEqual(used.cachedBytes);

      rt.trim();
      expect(rt.memoryStats().cachedBytes).toBe(0);
      expect(watch.liveBytes()).toBe(0);

      // Still works after trim (the staging is re-created), and is counted again.
      await check();
      expect(rt.memoryStats().cachedBytes).toBe(watch.liveBytes());
      expect(watch.liveBytes()).toBeGreaterThan(0);
    } finally {
      watch.restore();
    }
  });
});

describe('texture conv staging in memoryStats and trim', () => {
  it('is counted as cachedBytes, released by trim(), and rebuilt on the next convolution', async () => {
    const rt = gpu.rt();
    rt.trim();
    const watch = watchDevice(rt.device, ['conv2d-']);
    E.setConvKernel(rt, 'texture');
    try {
      expect(rt.memoryStats().cachedBytes).toBe(0);
      // 2x3x7x5 input, 4 filters of 3x3, padding 1: odd sizes; the result against a direct loop.
      const [B, C, H, W, F] = [2, 3, 7, 5, 4];
      const x = Float32Array.from({ length: B * C * H * W }, (_, i) => ((i * 7) % 13) / 8 - 0.5);
      const w = Float32Array.from({ length: F * C * 9 }, (_, i) => ((i * 5) % 11) / 8 - 0.5);
      const want: number[] = [];
      for (let b = 0; b < B; b++)
        for (let f = 0; f < F; f++)
          for (let i = 0; i < H; i++)
            for (let j = 0; j < W; j++) {
              let s = 0;
              for (let c = 0; c < C; c++)
                for (let di = 0; di < 3; di++)
                  for (let dj = 0; dj < 3; dj++) {
                    const [ii, jj] = [i + di - 1, j + dj - 1];
                    if (ii >= 0 && ii < H && jj >= 0 && jj < W) s += x[((b * C + c) * H + ii) * W + jj] * w[((f * C + c) * 3 + di) * 3 + dj];
                  }
              want.push(s);
            }
      const check = async () => {
        const tx = E.fromData(x, [B, C, H, W], rt);
        const tw = E.fromData(w, [F, C, 3, 3], rt);
        const y = E.conv2d(tx, tw, undefined, { padding: 1 });
        const got = Array.from(await y.read());
        got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i]))));
        for (const t of [tx, tw, y]) t.dispose();
      };
      await check();
      expect(watch.liveBytes()).toBeGreaterThan(0);
      expect(rt.memoryStats().cachedBytes).toBe(watch.liveBytes());
      rt.trim();
      expect(rt.memoryStats().cachedBytes).toBe(0);
      expect(watch.liveBytes()).toBe(0);
      await check();
      expect(rt.memoryStats().cachedBytes).toBe(watch.liveBytes());
    } finally {
      E.setConvKernel(rt, 'auto');
      watch.restore();
    }
  });
});
