// The kernel profiler: per-dispatch records with the right names and work, results
// unchanged while profiling, the runtime restored on detach, the pure summary arithmetic,
// timestamp queries over several query sets (SwiftShader, when installed), and
// `lplr profile fig1` whose GEMM FLOPs must add up to mlpEpochFlops.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { init } from '../src/entry-node.js';
import { estimateWork, formatProfile, Profiler, summarizeSteps, type StepProfile } from '../src/gpu/profiler.js';
import { add, exp, matmul } from '../src/ops/index.js';
import { fromData, tidy } from '../src/tensor.js';
import { mlpEpochFlops } from '../harness/experiments/mlp-train.js';
import { resnetStepFlops } from '../harness/experiments/cifar-train.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { writeCifarBatches } from './helpers/cifar-batches.js';
import { useGpu } from './helpers/gpu.js';
import { noSwiftShader } from './helpers/requirements.js';

const root = path.resolve(__dirname, '..');

function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5);
}

describe('Profiler on the default adapter', () => {
  const gpu = useGpu();

  it('records every dispatch with its name and work, and leaves the results unchanged', async () => {
    const rt = gpu.rt();
    const [M, K, N] = [64, 48, 32];
    const aData = seeded(M * K, 1);
    const bData = seeded(K * N, 2);
    const a = fromData(aData, [M, K], rt);
    const b = fromData(bData, [K, N], rt);
    const x = fromData(seeded(1000, 3), [1000], rt);
    const profiler = new Profiler(rt);
    let product: Float32Array | undefined;
    try {
      const step = await profiler.profileStep(async () => {
        const c = matmul(a, b, { variant: 'register' });
        tidy(() => exp(add(x, x)));
        product = await c.read();
        c.dispose();
      });
      expect(step.source).toBe(rt.ctx.hasTimestamps ? 'timestamps' : 'timed-submits');
      const names = step.dispatches.map((d) => d.name);
      expect(names[0]).toBe('matmul_register:main');
      // add and exp, whichever specialization (flat, vec4, ...) the shape selects.
      expect(names).toHaveLength(3);
      expect(names[1]).toMatch(/^broadcast:binary/);
      expect(names[2]).toMatch(/^elementwise:unary/);
      expect(step.dispatches[0].flops).toBe(2 * M * N * K);
      // add binds x twice and its output: 3 regions of 1000 floats; exp reads one and writes one.
      expect(step.dispatches[1]).toMatchObject({ bytes: 12000 });
      expect(step.dispatches[1].flops).toBeUndefined();
      expect(step.dispatches[2].bytes).toBe(8000);
      for (const d of step.dispatches) expect(d.ms).toBeGreaterThanOrEqual(0);
      expect(step.encodeMs).toBeGreaterThanOrEqual(0);
      expect(step.wallMs).toBeGreaterThan(0);
    } finally {
      profiler.detach();
      for (const t of [a, b, x]) t.dispose();
    }
    // One pass per dispatch must not change what the kernels compute.
    for (const [i, j] of [[0, 0], [17, 5], [63, 31]]) {
      let ref = 0;
      for (let k = 0; k < K; k++) ref += aData[i * K + k] * bData[k * N + j];
      expect(product![i * N + j]).toBeCloseTo(ref, 5);
    }
  });

  it('detach restores the runtime', async () => {
    const rt = gpu.rt();
    const profiler = new Profiler(rt);
    profiler.attach();
    expect(Object.hasOwn(rt, 'dispatch')).toBe(true);
    expect(() => new Profiler(rt).attach()).toThrow(/Another profiler/);
    profiler.detach();
    expect(Object.hasOwn(rt, 'dispatch')).toBe(false);
    expect(Object.hasOwn(rt, 'flush')).toBe(false);
    expect(rt.dispatchListener).toBeUndefined();
    expect(rt.profilePassDescriptor).toBeUndefined();
    const y = fromData([1, 2, 3], [3], rt);
    const z = add(y, y);
    expect([...(await z.read())]).toEqual([2, 4, 6]);
    y.dispose();
    z.dispose();
  });

  it('estimateWork reads the matmul and conv uniform layouts', () => {
    const rt = gpu.rt();
    const region = { buffer: rt.dummyRegion().buffer, offset: 0, size: 256 };
    const u32 = (xs: number[]) => new Uint32Array(xs);
    expect(estimateWork(rt, { shader: 'matmul', entry: 'main_tiled' }, u32([5, 7, 3, 2, 0, 0, 35, 0]), [region]).flops).toBe(2 * 5 * 7 * 3 * 2);
    // conv2d Params: batch, cin, h, w, cout, ho, wo, kh, kw
    expect(estimateWork(rt, { shader: 'conv2d', entry: 'fwd_implicit' }, u32([2, 3, 8, 8, 4, 8, 8, 3, 3, 1, 1, 0]), []).flops).toBe(2 * 2 * 8 * 8 * 4 * 3 * 3 * 3);
    expect(estimateWork(rt, { shader: 'conv2d', entry: 'im2col' }, u32([2, 3, 8, 8]), []).flops).toBeUndefined();
    // The dummy placeholder is not traffic.
    expect(estimateWork(rt, { shader: 'reduce' }, u32([1]), [region]).bytes).toBe(0);
  });
});

