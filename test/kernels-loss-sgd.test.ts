// loss.wgsl (MSE, BCE with logits, softmax cross-entropy) and optim.wgsl (SGD with
// momentum, dampening, Nesterov, weight decay) against the float64 reference.
import { describe, expect, it } from 'vitest';
import * as E from '../src/entry-node.js';
import { build } from '../src/nn/module.js';
import { mlp } from '../src/nn/layers.js';
import { SGD, type SgdOptions } from '../src/optim/sgd.js';
import { TestRandom, randomArray, refArray } from './ref/array.js';
import { toTensor } from './ref/bridge.js';
import { assertClose } from './ref/compare.js';
import * as R from './ref/ops.js';
import { RefSgd } from './ref/sgd.js';
import { useGpu } from './helpers/gpu.js';

const TOL = { rel: 1e-5, abs: 1e-7 };

describe('loss kernels against the float64 reference', () => {
  useGpu();
  const rng = new TestRandom(41);

  it('mseLoss on awkward shapes', async () =>
    E.tidyAsync(async () => {
      for (const shape of [[1], [1, 1], [7, 13], [129, 65], [20011]]) {
        const p = randomArray(rng, shape);
        const t = randomArray(rng, shape);
        const loss = E.mseLoss(toTensor(p), toTensor(t));
        expect(loss.shape).toEqual([]);
        assertClose([await loss.item()], [R.mseLoss(p, t)], TOL, `mseLoss [${shape}]`);
      }
    }));

  it('bceWithLogits, including saturated logits', async () =>
    E.tidyAsync(async () => {
      for (const shape of [[1], [7, 13], [129, 65]]) {
        const z = randomArray(rng, shape, -8, 8);
        const y = randomArray(rng, shape, 0, 1);
        assertClose([await E.bceWithLogits(toTensor(z), toTensor(y)).item()], [R.bceWithLogits(z, y)], TOL, `bce [${shape}]`);
      }
      // Confident and right: every per-sample loss is log1p(e^-|z|), tiny but not zero.
      const z = refArray([6], [-30, -20, -17, 17, 20, 30]);
      const y = refArray([6], [0, 0, 0, 1, 1, 1]);
      assertClose([await E.bceWithLogits(toTensor(z), toTensor(y)).item()], [R.bceWithLogits(z, y)], { rel: 1e-5, abs: 0 }, 'bce saturated, right');
      // Confident and wrong: large losses without overflow.
      const wrong = refArray([4], [1, 1, 0, 0]);
      const zw = refArray([4], [-80, -30, 30, 80]);
      assertClose([await E.bceWithLogits(toTensor(zw), toTensor(wrong)).item()], [R.bceWithLogits(zw, wrong)], TOL, 'bce saturated, wrong');
    }));

  it('softmaxCrossEntropy, including large logits and one class', async () =>
    E.tidyAsync(async () => {
      for (const [n, c, scale] of [[1, 1, 1], [7, 13, 3], [129, 65, 5], [33, 10, 60]]) {
        const logits = randomArray(rng, [n, c], -scale, scale);
        const labels = refArray([n]);
        for (let i = 0; i < n; i++) labels.data[i] = rng.int(c);
        const loss = E.softmaxCrossEntropy(toTensor(logits), toTensor(labels));
        assertClose([await loss.item()], [R.softmaxCrossEntropy(logits, labels)], TOL, `softmax CE ${n}x${c} (logits ±${scale})`);
      }
    }));
});

describe('SGD against PyTorch’s update rule (float64 reference), 3 steps', () => {
  const gpu = useGpu();
  const configs: SgdOptions[] = [
    { lr: 0.1 },
    { lr: 0.1, weightDecay: 0.05 },
    { lr: 0.05, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, dampening: 0.3 },
    { lr: 0.05, momentum: 0.9, nesterov: true },
    { lr: 0.05, momentum: 0.8, weightDecay: 0.01, nesterov: true },
    { lr: 0.05, momentum: 0.5, weightDecay: 0.1, dampening: 0.2 },
  ];
  for (const cfg of configs) {
    it(JSON.stringify(cfg), async () => {
      const rng = new TestRandom(42);
      // Parameter shapes [7,5], [7], [3,7], [3]: several arena slots with alignment padding.
      const set = build(mlp({ inputs: 5, width: 7, depth: 2, outputs: 3 }), { scheme: 'pytorch', seed: 3, rt: gpu.rt() });
      const opt = new SGD(set, cfg);
      try {
        const initial = await set.params.readAll();
        const theta = set.names.map((n) => Float64Array.from(initial.get(n)!));
        const ref = new RefSgd(cfg);
        for (let step = 0; step < 3; step++) {
          const grads = set.names.map((n) => randomArray(rng, set.params.view(n).shape));
          set.names.forEach((n, i) => set.grads.write(n, Float32Array.from(grads[i].data)));
          opt.step();
          ref.step(theta, grads.map((g) => g.data));
          const got = await set.params.readAll();
          set.names.forEach((n, i) => assertClose(got.get(n)!, theta[i], { rel: 1e-5, abs: 1e-6 }, `${n} after step ${step + 1}`));
        }
        expect(opt.stepCount).toBe(3);
      } finally {
        opt.dispose();
        set.dispose();
      }
    });
  }

  it('rejects Nesterov without momentum', () => {
    const set = build(mlp({ inputs: 2, width: 2, depth: 1, outputs: 1 }), { scheme: 'he', seed: 0, rt: gpu.rt() });
    try {
      expect(() => new SGD(set, { lr: 0.1, nesterov: true })).toThrow(E.ConfigError);
    } finally {
      set.dispose();
    }
  });
});
