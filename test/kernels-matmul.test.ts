// matmul.wgsl, every variant and transpose combination, batched with broadcasting, with
// the bias and fused-ReLU epilogue and the accumulate specialization, against float64.
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

// [M, K, N]: unit sizes, primes, one tile plus one (33, 65), and larger odd sizes.
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [33, 65, 33],
  [65, 33, 1],
  [1, 65, 33],
  [129, 65, 33],
];

function operands(rng: TestRandom, M: number, K: number, N: number, transA: boolean, transB: boolean, batchA = 0, batchB = 0): [RefArray, RefArray] {
  const shapeA = transA ? [K, M] : [M, K];
  const shapeB = transB ? [N, K] : [K, N];
  return [randomArray(rng, batchA ? [batchA, ...shapeA] : shapeA), randomArray(rng, batchB ? [batchB, ...shapeB] : shapeB)];
}

describe('matmul kernels against the float64 reference', () => {
  useGpu();
  const rng = new TestRandom(21);

  for (const variant of E.MATMUL_VARIANTS) {
    it(`${variant}: every transpose combination on awkward sizes`, async () =>
      E.tidyAsync(async () => {
        for (const [M, K, N] of SIZES) {
          for (const transA of [false, true]) {
            for (const transB of [false, true]) {
              const [a, b] = operands(rng, M, K, N, transA, transB);
              const c = E.matmul(toTensor(a), toTensor(b), { transA, transB, variant });
              expect(c.shape).toEqual([M, N]);
              assertClose(await c.read(), R.matmul(a, b, { transA, transB }).data, tolFor(K), `${variant} ${M}x${K}x${N} tA=${transA} tB=${transB}`);
            }
          }
        }
      }));

    it(`${variant}: batched with batch broadcasting, bias and fused ReLU`, async () =>
      E.tidyAsync(async () => {
        const [M, K, N] = [33, 13, 65];
        // [batchA, batchB]: 0 means a rank-2 operand.
        const batches: [number, number][] = [[3, 3], [1, 3], [3, 1], [0, 3], [3, 0], [1, 1]];
        for (const [batchA, batchB] of batches) {
          for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
            const [a, b] = operands(rng, M, K, N, transA, transB, batchA, batchB);
            const bias = randomArray(rng, [N]);
            for (const relu of [false, true]) {
              const c = E.matmul(toTensor(a), toTensor(b), { transA, transB, variant, bias: toTensor(bias), activation: relu ? 'relu' : 'none' });
              const expected = R.matmul(a, b, { transA, transB, bias, relu });
              expect(c.shape).toEqual(expected.shape);
              assertClose(await c.read(), expected.data, tolFor(K), `${variant} batch ${batchA}/${batchB} tA=${transA} tB=${transB} relu=${relu}`);
            }
          }
        }
      }));

    it(`${variant}: the accumulate specialization adds to the output`, async () =>
      E.tidyAsync(async () => {
        const [M, K, N] = [7, 65, 33];
        const [a, b] = operands(rng, M, K, N, false, true);
        const base = randomArray(rng, [M, N]);
        const out = toTensor(base);
        E.matmulInto(out, toTensor(a), toTensor(b), { transB: true, variant, accumulate: true });
        const expected = R.binary('add', base, R.matmul(a, b, { transB: true }));
        assertClose(await out.read(), expected.data, tolFor(K), `${variant} accumulate`);
      }));
  }

  it('linear uses PyTorch layout W [out, in]', async () =>
    E.tidyAsync(async () => {
      const x = randomArray(rng, [5, 7]);
      const w = randomArray(rng, [3, 7]);
      const bias = randomArray(rng, [3]);
      const y = E.linear(toTensor(x), toTensor(w), toTensor(bias), 'relu');
      assertClose(await y.read(), R.matmul(x, w, { transB: true, bias, relu: true }).data, tolFor(7), 'linear');
    }));

  it('rejects mismatched inner dimensions with a ShapeError', () =>
    E.tidy(() => {
      expect(() => E.matmul(E.empty([2, 3]), E.empty([4, 5]))).toThrow(E.ShapeError);
      expect(() => E.matmul(E.empty([2, 2, 3]), E.empty([3, 3, 5]))).toThrow(/batch/);
    }));
});
