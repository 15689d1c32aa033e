// A rule that returns one gradient tensor for several inputs (add) must not let the tape's
// accumulation change it for the other inputs.
import { expect, it } from 'vitest';
import { add, backward, fromData, mulScalar, sum, tidy } from '../src/entry-node.js';
import { useGpu } from './helpers/gpu.js';

const gpu = useGpu();

it('shared gradient tensors are accumulated out of place', async () => {
  gpu.rt();
  const a = fromData([1, 2, 3], [3]);
  a.requiresGrad = true;
  tidy(() => {
    const p = mulScalar(a, 1);
    const q = mulScalar(a, 2);
    const c = mulScalar(p, 3);
    backward(sum(add(add(p, q), c)));
  });
  // d/da of (a + 2a + 3a) summed = 6 per element.
  expect([...(await a.grad!.read())]).toEqual([6, 6, 6]);
});
