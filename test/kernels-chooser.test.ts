// The kernel layer's one chooser: a matmul variant added as one descriptor entry (plus its
// WGSL) is found by the chooser, the autotuner, kernel choices and verify-browser's pins;
// conv forms are recorded per pass like matmul's classes; a forced kernel that cannot run a
// shape is counted as yielding (never silently); and GPU plans (setGpuPlans) run the branches
// a hardware GPU takes — tiled, small and split-K matmuls, buffer-form convolutions, the
// chunked reduction tree — on this adapter, checked against float64 references.
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../src/entry-node.js';
import { shaderSource, registerShader } from '../src/gpu/shaders.js';
import { kernelRuns, kernelVersion, setGpuPlans } from '../src/kernels/chooser.js';
import { defaultMatmulCandidates, memoryAutotuneStore, tuneMatmulShape } from '../src/kernels/autotune.js';
import { CONV_FAMILY, MATMUL_FAMILY, classicEncoder, registerMatmulVariant } from '../src/kernels/index.js';
import { planReducePass } from '../src/kernels/reduce.js';
import { applyKernelChoices, recordKernelChoices } from '../harness/web/kernel-choices.js';
import { parseKernelList } from '../harness/cli/verb-verify-browser.js';
import { assertClose } from './ref/compare.js';
import { conv2dBackwardRef, conv2dRef, f32, randomValues, type ConvShape } from './conv-reference.js';
import { useGpu } from './helpers/gpu.js';

const gpu = useGpu();

function matmulRef(a: Float64Array, b: Float64Array, M: number, N: number, K: number, transB = false): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += a[m * K + k] * (transB ? b[n * K + k] : b[k * N + n]);
      c[m * N + n] = acc;
    }
  return c;
}

const sumTol = (K: number) => ({ rel: 1e-5, abs: 2e-6 * K });

describe('a matmul variant added through one descriptor entry', () => {
  // The new variant's WGSL: here matmul.wgsl's text under another name, as a new file would be.
  registerShader('matmul_twin', shaderSource('matmul'));
  registerMatmulVariant('twin', { shaders: ['matmul_twin'], available: (_rt, s) => s.K <= 512, encode: classicEncoder('matmul_twin', 'main_naive', 8) });

  it('is chosen when forced, runs, and is counted as having run', async () => {
    const rt = gpu.rt();
    const [M, N, K] = [13, 7, 29];
    const a = f32(randomValues(M * K, 1));
    const b = f32(randomValues(K * N, 2));
    E.setMatmulVariant(rt, 'twin' as E.MatmulVariant);
    try {
      const before = kernelRuns(rt, MATMUL_FAMILY).ran.twin ?? 0;
      const c = E.matmul(E.fromData(Float32Array.from(a), [M, K], rt), E.fromData(Float32Array.from(b), [K, N], rt));
      assertClose(await c.read(), matmulRef(a, b, M, N, K), sumTol(K), 'twin matmul');
      expect(kernelRuns(rt, MATMUL_FAMILY).ran.twin).toBe(before + 1);
      // Beyond its availability it yields, and the yield is counted.
      expect(E.resolveMatmulKernel(rt, { M: 4, N: 4, K: 1024, batch: 1, transA: false, transB: false })).not.toBe('twin');
      expect(kernelRuns(rt, MATMUL_FAMILY).yielded.twin).toBeGreaterThan(0);
    } finally {
      E.setMatmulVariant(rt, 'auto');
    }
  });

  it('is a candidate of the autotuner, versioned by its WGSL, and verified like the others', async () => {
    const rt = gpu.rt();
    const shape: E.MatmulShape = { M: 24, N: 20, K: 36, batch: 1, transA: false, transB: true };
    const candidates = defaultMatmulCandidates(rt, shape);
    expect(candidates.map((c) => c.id)).toContain(`twin@${kernelVersion(MATMUL_FAMILY, 'twin')}`);
    const { entry } = await tuneMatmulShape(rt, shape, { store: memoryAutotuneStore(), budgetMs: 100, wallClock: true });
    const twin = entry.timings[`twin@${kernelVersion(MATMUL_FAMILY, 'twin')}`];
    expect(twin.rejected).not.toBe('wrong-result');
    expect(twin.rejected).not.toBe('failed');
  });

  it('is a kernel choice the page accepts and verify-browser pins, runtime-wide and per class', async () => {
    const rt = gpu.rt();
    const shape: E.MatmulShape = { M: 9, N: 11, K: 5, batch: 1, transA: false, transB: false };
    const pins = parseKernelList(['matmul=twin', `matmul@${E.matmulShapeClass(shape)}=twin`])!;
    applyKernelChoices(rt, pins);
    try {
      expect(recordKernelChoices(rt).matmul).toBe('twin');
      expect(E.resolveMatmulKernel(rt, shape)).toBe('twin');
      applyKernelChoices(rt, { matmul: 'auto' });
      // The class pin alone still selects it.
      expect(E.resolveMatmulKernel(rt, shape)).toBe('twin');
      expect(() => applyKernelChoices(rt, { 'matmul@1x1x1:nn': 'twins' })).toThrow(/not a variant; use one of .*twin/);
    } finally {
      E.setMatmulVariant(rt, 'auto');
    }
  });
});

