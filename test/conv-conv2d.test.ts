// conv2d: every variant's forward, input gradient and weight gradient against a float64
// reference on awkward shapes; the reference's gradients against finite differences; the
// recorded op's backward through the tape; split-K weight gradients for several splits.
import { describe, expect, it } from 'vitest';
import { backward, fromData, mul, sum, tidy, type Tensor } from '../src/entry-node.js';
import {
  CONV_KERNELS,
  chooseConvKernel,
  chooseConvVariant,
  convKernelAvailable,
  setConvKernel,
  conv2d,
  conv2dBiasGrad,
  conv2dForward,
  conv2dGemmShapes,
  conv2dGeometry,
  conv2dInputGrad,
  conv2dMacs,
  conv2dWeightGrad,
  gather1x1,
  im2col,
  conv2dWeightGradSplits,
  weightGradTextureSplits,
  type ConvKernel,
  type ConvVariant,
} from '../src/ops/conv.js';
import { useGpu } from './helpers/gpu.js';
import {
  conv2dBackwardRef,
  conv2dRef,
  convOut,
  dot,
  expectClose,
  f32,
  finiteDiff,
  randomValues,
  sumTolerance,
  type ConvShape,
} from './conv-reference.js';

interface Case extends ConvShape {
  name: string;
}

// Odd sizes, stride 1, 2 and 3, padding 0/1/2, kernels 1/3/5/7 and non-square, batch 1 and 3,
// channel counts that are not multiples of 4 (and past one 32-wide tile).
const CASES: Case[] = [
  { name: '3x3 s1 p1 b1', batch: 1, cin: 3, h: 7, w: 7, cout: 5, kh: 3, kw: 3, stride: 1, pad: 1 },
  { name: '3x3 s2 p1 b3 (9x7 input)', batch: 3, cin: 5, h: 9, w: 7, cout: 6, kh: 3, kw: 3, stride: 2, pad: 1 },
  { name: '5x5 s2 p2', batch: 2, cin: 3, h: 11, w: 11, cout: 7, kh: 5, kw: 5, stride: 2, pad: 2 },
  { name: '7x7 s2 p0 b1', batch: 1, cin: 2, h: 13, w: 13, cout: 3, kh: 7, kw: 7, stride: 2, pad: 0 },
  { name: '1x1 s1 p0 b3 (pointwise)', batch: 3, cin: 6, h: 5, w: 5, cout: 9, kh: 1, kw: 1, stride: 1, pad: 0 },
  { name: '1x1 s2 p0 (downsample, 7x9)', batch: 3, cin: 5, h: 7, w: 9, cout: 6, kh: 1, kw: 1, stride: 2, pad: 0 },
  { name: '1x1 s3 p0 (stride 3, 11x8, 37 channels)', batch: 2, cin: 37, h: 11, w: 8, cout: 5, kh: 1, kw: 1, stride: 3, pad: 0 },
  { name: '1x1 s2 p0 (10x16: vec4 gather, 35 outputs)', batch: 3, cin: 6, h: 10, w: 16, cout: 35, kh: 1, kw: 1, stride: 2, pad: 0 },
  { name: '1x1 s2 p1 (padded, 6x5)', batch: 2, cin: 3, h: 6, w: 5, cout: 4, kh: 1, kw: 1, stride: 2, pad: 1 },
  { name: '3x3 s1 p2', batch: 1, cin: 3, h: 8, w: 8, cout: 4, kh: 3, kw: 3, stride: 1, pad: 2 },
  { name: '3x3 s3 p1 (stride 3, 10x8)', batch: 2, cin: 3, h: 10, w: 8, cout: 4, kh: 3, kw: 3, stride: 3, pad: 1 },
  { name: '3x5 s1 p1 (non-square)', batch: 2, cin: 3, h: 6, w: 8, cout: 5, kh: 3, kw: 5, stride: 1, pad: 1 },
  { name: '3x3 s1 p1 wide (37→35 channels)', batch: 3, cin: 37, h: 6, w: 5, cout: 35, kh: 3, kw: 3, stride: 1, pad: 1 },
  // Cin % 4 == 0 and W % 16 == 0: the gather fused into the forward GEMM (fwd_1x1_s2), odd H,
  // Ho·Wo = 80 pixels (a partial 64-pixel tile), 35 channels (a partial 8-channel block).
  { name: '1x1 s2 p0 (9x32, 8→35 channels: fused gather)', batch: 3, cin: 8, h: 9, w: 32, cout: 35, kh: 1, kw: 1, stride: 2, pad: 0 },
];

