// Pooling: max (with argmax routing), average (both padding conventions) and global
// average, forward and backward against a float64 reference; the reference's gradients
// against finite differences.
import { describe, expect, it } from 'vitest';
import { backward, fromData, mul, sum, tidy } from '../src/entry-node.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../src/ops/pool.js';
import { useGpu } from './helpers/gpu.js';
import {
  avgPoolBackwardRef,
  avgPoolRef,
  dot,
  expectClose,
  f32,
  finiteDiff,
  globalAvgPoolBackwardRef,
  globalAvgPoolRef,
  maxPoolBackwardRef,
  maxPoolRef,
  poolOut,
  randomValues,
  type PoolShape,
} from './conv-reference.js';

const CASES: (PoolShape & { name: string })[] = [
  { name: '2x2 s2 (even 8x6)', batch: 1, c: 3, h: 8, w: 6, k: 2, stride: 2, pad: 0 },
  { name: '3x3 s2 p1 b3 (odd 7x9)', batch: 3, c: 5, h: 7, w: 9, k: 3, stride: 2, pad: 1 },
  { name: '3x3 s1 p1 (overlapping)', batch: 2, c: 2, h: 5, w: 5, k: 3, stride: 1, pad: 1 },
  { name: '5x5 s3 p2', batch: 1, c: 3, h: 11, w: 10, k: 5, stride: 3, pad: 2 },
  { name: '3x3 s2 p0 (windows miss the last row)', batch: 3, c: 1, h: 8, w: 8, k: 3, stride: 2, pad: 0 },
];

describe('pool reference', () => {
  it('its gradients match float64 finite differences', () => {
    for (const c of CASES) {
      const x = randomValues(c.batch * c.c * c.h * c.w, 3);
      const { ho, wo } = poolOut(c);
      const dy = randomValues(c.batch * c.c * ho * wo, 4);
      const { arg } = maxPoolRef(x, c);
      expectClose(maxPoolBackwardRef(x.length, arg, dy), finiteDiff((xv) => dot(maxPoolRef(xv, c).y, dy), x), `${c.name} max`, 1e-6, 1e-6);
      for (const countPad of [true, false]) {
        const fd = finiteDiff((xv) => dot(avgPoolRef(xv, c, countPad), dy), x);
        expectClose(avgPoolBackwardRef(dy, c, countPad), fd, `${c.name} avg countPad=${countPad}`, 1e-6, 1e-6);
      }
      const planes = c.batch * c.c;
      const dg = randomValues(planes, 5);
      const fd = finiteDiff((xv) => dot(globalAvgPoolRef(xv, planes, c.h * c.w), dg), x);
      expectClose(globalAvgPoolBackwardRef(dg, c.h * c.w), fd, `${c.name} global`, 1e-6, 1e-6);
    }
  });
});

describe('pool kernels', () => {
  const gpu = useGpu();

  for (const c of CASES) {
    it(`${c.name}: max, average and global average pooling match the reference`, async () => {
      const rt = gpu.rt();
      const shape = [c.batch, c.c, c.h, c.w];
      const x = f32(randomValues(c.batch * c.c * c.h * c.w, 10 + c.k));
      const { ho, wo } = poolOut(c);
      const dy = f32(randomValues(c.batch * c.c * ho * wo, 20 + c.k));
      const opts = { kernel: c.k, stride: c.stride, padding: c.pad };

      const xT = fromData(Float32Array.from(x), shape, rt);
      xT.requiresGrad = true;
      const ref = maxPoolRef(x, c);
      const yMax = tidy(() => {
        const y = maxPool2d(xT, opts);
        expect(y.shape).toEqual([c.batch, c.c, ho, wo]);
        backward(sum(mul(y, fromData(Float32Array.from(dy), y.shape, rt))));
        return y.keep();
      });
      expectClose(await yMax.read(), ref.y, `${c.name} max forward`, 0, 0);
      expectClose(await xT.grad!.read(), maxPoolBackwardRef(x.length, ref.arg, dy), `${c.name} max backward`, 1e-6, 1e-6);

      for (const countIncludePad of [true, false]) {
        const xa = fromData(Float32Array.from(x), shape, rt);
        xa.requiresGrad = true;
        const y = tidy(() => {
          const out = avgPool2d(xa, { ...opts, countIncludePad });
          backward(sum(mul(out, fromData(Float32Array.from(dy), out.shape, rt))));
          return out.keep();
        });
        expectClose(await y.read(), avgPoolRef(x, c, countIncludePad), `${c.name} avg forward (countIncludePad=${countIncludePad})`, 1e-6, 1e-5);
        expectClose(await xa.grad!.read(), avgPoolBackwardRef(dy, c, countIncludePad), `${c.name} avg backward`, 1e-6, 1e-5);
      }

      const planes = c.batch * c.c;
      const dg = f32(randomValues(planes, 30));
      const xg = fromData(Float32Array.from(x), shape, rt);
      xg.requiresGrad = true;
      const yg = tidy(() => {
        const out = globalAvgPool(xg);
        expect(out.shape).toEqual([c.batch, c.c]);
        backward(sum(mul(out, fromData(Float32Array.from(dg), out.shape, rt))));
        return out.keep();
      });
      expectClose(await yg.read(), globalAvgPoolRef(x, planes, c.h * c.w), `${c.name} global forward`, 1e-6, 1e-5);
      expectClose(await xg.grad!.read(), globalAvgPoolBackwardRef(dg, c.h * c.w), `${c.name} global backward`, 1e-7, 1e-5);
    });
  }

  it('global average pooling reduces planes larger than one workgroup', async () => {
    const rt = gpu.rt();
    const x = f32(randomValues(2 * 3 * 23 * 19, 8));
    const y = globalAvgPool(fromData(Float32Array.from(x), [2, 3, 23, 19], rt));
    expectClose(await y.read(), globalAvgPoolRef(x, 6, 23 * 19), 'large planes', 1e-6, 1e-5);
  });

  it('max pooling sends the gradient to the first maximum on ties', async () => {
    const rt = gpu.rt();
    const x = fromData([1, 5, 5, 0, 2, 5, 1, 1, 0], [1, 1, 3, 3], rt);
    x.requiresGrad = true;
    tidy(() => backward(sum(maxPool2d(x, { kernel: 2, stride: 1 }))));
    // Windows (row-major scan): {1,5,0,2} → 1; {5,5,2,5} → 1 (not 2 or 5); {0,2,1,1} → 4; {2,5,1,0} → 5.
    expect(Array.from(await x.grad!.read())).toEqual([0, 2, 0, 0, 1, 1, 0, 0, 0]);
  });

  it('rejects impossible windows with a fix', () => {
    const rt = gpu.rt();
    const x = fromData(new Float32Array(16), [1, 1, 4, 4], rt);
    expect(() => maxPool2d(x, { kernel: 3, padding: 2 })).toThrow(/half the kernel/);
    expect(() => avgPool2d(x, { kernel: 5 })).toThrow(/does not fit/);
    expect(() => globalAvgPool(fromData(new Float32Array(4), [4], rt))).toThrow(/NCHW/);
  });
});