describe('a forced kernel that cannot run a shape', () => {
  it('yields to the default, and the yield is counted rather than silent', async () => {
    const rt = gpu.rt();
    const [M, N, K] = [6, 40, 33];
    const shape: E.MatmulShape = { M, N, K, batch: 1, transA: false, transB: false };
    expect(E.matmulKernelAvailable(rt, 'small', shape)).toBe(false);
    const fallback = E.untunedMatmulKernel(rt, shape);
    E.setMatmulVariant(rt, 'small');
    try {
      const before = kernelRuns(rt, MATMUL_FAMILY);
      const a = f32(randomValues(M * K, 11));
      const b = f32(randomValues(K * N, 12));
      const c = E.matmul(E.fromData(Float32Array.from(a), [M, K], rt), E.fromData(Float32Array.from(b), [K, N], rt));
      assertClose(await c.read(), matmulRef(a, b, M, N, K), sumTol(K), 'forced small beyond its size');
      const after = kernelRuns(rt, MATMUL_FAMILY);
      expect(after.yielded.small).toBe((before.yielded.small ?? 0) + 1);
      expect(after.ran[fallback]).toBe((before.ran[fallback] ?? 0) + 1);
      expect(after.ran.small ?? 0).toBe(before.ran.small ?? 0);
    } finally {
      E.setMatmulVariant(rt, 'auto');
    }
  });
});

describe('conv forms in kernel choices', () => {
  it('are recorded per pass and geometry on first use and pinned from kernel choices', async () => {
    const rt = gpu.rt();
    const x = E.fromData(Float32Array.from(randomValues(2 * 3 * 7 * 6, 3)), [2, 3, 7, 6], rt);
    const w = E.fromData(Float32Array.from(randomValues(5 * 3 * 9, 4)), [5, 3, 3, 3], rt);
    const y = E.conv2d(x, w, undefined, { padding: 1 });
    await y.read();
    const g = E.conv2dGeometry(x.shape, w.shape, 1, 1);
    const key = `conv@${CONV_FAMILY.shapeClass({ g, pass: 'forward' })}`;
    expect(rt.kernelChoices.get(key)).toBe(E.chooseConvKernel(rt, g, 'forward'));
    expect(recordKernelChoices(rt)[key]).toBeDefined();
    // A pin from another runtime (the page, a resumed run) is applied and used.
    const other = rt.kernelChoices.get(key) === 'buffer' ? 'texture' : 'buffer';
    applyKernelChoices(rt, { [key]: other });
    expect(E.chooseConvKernel(rt, g, 'forward')).toBe(other);
    expect(() => applyKernelChoices(rt, { [key]: 'im2col' })).toThrow(/not a variant/);
  });
});

