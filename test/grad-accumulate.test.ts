// A matmul's weight gradient goes straight into an existing gradient buffer (an arena slot)
// through the ACCUMULATE epilogue. Bit for bit what the separate product-then-add gave, for
// every transpose and forced kernel, with one dispatch fewer; without a buffer the tape's path.
import { describe, expect, it } from 'vitest';
import * as E from '../src/entry-node.js';
import { assertBitwiseEqual } from './ref/compare.js';
import { randomValues } from './conv-reference.js';
import { useGpu } from './helpers/gpu.js';

const gpu = useGpu();

describe('weight gradients accumulate through the matmul epilogue', () => {
  for (const variant of ['auto', 'register', 'naive', 'texture'] as const) {
    for (const [transA, transB] of [[false, true], [false, false], [true, false], [true, true]] as const) {
      it(`${variant}, ${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}: equal to product-then-add, one dispatch fewer`, async () => {
        const rt = gpu.rt();
        const [M, N, K] = [37, 21, 70];
        const aShape = transA ? [K, M] : [M, K];
        const bShape = transB ? [N, K] : [K, N];
        const a = E.fromData(Float32Array.from(randomValues(M * K, 1)), aShape, rt);
        const bData = Float32Array.from(randomValues(K * N, 2));
        const prior = Float32Array.from(randomValues(K * N, 3));
        const seed = Float32Array.from(randomValues(M * N, 4));
        E.setMatmulVariant(rt, variant);
        try {
          // The tape's path: the product into a temporary, then accumulateInto.
          const ref = E.tidy(() => {
            const gOut = E.fromData(seed, [M, N], rt);
            const dB = transB ? E.matmul(gOut, a, { transA: true, transB: transA }) : E.matmul(a, gOut, { transA: !transA });
            const acc = E.fromData(prior, bShape, rt);
            E.accumulateInto(acc, dB);
            return acc.keep();
          });
          // The direct path: b is a leaf with a gradient buffer.
          const b = E.fromData(bData, bShape, rt);
          b.requiresGrad = true;
          b.grad = E.fromData(prior, bShape, rt);
          const before = rt.dispatchStats.dispatches;
          E.tidy(() => E.backward(E.matmul(a, b, { transA, transB }), E.fromData(seed, [M, N], rt)));
          const used = rt.dispatchStats.dispatches - before;
          assertBitwiseEqual(await b.grad.read(), await ref.read(), 'weight gradient');
          // Without a buffer the tape allocates one: the product and a copy, no accumulate.
          const c = E.fromData(bData, bShape, rt);
          c.requiresGrad = true;
          const before2 = rt.dispatchStats.dispatches;
          E.tidy(() => E.backward(E.matmul(a, c, { transA, transB }), E.fromData(seed, [M, N], rt)));
          assertBitwiseEqual(await c.grad!.read(), await E.tidy(() => (transB ? E.matmul(E.fromData(seed, [M, N], rt), a, { transA: true, transB: transA }) : E.matmul(a, E.fromData(seed, [M, N], rt), { transA: !transA })).keep()).read(), 'fresh gradient');
          // The ones seed is given, so backward's dispatches are the forward's product and dB's.
          if (variant !== 'texture') expect(used).toBe(2);
          expect(rt.dispatchStats.dispatches - before2).toBeGreaterThanOrEqual(used);
          for (const t of [a, b, b.grad, c, c.grad!, ref]) t.dispose();
        } finally {
          E.setMatmulVariant(rt, 'auto');
        }
      });
    }
  }
});