interface Implementation {
  variant: ConvVariant;
  /** Kernel form of the implicit variant. */
  kernel?: ConvKernel;
}

function variantsFor(c: ConvShape): Implementation[] {
  const pointwise = c.kh === 1 && c.kw === 1 && c.stride === 1 && c.pad === 0;
  // The gather form exists for 1x1 kernels only.
  const kernels = CONV_KERNELS.filter((kernel) => kernel !== 'gather' || (c.kh === 1 && c.kw === 1));
  const implicit: Implementation[] = kernels.map((kernel) => ({ variant: 'implicit', kernel }));
  const others: ConvVariant[] = pointwise ? ['im2col', 'direct', 'matmul'] : ['im2col', 'direct'];
  return [...implicit, ...others.map((variant) => ({ variant }))];
}

function label(impl: Implementation): string {
  return impl.kernel ? `${impl.variant}/${impl.kernel}` : impl.variant;
}

function data(c: Case, seed: number) {
  const { ho, wo } = convOut(c);
  const x = f32(randomValues(c.batch * c.cin * c.h * c.w, seed));
  const w = f32(randomValues(c.cout * c.cin * c.kh * c.kw, seed + 1));
  const bias = f32(randomValues(c.cout, seed + 2));
  const dy = f32(randomValues(c.batch * c.cout * ho * wo, seed + 3));
  return { x, w, bias, dy, ho, wo };
}

async function read(t: Tensor): Promise<Float32Array> {
  return t.read();
}

describe('conv2d reference', () => {
  it('its gradients match float64 finite differences', () => {
    for (const c of [CASES[1], CASES[2], CASES[5], CASES[6], CASES[8], CASES[9], CASES[10]]) {
      const { x, w, bias, dy } = data(c, 11);
      const ref = conv2dBackwardRef(x, w, dy, c);
      expectClose(ref.dx, finiteDiff((xv) => dot(conv2dRef(xv, w, bias, c), dy), x), `${c.name} dx`, 1e-6, 1e-6);
      expectClose(ref.dw, finiteDiff((wv) => dot(conv2dRef(x, wv, bias, c), dy), w), `${c.name} dw`, 1e-6, 1e-6);
      expectClose(ref.db, finiteDiff((bv) => dot(conv2dRef(x, w, bv, c), dy), bias), `${c.name} db`, 1e-6, 1e-6);
    }
  });
});

