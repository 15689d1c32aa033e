// End to end: an MLP trained with full-batch gradient descent on ½·MSE gives the losses
// of the same steps computed by the float64 reference; two identical runs are bitwise
// identical.
import { describe, expect, it } from 'vitest';
import * as E from '../src/entry-node.js';
import { build, type ParameterSet } from '../src/nn/module.js';
import { mlp } from '../src/nn/layers.js';
import { SGD, type SgdOptions } from '../src/optim/sgd.js';
import { type RefArray, TestRandom, randomArray, refArray } from './ref/array.js';
import { toTensor } from './ref/bridge.js';
import { assertBitwiseEqual, assertClose } from './ref/compare.js';
import { type RefLayer, trainMlp } from './ref/mlp.js';
import { useGpu } from './helpers/gpu.js';

const ARCH = { inputs: 6, width: 24, depth: 3, outputs: 2 };
const BATCH = 40;

function data(seed: number): { x: RefArray; y: RefArray } {
  const rng = new TestRandom(seed);
  return { x: randomArray(rng, [BATCH, ARCH.inputs]), y: randomArray(rng, [BATCH, ARCH.outputs]) };
}

/** Train on the GPU; returns the loss before each step and the final parameters. */
async function trainGpu(set: ParameterSet, x: RefArray, y: RefArray, steps: number, sgd: SgdOptions): Promise<{ losses: Float32Array; params: Map<string, Float32Array> }> {
  const opt = new SGD(set, sgd);
  const X = toTensor(x).keep();
  const Y = toTensor(y).keep();
  const losses = new Float32Array(steps);
  try {
    for (let s = 0; s < steps; s++) {
      const loss = E.tidy(() => {
        set.zeroGrad();
        const l = E.mseLoss(set.model.forward(X), Y);
        E.backward(l);
        opt.step();
        return l;
      });
      losses[s] = await loss.item();
      loss.dispose();
    }
    return { losses, params: await set.params.readAll() };
  } finally {
    X.dispose();
    Y.dispose();
    opt.dispose();
  }
}

async function refLayersOf(set: ParameterSet): Promise<RefLayer[]> {
  const values = await set.params.readAll();
  const layers: RefLayer[] = [];
  for (let l = 0; l < ARCH.depth; l++) {
    const name = `${2 * l}`;
    const w = set.params.view(`${name}.weight`);
    const b = set.params.view(`${name}.bias`);
    layers.push({ weight: refArray(w.shape, values.get(`${name}.weight`)!), bias: refArray(b.shape, values.get(`${name}.bias`)!) });
  }
  return layers;
}

describe('end to end: MLP training against the float64 reference', () => {
  const gpu = useGpu();

  const cases: [string, SgdOptions, number][] = [
    ['plain gradient descent', { lr: 0.1 }, 0],
    ['momentum, Nesterov and weight decay', { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }, 1],
  ];
  for (const [name, sgd, seed] of cases) {
    it(`${name}: 5 full-batch steps give the reference's losses to 1e-4`, async () => {
      // PyTorch's default init has non-zero biases, so the bias paths are exercised too.
      const set = build(mlp(ARCH), { scheme: 'pytorch', seed, rt: gpu.rt() });
      try {
        // Both start from the parameters read back from the GPU.
        const layers = await refLayersOf(set);
        const { x, y } = data(100 + seed);
        const { losses, params } = await trainGpu(set, x, y, 5, sgd);
        const refLosses = trainMlp(layers, x, y, 5, sgd);
        assertClose(losses, refLosses, { rel: 1e-4, abs: 0 }, 'losses');
        // Training moved: the losses are not all equal (a test of a no-op would pass above otherwise).
        expect(refLosses[4]).toBeLessThan(refLosses[0]);
        layers.forEach((L, l) => {
          assertClose(params.get(`${2 * l}.weight`)!, L.weight.data, { rel: 1e-4, abs: 1e-5 }, `layer ${l} weight after 5 steps`);
          assertClose(params.get(`${2 * l}.bias`)!, L.bias.data, { rel: 1e-4, abs: 1e-5 }, `layer ${l} bias after 5 steps`);
        });
      } finally {
        set.dispose();
      }
    });
  }

  it('two identical runs (same seed) give bitwise-identical losses and parameters', async () => {
    const runs: { losses: Float32Array; params: Map<string, Float32Array> }[] = [];
    for (let r = 0; r < 2; r++) {
      const set = build(mlp(ARCH), { scheme: 'he', seed: 7, rt: gpu.rt() });
      try {
        const { x, y } = data(200);
        runs.push(await trainGpu(set, x, y, 8, { lr: 0.05, momentum: 0.9 }));
      } finally {
        set.dispose();
      }
    }
    assertBitwiseEqual(runs[0].losses, runs[1].losses, 'losses');
    for (const [name, v] of runs[0].params) assertBitwiseEqual(v, runs[1].params.get(name)!, name);
    // A different seed gives different parameters (the comparison above can fail).
    const other = build(mlp(ARCH), { scheme: 'he', seed: 8, rt: gpu.rt() });
    try {
      const w = (await other.params.readAll()).get('0.weight')!;
      expect(() => assertBitwiseEqual(w, runs[0].params.get('0.weight')!, 'seed 8 vs 7')).toThrow();
    } finally {
      other.dispose();
    }
  });
});