describe('summarizeSteps', () => {
  it('totals per kernel, shares, GFLOP/s for GEMMs and GB/s for the rest', () => {
    const step = (ms: [number, number, number]): StepProfile => ({
      source: 'timestamps',
      dispatches: [
        { name: 'matmul:a', ms: ms[0], flops: 4e9, bytes: 100 },
        { name: 'copy', ms: ms[1], bytes: 2e9 },
        { name: 'matmul:a', ms: ms[2], flops: 2e9, bytes: 100 },
      ],
      kernelMs: ms[0] + ms[1] + ms[2],
      spanMs: 10,
      waitMs: 0,
      otherSubmitMs: 0,
      encodeMs: 2,
      wallMs: 12,
    });
    const s = summarizeSteps([step([4, 2, 2]), step([2, 2, 0])], 'timestamps');
    expect(s.kernels.map((k) => k.name)).toEqual(['matmul:a', 'copy']);
    const [mm, copy] = s.kernels;
    expect(mm.calls).toBe(4);
    expect(mm.totalMs).toBe(8);
    expect(mm.share).toBeCloseTo(8 / 12);
    // 12 GFLOP in 8 ms
    expect(mm.gflops).toBeCloseTo(12e9 / 8e6);
    expect(mm.gbps).toBeUndefined();
    expect(copy.gbps).toBeCloseTo(4e9 / 4e6);
    expect(s.perStep).toMatchObject({ kernelMs: 6, spanMs: 10, encodeMs: 2, wallMs: 12, dispatches: 3 });
    const text = formatProfile(s);
    expect(text).toMatch(/matmul:a\s+4\s+8\.00\s+66\.7%\s+1500\.00/);
    expect(text).toContain('CPU encode 2.00 ms');
  });
});

describe.skipIf(noSwiftShader())('Profiler with timestamp queries (SwiftShader)', () => {
  it('brackets each kernel across several query sets; a large product takes longer than a tiny one', async () => {
    const rt = await init({ backend: 'swiftshader', quiet: true });
    try {
      expect(rt.ctx.hasTimestamps).toBe(true);
      // Two queries per set: one dispatch per set, so five dispatches need five sets.
      const profiler = new Profiler(rt, { querySetSize: 2 });
      const big = fromData(seeded(256 * 256, 4), [256, 256], rt);
      const tiny = fromData(seeded(16, 5), [4, 4], rt);
      try {
        const work = () => {
          tidy(() => {
            matmul(tiny, tiny, { variant: 'register' });
            matmul(big, big, { variant: 'register' });
            matmul(tiny, tiny, { variant: 'register' });
            add(big, big);
            matmul(big, big, { variant: 'register' });
          });
        };
        // SwiftShader compiles a pipeline at its first dispatch: warm up outside the profile.
        work();
        await rt.sync();
        const step = await profiler.profileStep(work);
        expect(step.source).toBe('timestamps');
        expect(step.dispatches).toHaveLength(5);
        for (const d of step.dispatches) {
          expect(d.beginNs).toBeGreaterThan(0);
          expect(d.endNs!).toBeGreaterThanOrEqual(d.beginNs!);
        }
        for (let i = 1; i < 5; i++) expect(step.dispatches[i].beginNs!).toBeGreaterThanOrEqual(step.dispatches[i - 1].beginNs!);
        const [t0, b1, t2, , b4] = step.dispatches.map((d) => d.ms);
        expect(Math.min(b1, b4)).toBeGreaterThan(Math.max(t0, t2));
        expect(step.spanMs!).toBeGreaterThanOrEqual(step.kernelMs * 0.99);
      } finally {
        profiler.detach();
        big.dispose();
        tiny.dispose();
      }
    } finally {
      rt.destroy();
    }
  });
});

