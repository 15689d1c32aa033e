// GPU-side training measurements over whole arenas: one reduction per chunk, summed on
// the GPU, read back together with the other per-epoch scalars in one readback.
import type { Arena } from '../nn/arena.js';
import { add, sub } from '../ops/elementwise.js';
import { sumSquares } from '../ops/reduce.js';
import { empty, type Tensor, tidy } from '../tensor.js';

function sumOver(parts: Tensor[]): Tensor {
  return parts.reduce((acc, t) => add(acc, t));
}

/** Σ x² over every value in the arena (e.g. ‖∇L‖² over the gradient arena), as a scalar tensor. */
export function arenaSumSquares(arena: Arena): Tensor {
  return tidy(() => sumOver(arena.chunkTensors().map((c) => sumSquares(c))));
}

/** ‖a − b‖² for two arenas with the same layout (e.g. drift from θ₀), as a scalar tensor. */
export function arenaDistanceSq(a: Arena, b: Arena): Tensor {
  return tidy(() => {
    const bc = b.chunkTensors();
    return sumOver(a.chunkTensors().map((c, i) => sumSquares(sub(c, bc[i]))));
  });
}

/** Read several one-element tensors with a single GPU→CPU transfer. */
export async function readScalars(scalars: readonly Tensor[]): Promise<number[]> {
  const rt = scalars[0].rt;
  const packed = empty([scalars.length], rt);
  try {
    scalars.forEach((s, i) => rt.copy({ ...s.region(), size: 4 }, { buffer: packed.storage.buffer, offset: packed.storage.byteOffset + i * 4, size: 4 }));
    return [...(await packed.read())];
  } finally {
    packed.dispose();
  }
}