describe('conv2d kernels', () => {
  const gpu = useGpu();

  for (const c of CASES) {
    it(`${c.name}: every variant's forward and gradients match the reference`, async () => {
      const rt = gpu.rt();
      const { x, w, bias, dy, ho, wo } = data(c, 100 + c.cin * 7 + c.kh);
      const yRef = conv2dRef(x, w, bias, c);
      const gRef = conv2dBackwardRef(x, w, dy, c);
      const K = c.cin * c.kh * c.kw;
      const tolY = sumTolerance(K);
      const tolDx = sumTolerance(c.cout * c.kh * c.kw);
      const tolDw = sumTolerance(c.batch * ho * wo);
      const g = conv2dGeometry([c.batch, c.cin, c.h, c.w], [c.cout, c.cin, c.kh, c.kw], c.stride, c.pad);
      expect([g.ho, g.wo]).toEqual([ho, wo]);
      const xT = fromData(Float32Array.from(x), [c.batch, c.cin, c.h, c.w], rt);
      const wT = fromData(Float32Array.from(w), [c.cout, c.cin, c.kh, c.kw], rt);
      const bT = fromData(Float32Array.from(bias), [c.cout], rt);
      const dyT = fromData(Float32Array.from(dy), [c.batch, c.cout, ho, wo], rt);
      for (const impl of variantsFor(c)) {
        const v = label(impl);
        if (impl.kernel) {
          // The form under test must really run (the chooser falls back when it cannot);
          // gather is a forward form: the gradients yield to the automatic choice.
          expect(chooseConvKernel(rt, g, 'forward', impl.kernel)).toBe(impl.kernel);
          for (const pass of ['inputGrad', 'weightGrad'] as const) {
            expect(chooseConvKernel(rt, g, pass, impl.kernel)).toBe(impl.kernel === 'gather' ? chooseConvKernel(rt, g, pass) : impl.kernel);
          }
        }
        const y = conv2dForward(xT, wT, bT, g, impl.variant, impl.kernel);
        expect(y.shape).toEqual([c.batch, c.cout, ho, wo]);
        expectClose(await read(y), yRef, `${c.name} ${v} forward`, tolY, 1e-5);
        const yNoBias = conv2dForward(xT, wT, undefined, g, impl.variant, impl.kernel);
        expectClose(await read(yNoBias), conv2dRef(x, w, undefined, c), `${c.name} ${v} forward without bias`, tolY, 1e-5);
        const dx = conv2dInputGrad(dyT, wT, g, impl.variant, impl.kernel);
        expect(dx.shape).toEqual([c.batch, c.cin, c.h, c.w]);
        expectClose(await read(dx), gRef.dx, `${c.name} ${v} input gradient`, tolDx, 1e-5);
        const dw = conv2dWeightGrad(xT, dyT, g, impl.variant, undefined, impl.kernel);
        expect(dw.shape).toEqual([c.cout, c.cin, c.kh, c.kw]);
        expectClose(await read(dw), gRef.dw, `${c.name} ${v} weight gradient`, tolDw, 1e-5);
        for (const t of [y, yNoBias, dx, dw]) t.dispose();
      }
      const db = conv2dBiasGrad(dyT, g);
      expectClose(await read(db), gRef.db, `${c.name} bias gradient`, tolDw, 1e-5);
      for (const t of [xT, wT, bT, dyT, db]) t.dispose();
    });
  }

  it('split-K weight gradients agree for any number of splits (chunks crossing images)', async () => {
    const rt = gpu.rt();
    const c = CASES[1];
    const { x, dy, ho, wo } = data(c, 7);
    const ref = conv2dBackwardRef(x, new Float64Array(c.cout * c.cin * 9), dy, c).dw;
    const g = conv2dGeometry([c.batch, c.cin, c.h, c.w], [c.cout, c.cin, c.kh, c.kw], c.stride, c.pad);
    const xT = fromData(Float32Array.from(x), [c.batch, c.cin, c.h, c.w], rt);
    const dyT = fromData(Float32Array.from(dy), [c.batch, c.cout, ho, wo], rt);
    const R = c.batch * ho * wo;
    for (const splits of [1, 2, 3, 7, R]) {
      expect(conv2dWeightGradSplits(g, rt, splits).splits).toBe(splits);
      const dw = conv2dWeightGrad(xT, dyT, g, 'implicit', splits);
      expectClose(await dw.read(), ref, `splits=${splits}`, sumTolerance(R), 1e-5);
      dw.dispose();
    }
    // Deterministic: the same call twice gives bit-identical results.
    const a = conv2dWeightGrad(xT, dyT, g, 'implicit', 5);
    const b = conv2dWeightGrad(xT, dyT, g, 'implicit', 5);
    expect(Array.from(await a.read())).toEqual(Array.from(await b.read()));
  });

  it('texture kernels on a larger shape: many reduction chunks crossing images, partial channel blocks, repeatable bits', async () => {
    const rt = gpu.rt();
    // 37 output rows per image: the weight gradient's chunks of lines straddle images; 37
    // output channels: a full 32-channel block plus a partial one; stride 2 with padding 1.
    const cases: Case[] = [
      { name: 'b4 37x37 s1', batch: 4, cin: 5, h: 37, w: 37, cout: 37, kh: 3, kw: 3, stride: 1, pad: 1 },
      { name: 'b3 1x1 s2 p1', batch: 3, cin: 9, h: 37, w: 30, cout: 6, kh: 1, kw: 1, stride: 2, pad: 1 },
    ];
    for (const c of cases) {
      const { x, w, bias, dy, ho, wo } = data(c, 31);
      const g = conv2dGeometry([c.batch, c.cin, c.h, c.w], [c.cout, c.cin, c.kh, c.kw], c.stride, c.pad);
      const gRef = conv2dBackwardRef(x, w, dy, c);
      const xT = fromData(Float32Array.from(x), [c.batch, c.cin, c.h, c.w], rt);
      const wT = fromData(Float32Array.from(w), [c.cout, c.cin, c.kh, c.kw], rt);
      const bT = fromData(Float32Array.from(bias), [c.cout], rt);
      const dyT = fromData(Float32Array.from(dy), [c.batch, c.cout, ho, wo], rt);
      if (c.kh === 3) expect(weightGradTextureSplits(g).splits).toBeGreaterThan(8);
      const y = conv2dForward(xT, wT, bT, g, 'implicit', 'texture');
      expectClose(await y.read(), conv2dRef(x, w, bias, c), `${c.name} forward`, sumTolerance(c.cin * c.kh * c.kw), 1e-5);
      // Right after the input gradient, the weight gradient reads dy from the input gradient's
      // (bordered) staging and stages only x; on its own it stages dy too. Same bits either way.
      const packs: string[] = [];
      rt.dispatchListener = (name) => {
        if (name === 'conv2d_pack:pack_image') packs.push(name);
      };
      let dx: Tensor, dw: Tensor, dwAgain: Tensor;
      const packsPer: number[] = [];
      try {
        dx = conv2dInputGrad(dyT, wT, g, 'implicit', 'texture');
        packsPer.push(packs.length);
        dw = conv2dWeightGrad(xT, dyT, g, 'implicit', undefined, 'texture');
        packsPer.push(packs.length - packsPer[0]);
        dwAgain = conv2dWeightGrad(xT, dyT, g, 'implicit', undefined, 'texture');
        packsPer.push(packs.length - packsPer[0] - packsPer[1]);
      } finally {
        rt.dispatchListener = undefined;
      }
      expect(packsPer).toEqual([1, 1, 2]);
      expectClose(await dx.read(), gRef.dx, `${c.name} input gradient`, sumTolerance(c.cout * c.kh * c.kw), 1e-5);
      expectClose(await dw.read(), gRef.dw, `${c.name} weight gradient`, sumTolerance(c.batch * ho * wo), 1e-5);
      expect(Array.from(await dwAgain.read())).toEqual(Array.from(await dw.read()));
      for (const t of [xT, wT, bT, dyT, y, dx, dw, dwAgain]) t.dispose();
    }
  });

  it('the implicit variant picks its kernel form per pass and adapter, and falls back where textures do not fit', () => {
    const rt = gpu.rt();
    const g = conv2dGeometry([8, 16, 32, 32], [32, 16, 3, 3], 2, 1);
    const passes = ['forward', 'inputGrad', 'weightGrad'] as const;
    const expected = rt.ctx.info.isSoftware ? 'texture' : 'buffer';
    for (const pass of passes) {
      expect(chooseConvKernel(rt, g, pass)).toBe(expected);
      expect(chooseConvKernel(rt, g, pass, 'buffer')).toBe('buffer');
      expect(chooseConvKernel(rt, g, pass, 'texture')).toBe('texture');
    }
    // A batch whose staged image would be taller than the adapter's largest texture.
    const tall = conv2dGeometry([Math.ceil(rt.limits.maxTextureDimension2D / 34) + 1, 16, 32, 32], [16, 16, 3, 3], 1, 1);
    for (const pass of passes) {
      expect(convKernelAvailable(rt, tall, pass, 'texture')).toBe(false);
      expect(chooseConvKernel(rt, tall, pass, 'texture')).toBe('buffer');
    }
    // Strided 1x1 forwards gather their pixels for the matmul; their gradients, 1x1 stride 1
    // (the matmul variant's) and forced gathers that cannot run keep the other forms.
    const down = conv2dGeometry([8, 16, 32, 32], [32, 16, 1, 1], 2, 0);
    expect(chooseConvKernel(rt, down, 'forward')).toBe('gather');
    expect(chooseConvKernel(rt, down, 'inputGrad')).toBe(expected);
    expect(chooseConvKernel(rt, down, 'weightGrad')).toBe(expected);
    expect(chooseConvKernel(rt, conv2dGeometry([8, 16, 9, 9], [32, 16, 1, 1], 1, 0), 'forward')).toBe(expected);
    expect(chooseConvKernel(rt, conv2dGeometry([8, 16, 9, 9], [32, 16, 1, 1], 1, 1), 'forward')).toBe('gather');
    expect(convKernelAvailable(rt, g, 'forward', 'gather')).toBe(false);
    expect(chooseConvKernel(rt, g, 'forward', 'gather')).toBe(expected);
    expect(chooseConvKernel(rt, down, 'weightGrad', 'gather')).toBe(expected);
    setConvKernel(rt, 'buffer');
    try {
      for (const pass of passes) expect(chooseConvKernel(rt, g, pass)).toBe('buffer');
      expect(chooseConvKernel(rt, down, 'forward')).toBe('buffer');
    } finally {
      setConvKernel(rt, 'auto');
    }
    expect(chooseConvKernel(rt, g, 'forward')).toBe(expected);
    expect(() => setConvKernel(rt, 'shared' as ConvKernel)).toThrow(/Unknown conv kernel 'shared'.*buffer, texture/);
  });

  it('im2col lays columns out as [B, Cin·kh·kw, Ho·Wo] with zeros in the padding', async () => {
    const rt = gpu.rt();
    const c: ConvShape = { batch: 2, cin: 2, h: 3, w: 4, cout: 1, kh: 3, kw: 3, stride: 2, pad: 1 };
    const x = randomValues(c.batch * c.cin * c.h * c.w, 5);
    const g = conv2dGeometry([2, 2, 3, 4], [1, 2, 3, 3], 2, 1);
    const cols = im2col(fromData(Float32Array.from(x), [2, 2, 3, 4], rt), g);
    expect(cols.shape).toEqual([2, 18, g.ho * g.wo]);
    const got = await cols.read();
    const P = g.ho * g.wo;
    for (let b = 0; b < 2; b++)
      for (let k = 0; k < 18; k++)
        for (let p = 0; p < P; p++) {
          const ci = Math.floor(k / 9);
          const ky = Math.floor((k % 9) / 3);
          const kx = k % 3;
          const ih = Math.floor(p / g.wo) * 2 - 1 + ky;
          const iw = (p % g.wo) * 2 - 1 + kx;
          const inside = ih >= 0 && ih < 3 && iw >= 0 && iw < 4;
          const want = inside ? Math.fround(x[((b * 2 + ci) * 3 + ih) * 4 + iw]) : 0;
          expect(got[(b * 18 + k) * P + p]).toBe(want);
        }
  });

  it('gather1x1 lays the pixels a 1x1 kernel reads out as [B, Cin, Ho·Wo], zeros in the padding', async () => {
    const rt = gpu.rt();
    const maxDim = rt.limits.maxComputeWorkgroupsPerDimension;
    const cases: { batch: number; cin: number; h: number; w: number; stride: number; pad: number }[] = [
      { batch: 2, cin: 3, h: 7, w: 9, stride: 2, pad: 0 },
      // Even H and W % 8 == 0 at stride 2: the vec4 entry (odd H: the general one).
      { batch: 2, cin: 3, h: 6, w: 16, stride: 2, pad: 0 },
      { batch: 3, cin: 5, h: 4, w: 24, stride: 2, pad: 0 },
      { batch: 2, cin: 3, h: 5, w: 16, stride: 2, pad: 0 },
      { batch: 1, cin: 2, h: 8, w: 7, stride: 3, pad: 1 },
      { batch: 3, cin: 2, h: 6, w: 6, stride: 3, pad: 2 },
      // More planes than one grid dimension holds (the general entry folds them into z).
      { batch: maxDim + 2, cin: 1, h: 3, w: 3, stride: 2, pad: 0 },
    ];
    for (const c of cases) {
      const x = randomValues(c.batch * c.cin * c.h * c.w, 9);
      const g = conv2dGeometry([c.batch, c.cin, c.h, c.w], [1, c.cin, 1, 1], c.stride, c.pad);
      const xT = fromData(Float32Array.from(x), [c.batch, c.cin, c.h, c.w], rt);
      const cols = gather1x1(xT, g);
      expect(cols.shape).toEqual([c.batch, c.cin, g.ho * g.wo]);
      const got = await cols.read();
      let mismatches = 0;
      for (let plane = 0; plane < c.batch * c.cin; plane++)
        for (let oh = 0; oh < g.ho; oh++)
          for (let ow = 0; ow < g.wo; ow++) {
            const ih = oh * c.stride - c.pad;
            const iw = ow * c.stride - c.pad;
            const inside = ih >= 0 && ih < c.h && iw >= 0 && iw < c.w;
            const want = inside ? Math.fround(x[(plane * c.h + ih) * c.w + iw]) : 0;
            if (got[(plane * g.ho + oh) * g.wo + ow] !== want) mismatches++;
          }
      expect(mismatches, `${JSON.stringify({ ...c, batch: c.batch > maxDim ? 'maxDim + 2' : c.batch })}`).toBe(0);
      xT.dispose();
      cols.dispose();
    }
    const g3 = conv2dGeometry([1, 2, 5, 5], [1, 2, 3, 3]);
    expect(() => gather1x1(fromData(new Float32Array(50), [1, 2, 5, 5], rt), g3)).toThrow(/1x1 kernel/);
  });

  it('the recorded op backpropagates into x, weight and bias for each variant', async () => {
    const rt = gpu.rt();
    const c = CASES[5];
    const { x, w, bias, dy, ho, wo } = data(c, 21);
    const gRef = conv2dBackwardRef(x, w, dy, c);
    for (const variant of ['auto', 'implicit', 'im2col', 'direct'] as const) {
      const xT = fromData(Float32Array.from(x), [c.batch, c.cin, c.h, c.w], rt);
      const wT = fromData(Float32Array.from(w), [c.cout, c.cin, 1, 1], rt);
      const bT = fromData(Float32Array.from(bias), [c.cout], rt);
      for (const t of [xT, wT, bT]) t.requiresGrad = true;
      tidy(() => {
        const y = conv2d(xT, wT, bT, { stride: c.stride, padding: c.pad, variant });
        expect(y.shape).toEqual([c.batch, c.cout, ho, wo]);
        backward(sum(mul(y, fromData(Float32Array.from(dy), y.shape, rt))));
      });
      expectClose(await xT.grad!.read(), gRef.dx, `${variant} x.grad`, 1e-5, 1e-5);
      expectClose(await wT.grad!.read(), gRef.dw, `${variant} weight.grad`, sumTolerance(c.batch * ho * wo), 1e-5);
      expectClose(await bT.grad!.read(), gRef.db, `${variant} bias.grad`, sumTolerance(c.batch * ho * wo), 1e-5);
    }
  });

  it('1x1 stride-1 convolutions go to matmul by default; bad shapes are named', () => {
    const pw = conv2dGeometry([2, 4, 5, 5], [3, 4, 1, 1]);
    expect(chooseConvVariant(pw)).toBe('matmul');
    const gemm = conv2dGemmShapes(conv2dGeometry([2, 3, 9, 7], [5, 3, 3, 3], 2, 1));
    expect(gemm).toEqual({ forward: { M: 2 * 5 * 4, N: 5, K: 27 }, inputGrad: { M: 2 * 63, N: 3, K: 45 }, weightGrad: { M: 5, N: 27, K: 40 } });
    expect(conv2dMacs(conv2dGeometry([2, 3, 9, 7], [5, 3, 3, 3], 2, 1))).toBe(40 * 5 * 27);
    expect(chooseConvVariant(conv2dGeometry([2, 4, 5, 5], [3, 4, 1, 1], 2))).toBe('implicit');
    expect(chooseConvVariant(conv2dGeometry([2, 4, 5, 5], [3, 4, 3, 3], 1, 1))).toBe('implicit');
    expect(() => chooseConvVariant(conv2dGeometry([2, 4, 5, 5], [3, 4, 3, 3]), 'matmul')).toThrow(/1x1/);
    expect(() => conv2dGeometry([2, 4, 5, 5], [3, 5, 3, 3])).toThrow(/4 channels/);
    expect(() => conv2dGeometry([2, 4, 2, 2], [3, 4, 5, 5])).toThrow(/does not fit/);
    expect(() => conv2dGeometry([4, 5, 5], [3, 4, 3, 3])).toThrow(/NCHW/);
  });
});
