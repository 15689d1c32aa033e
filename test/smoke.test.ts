import { describe, expect, it } from 'vitest';
import { fromData, matmul, relu, sum, mseLoss, backward, tidy, add } from '../src/entry-node.js';
import { useGpu } from './helpers/gpu.js';

describe('smoke', () => {
  const gpu = useGpu();
  it('runs a matmul', async () => {
    gpu.rt();
    const a = fromData([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = fromData([1, 0, 0, 1, 1, 1], [3, 2]);
    const c = matmul(a, b);
    expect([...(await c.read())]).toEqual([4, 5, 10, 11]);
    const s = sum(c);
    expect(await s.item()).toBe(30);
    const r = relu(add(c, fromData([-5], [1])));
    expect([...(await r.read())]).toEqual([0, 0, 5, 6]);
  });
  it('backward of mse through matmul', async () => {
    const w = fromData([0.5, -0.5, 1, 2, 0, 1], [3, 2]);
    w.requiresGrad = true;
    const x = fromData([1, 2, 3, 4, 5, 6], [2, 3]);
    const y = fromData([1, 2, 3, 4], [2, 2]);
    tidy(() => {
      const loss = mseLoss(matmul(x, w), y);
      backward(loss);
    });
    const g = await w.grad!.read();
    // reference
    const X = [[1, 2, 3], [4, 5, 6]], W = [[0.5, -0.5], [1, 2], [0, 1]], Y = [[1, 2], [3, 4]];
    const P = X.map((r) => [0, 1].map((j) => r.reduce((s, v, k) => s + v * W[k][j], 0)));
    const R = P.map((r, i) => r.map((v, j) => (v - Y[i][j]) / 4));
    const G = W.map((_, k) => [0, 1].map((j) => X.reduce((s, r, i) => s + r[k] * R[i][j], 0)));
    expect([...g].map((v) => +v.toFixed(4))).toEqual(G.flat().map((v) => +v.toFixed(4)));
  });
});
