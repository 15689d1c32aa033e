// The one file under test/ref that touches the engine: moving reference arrays to and
// from GPU tensors (values are f32-exact, see randomArray).
import { fromData, type Tensor } from '../../src/entry-node.js';
import { type RefArray, refArray } from './array.js';

export function toTensor(a: RefArray, requiresGrad = false): Tensor {
  const t = fromData(Float32Array.from(a.data), a.shape);
  t.requiresGrad = requiresGrad;
  return t;
}

export async function readRef(t: Tensor): Promise<RefArray> {
  return refArray(t.shape, await t.read());
}