/** `lplr profile ARGS --json`, checked to have succeeded; its parsed output. */
function profileJson(args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'lplr.mjs'), 'profile', ...args, '--json'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

describe('lplr profile fig1', () => {
  it('prints per-kernel JSON whose matmul FLOPs add up to the model\'s GEMM count', () => {
    const out = profileJson(['fig1', '--preset', 'tiny', '--steps', '2', '--matmul', 'register']);
    expect(out.n).toBe(64);
    expect(out.steps).toHaveLength(2);
    const matmuls = out.summary.kernels.filter((k: { name: string }) => k.name.startsWith('matmul'));
    expect(matmuls.map((k: { name: string }) => k.name)).toEqual(['matmul_register:main']);
    // Depth 3: 3 forward products, 2 input gradients, 3 weight gradients per step.
    expect(matmuls.reduce((a: number, k: { calls: number }) => a + k.calls, 0)).toBe(2 * 8);
    const flops = matmuls.reduce((a: number, k: { flops: number }) => a + k.flops, 0);
    expect(flops).toBe(2 * mlpEpochFlops(64, 784, 16, 3));
    expect(out.gemm.flopsPerStep).toBe(mlpEpochFlops(64, 784, 16, 3));
    const shares = out.summary.kernels.reduce((a: number, k: { share: number }) => a + k.share, 0);
    expect(shares).toBeCloseTo(1, 6);
    expect(out.summary.perStep.encodeMs).toBeGreaterThanOrEqual(0);
  });

  it('rejects an experiment it cannot profile, with the list', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'lplr.mjs'), 'profile', 'fig9'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/knows the experiments fig1, fig3, not 'fig9'\. Did you mean 'fig1'\?/);
  });
});

describe('lplr profile fig3', () => {
  it('profiles the ResNet step: conv and batch-norm kernels, the step\'s FLOPs from its configuration', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-profile-fig3-'));
    try {
      writeCifarBatches(dir);
      const out = profileJson(['fig3', '--preset', 'tiny', '--data-dir', dir, '--steps', '2']);
      expect(out.experiment).toBe('fig3');
      expect(out.steps).toHaveLength(2);
      // tiny: ResNet-8 with widths 4, 8, 8, batch 8, the five classes.
      expect(out.flopsPerStep).toBe(resnetStepFlops(8, [4, 8, 8], 5, 8));
      const names: string[] = out.summary.kernels.map((k: { name: string }) => k.name);
      expect(names.some((n) => n.startsWith('conv2d'))).toBe(true);
      // 32x32, 16x16 and 8x8 planes all split into vec4s.
      expect(names).toContain('batchnorm:apply4');
      expect(names).toContain('batchnorm:bwd_apply4');
      expect(names).not.toContain('batchnorm:apply');
      expect(out.gemm.msPerStep).toBeGreaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails before the GPU when the CIFAR files are missing, naming the fix', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'lplr.mjs'), 'profile', 'fig3', '--data-dir', path.join(os.tmpdir(), 'lplr-no-such-dir')], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/data fetch cifar10|make-batches/);
  });
});
