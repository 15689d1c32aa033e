// reduce.wgsl through the reduction ops: every op along each axis and over everything,
// the chunked two-pass tree (reductions longer than 2·4096), the per-output Kahan path
// (>= 1024 outputs), and argmax with ties, against the float64 reference.
import { describe, expect, it } from 'vitest';
import * as E from '../src/entry-node.js';
import { type RefArray, TestRandom, randomArray, refArray, sizeOf } from './ref/array.js';
import { toTensor } from './ref/bridge.js';
import { assertClose } from './ref/compare.js';
import * as R from './ref/ops.js';
import { useGpu } from './helpers/gpu.js';

const OPS: Record<R.ReduceOp, (x: E.Tensor, axes?: number | number[], keepDims?: boolean) => E.Tensor> = {
  sum: E.sum,
  mean: E.mean,
  max: E.max,
  min: E.min,
  sumSquares: E.sumSquares,
};

/** Sums of R terms in [-1, 1]: allow rounding growing like √R (pairwise/Kahan summation). */
function tolFor(x: RefArray, axes: number | number[] | undefined): { rel: number; abs: number } {
  const rank = x.shape.length;
  const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : axes;
  const count = list.reduce((n, a) => n * x.shape[a < 0 ? a + rank : a], 1);
  return { rel: 1e-5, abs: 1e-6 * Math.sqrt(count) };
}

async function checkAll(x: RefArray, axesList: (number | number[] | undefined)[], what: string): Promise<void> {
  const t = toTensor(x);
  for (const axes of axesList) {
    for (const op of R.REDUCE_OPS) {
      for (const keepDims of [false, true]) {
        const y = OPS[op](t, axes, keepDims);
        const expected = R.reduce(op, x, axes, keepDims);
        const tag = `${op} of ${what} [${x.shape}] over ${JSON.stringify(axes)} keepDims=${keepDims}`;
        expect(y.shape, tag).toEqual(expected.shape);
        assertClose(await y.read(), expected.data, tolFor(x, axes), tag);
      }
    }
  }
}

describe('reduction kernels against the float64 reference', () => {
  useGpu();
  const rng = new TestRandom(31);

  it('every op along each axis and over everything on small awkward shapes', async () =>
    E.tidyAsync(async () => {
      await checkAll(randomArray(rng, [1, 1]), [0, 1, undefined], 'unit');
      await checkAll(randomArray(rng, [7, 13, 5]), [0, 1, 2, -1, [0, 1], [1, 2], [0, 2], undefined], 'primes');
      await checkAll(randomArray(rng, [33]), [0, undefined], 'tile+1');
      await checkAll(refArray([], [2.5]), [undefined], 'rank 0');
    }));

  it('large shapes: 129x65x33 along each axis and over everything (two-pass tree)', async () =>
    E.tidyAsync(async () => {
      await checkAll(randomArray(rng, [129, 65, 33]), [0, 1, 2, undefined], 'large');
    }));

  it('a reduction of length > 2·4096 forces the chunked two-pass tree', async () =>
    E.tidyAsync(async () => {
      // 20011 (prime) rows: 5 chunks of 4096 folded by a second pass; and 3 outputs of 9001.
      await checkAll(randomArray(rng, [20011]), [0], 'long');
      await checkAll(randomArray(rng, [3, 9001]), [1], 'long rows');
      await checkAll(randomArray(rng, [9001, 3]), [0], 'long strided');
      // Values that would lose digits in a naive running f32 sum: 1 + many small terms.
      const x = new Float32Array(16411).fill(1e-4);
      x[0] = 1;
      const y = await E.sum(E.fromData(x, [16411])).item();
      assertClose([y], [1 + 16410 * Math.fround(1e-4)], { rel: 2e-6, abs: 0 }, 'sum of 1 + small terms');
    }));

  it('>= 1024 outputs use the per-output Kahan path', async () =>
    E.tidyAsync(async () => {
      await checkAll(randomArray(rng, [50, 1100]), [0], 'many columns');
      await checkAll(randomArray(rng, [2000, 3]), [1], 'many rows');
      await checkAll(randomArray(rng, [4, 1031, 2]), [0, 2], 'many outputs, rank 3');
      // A long Kahan loop where compensation matters: 1024 outputs of 1 + 4000·1e-4.
      const R0 = 4001;
      const data = new Float32Array(R0 * 1024).fill(1e-4);
      data.fill(1, 0, 1024);
      const y = await E.sum(E.fromData(data, [R0, 1024]), 0).read();
      assertClose(y, new Float64Array(1024).fill(1 + 4000 * Math.fround(1e-4)), { rel: 2e-7, abs: 0 }, 'Kahan sums');
    }));

  it('argmax along each axis returns the first index on ties', async () =>
    E.tidyAsync(async () => {
      for (const shape of [[1, 1], [7, 13, 5], [3, 9001], [1100, 2]]) {
        const x = randomArray(rng, shape);
        // Quantize so that ties are common.
        for (let i = 0; i < x.data.length; i++) x.data[i] = Math.round(x.data[i] * 3);
        const t = toTensor(x);
        for (let axis = 0; axis < shape.length; axis++) {
          const { values, indices } = E.argmax(t, axis);
          const expected = R.argmax(x, axis);
          expect(values.shape).toEqual(expected.values.shape);
          assertClose(await values.read(), expected.values.data, { rel: 0, abs: 0 }, `argmax values [${shape}] axis ${axis}`);
          assertClose(await indices.read(), expected.indices.data, { rel: 0, abs: 0 }, `argmax indices [${shape}] axis ${axis}`);
        }
      }
      // All equal: index 0 everywhere; -Infinity-free but very negative values still found.
      const flat = E.argmax(E.fromData(new Float32Array(600).fill(-3e38), [600]), 0);
      expect(await flat.indices.item()).toBe(0);
      expect(sizeOf(flat.values.shape)).toBe(1);
    }));

  it('rejects an out-of-range axis', () =>
    E.tidy(() => {
      expect(() => E.sum(E.empty([2, 3]), 2)).toThrow(E.ShapeError);
    }));
});
