// Every kernel of the matmul family (forced, bypassing the chooser) on awkward shapes,
// every transpose pair, batching with broadcasting, the bias + ReLU epilogue and the
// accumulate specialization, against the float64 CPU reference in test/ref.
import { describe, expect, it } from 'vitest';
import * as E from '../src/entry-node.js';
import { type RefArray, TestRandom, randomArray } from './ref/array.js';
import { toTensor } from './ref/bridge.js';
import { assertClose } from './ref/compare.js';
import * as R from './ref/ops.js';
import { useGpu } from './helpers/gpu.js';

/** f32 dot products of length K with inputs in [-1, 1]: rounding grows like K·ε. */
function tolFor(K: number): { rel: number; abs: number } {
  return { rel: 1e-5, abs: 2e-7 * Math.max(K, 8) };
}

// [M, K, N]: unit sizes, primes, K = 1, N = 1, one tile plus one, edge tiles, and a
// K, M or N multiples of 64 (the texture kernel's plain-copy staging, in both texel layouts,
// with zero rows padding K to a multiple of 8).
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [129, 65, 33],
  [33, 31, 65],
  [9, 1, 17],
  [67, 300, 1],
  [130, 128, 128],
  [64, 37, 64],
  [64, 64, 20],
];

function operands(rng: TestRandom, M: number, K: number, N: number, transA: boolean, transB: boolean, batchA = 0, batchB = 0): [RefArray, RefArray] {
  const shapeA = transA ? [K, M] : [M, K];
  const shapeB = transB ? [N, K] : [K, N];
  return [randomArray(rng, batchA ? [batchA, ...shapeA] : shapeA), randomArray(rng, batchB ? [batchB, ...shapeB] : shapeB)];
}

const PAIRS = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

describe('matmul family against the float64 reference', () => {
  const gpu = useGpu();
  const rng = new TestRandom(77);

  for (const kernel of E.MATMUL_KERNELS) {
    it(`${kernel}: every transpose pair on odd shapes, with the bias + ReLU epilogue`, async () =>
      E.tidyAsync(async () => {
        let ran = 0;
        for (const [M, K, N] of SIZES) {
          const shape = { M, N, K, batch: 1, transA: false, transB: false };
          if (!E.matmulKernelAvailable(gpu.rt(), kernel, shape)) continue;
          ran++;
          for (const [transA, transB] of PAIRS) {
            const [a, b] = operands(rng, M, K, N, transA, transB);
            // Epilogue on alternate pairs (fewer pipelines for the kernels that specialize it).
            const epilogue = transA !== transB;
            const bias = epilogue ? randomArray(rng, [N]) : undefined;
            const c = E.matmul(toTensor(a), toTensor(b), {
              transA,
              transB,
              variant: kernel,
              bias: bias ? toTensor(bias) : undefined,
              activation: epilogue ? 'relu' : 'none',
            });
            expect(c.shape).toEqual([M, N]);
            const expected = R.matmul(a, b, { transA, transB, bias, relu: epilogue });
            assertClose(await c.read(), expected.data, tolFor(K), `${kernel} ${M}x${K}x${N} tA=${transA} tB=${transB}`);
          }
        }
        expect(ran).toBeGreaterThan(0);
      }));

    it(`${kernel}: batched with broadcasting, and the accumulate specialization`, async () =>
      E.tidyAsync(async () => {
        // Odd sizes, then sizes whose rows the texture kernel stages by plain copies.
        const cases: [number, number, number, readonly [boolean, boolean]][] = [
          [33, 70, 20, PAIRS[0]],
          [33, 70, 20, PAIRS[3]],
          [20, 64, 64, PAIRS[0]],
          [64, 37, 64, PAIRS[0]],
          [64, 37, 64, PAIRS[3]],
        ];
        const batches: [number, number][] = [[3, 3], [1, 3], [3, 0]];
        for (const [batchA, batchB] of batches) {
          for (const [M, K, N, [transA, transB]] of cases) {
            const [a, b] = operands(rng, M, K, N, transA, transB, batchA, batchB);
            const c = E.matmul(toTensor(a), toTensor(b), { transA, transB, variant: kernel });
            const expected = R.matmul(a, b, { transA, transB });
            expect(c.shape).toEqual(expected.shape);
            assertClose(await c.read(), expected.data, tolFor(K), `${kernel} batch ${batchA}/${batchB} tA=${transA} tB=${transB}`);
          }
        }
        const [M, K, N] = [33, 70, 20];
        const [a, b] = operands(rng, M, K, N, false, true);
        const base = randomArray(rng, [M, N]);
        const out = toTensor(base);
        E.matmulInto(out, toTensor(a), toTensor(b), { transB: true, variant: kernel, accumulate: true });
        assertClose(await out.read(), R.binary('add', base, R.matmul(a, b, { transB: true })).data, tolFor(K), `${kernel} accumulate`);
      }));
  }

  it('records one kernel per shape class and keeps it for the rest of the run', async () =>
    E.tidyAsync(async () => {
      const rt = gpu.rt();
      const a = toTensor(randomArray(rng, [40, 24]));
      const b = toTensor(randomArray(rng, [24, 8]));
      E.matmul(a, b);
      const cls = E.matmulShapeClass({ M: 40, N: 8, K: 24, batch: 1, transA: false, transB: false });
      const first = E.matmulChoices(rt)[cls];
      expect(E.MATMUL_KERNELS).toContain(first);
      // A tuning result arriving mid-run does not change a class already in use...
      const other = first === 'naive' ? 'register' : 'naive';
      E.setMatmulTuning(rt, new Map([[cls, other]]));
      E.matmul(a, b);
      expect(E.matmulChoices(rt)[cls]).toBe(first);
      // ...and a resumed run can pin what the first run recorded.
      E.setMatmulChoices(rt, { [`matmul@${cls}`]: other });
      expect(E.resolveMatmulKernel(rt, { M: 40, N: 8, K: 24, batch: 1, transA: false, transB: false })).toBe(other);
      expect(() => E.setMatmulChoices(rt, { [`matmul@${cls}`]: 'fastest' })).toThrow(/not a matmul kernel/);
      E.setMatmulTuning(rt, new Map());
    }));
});