describe('GPU plans on this adapter (setGpuPlans)', () => {
  // Its own runtime: choices recorded under software plans stay pinned on the shared one.
  let planned: E.Runtime | undefined;
  const fresh = async () => {
    planned ??= await E.init({ quiet: true });
    setGpuPlans(planned, true);
    return planned;
  };
  afterAll(() => planned?.destroy());

  it('matmul takes the tiled, small and split-K kernels by default, each correct', async () => {
    const rt = await fresh();
    {
      const cases: [number, number, number, E.MatmulKernel][] = [
        [70, 66, 40, 'tiled'],
        [37, 3, 300, 'small'],
        [9, 10, 2100, 'splitk'],
      ];
      for (const [M, N, K, kernel] of cases) {
        const shape: E.MatmulShape = { M, N, K, batch: 1, transA: false, transB: false };
        expect(E.untunedMatmulKernel(rt, shape), `${M}x${N}x${K}`).toBe(kernel);
        const a = f32(randomValues(M * K, M));
        const b = f32(randomValues(K * N, N));
        const ran = kernelRuns(rt, MATMUL_FAMILY).ran[kernel] ?? 0;
        const c = E.matmul(E.fromData(Float32Array.from(a), [M, K], rt), E.fromData(Float32Array.from(b), [K, N], rt));
        assertClose(await c.read(), matmulRef(a, b, M, N, K), sumTol(K), `${kernel} ${M}x${N}x${K}`);
        expect(kernelRuns(rt, MATMUL_FAMILY).ran[kernel]).toBe(ran + 1);
      }
    }
  });

  it('convolutions take the storage-buffer forms, forward and both gradients correct', async () => {
    const rt = await fresh();
    {
      const s: ConvShape = { batch: 2, cin: 5, h: 9, w: 7, cout: 6, kh: 3, kw: 3, stride: 2, pad: 1 };
      const g = E.conv2dGeometry([s.batch, s.cin, s.h, s.w], [s.cout, s.cin, s.kh, s.kw], s.stride, s.pad);
      for (const pass of ['forward', 'inputGrad', 'weightGrad'] as const) expect(E.chooseConvKernel(rt, g, pass)).toBe('buffer');
      const x = f32(randomValues(s.batch * s.cin * s.h * s.w, 5));
      const w = f32(randomValues(s.cout * s.cin * s.kh * s.kw, 6));
      const xT = E.fromData(Float32Array.from(x), [s.batch, s.cin, s.h, s.w], rt);
      const wT = E.fromData(Float32Array.from(w), [s.cout, s.cin, s.kh, s.kw], rt);
      for (const t of [xT, wT]) t.requiresGrad = true;
      const y = E.conv2d(xT, wT, undefined, { stride: s.stride, padding: s.pad });
      const dy = f32(randomValues(y.size, 7));
      E.backward(y, E.fromData(Float32Array.from(dy), y.shape, rt));
      const tol = { rel: 1e-5, abs: 1e-5 };
      assertClose(await y.read(), conv2dRef(x, w, undefined, s), tol, 'conv forward');
      const ref = conv2dBackwardRef(x, w, dy, s);
      assertClose(await xT.grad!.read(), ref.dx, tol, 'conv dx');
      assertClose(await wT.grad!.read(), ref.dw, { rel: 1e-5, abs: 1e-4 }, 'conv dw');
      expect(kernelRuns(rt, CONV_FAMILY).ran.texture).toBeUndefined();
    }
  });

  it('a long reduction over few outputs runs as the chunked tree, and sums right', async () => {
    const rt = await fresh();
    {
      const n = 3 * 4096 + 17;
      const plan = planReducePass(1, n, 1, false, rt.limits.maxComputeWorkgroupsPerDimension);
      expect(plan.entry).toBe('tree64');
      expect(plan.chunks).toBeGreaterThan(1);
      if (rt.ctx.info.isSoftware) expect(planReducePass(1, n, 1, true, rt.limits.maxComputeWorkgroupsPerDimension).entry).not.toBe('tree64');
      const x = f32(randomValues(n, 8));
      const got = await E.sum(E.fromData(Float32Array.from(x), [n], rt)).read();
      assertClose(got, [x.reduce((p, v) => p + v, 0)], { rel: 1e-6, abs: 1e-4 }, 'chunked sum');
    }
  });
});
