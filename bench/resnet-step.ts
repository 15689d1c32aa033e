// ResNet step benchmark: one full training step of a CIFAR ResNet-20 (16-32-64) on a
// batch of 32x32x3 images: forward in training mode (batch norm on batch statistics),
// softmax cross-entropy, backward, SGD with momentum. Reports images/s and ms/step.
import type { Runtime } from '../src/gpu/runtime.js';
import { backward } from '../src/ops/backward.js';
import { resnet } from '../src/nn/conv-layers.js';
import { build } from '../src/nn/module.js';
import { softmaxCrossEntropy } from '../src/ops/loss.js';
import { SGD } from '../src/optim/sgd.js';
import { fromData, tidy } from '../src/tensor.js';
import { measureCell, randomTensor, type BenchResult, type CaseResult, type TimingOptions } from './harness.js';

export interface ResnetStepBenchOptions extends TimingOptions {
  /** Batch sizes. */
  sizes: number[];
  depth: number;
}

export async function benchResnetStep(rt: Runtime, opts: ResnetStepBenchOptions): Promise<BenchResult> {
  const cases: CaseResult[] = [];
  for (const batch of opts.sizes) {
    const model = resnet({ depth: opts.depth, classes: 10 });
    const set = build(model, { scheme: 'he', seed: 0, rt });
    model.train();
    const optimizer = new SGD(set, { lr: 0.1, momentum: 0.9 });
    const x = randomTensor(rt, [batch, 3, 32, 32], 31);
    const labels = fromData(Float32Array.from({ length: batch }, (_, i) => i % 10), [batch], rt).keep();
    try {
      const step = () => {
        set.zeroGrad();
        tidy(() => {
          const loss = softmaxCrossEntropy(model.forward(x), labels);
          backward(loss);
        });
        optimizer.step();
      };
      // value = work / (ms · 1e6): with work = batch · 1e9 that is batch / seconds, images/s.
      const cell = await measureCell(rt, 'engine', batch * 1e9, step, { ...opts, timing: 'wall' });
      cases.push({
        case: `ResNet-${opts.depth} B=${batch} 3x32x32`,
        params: { batch, depth: opts.depth, parameters: set.count() },
        cells: [cell],
        ratios: {},
        extras: { 'ms/step': cell.medianMs === null ? '-' : cell.medianMs.toFixed(1) },
      });
    } finally {
      x.dispose();
      labels.dispose();
      optimizer.dispose();
      set.dispose();
    }
  }
  return {
    bench: 'resnet-step',
    unit: 'images/s',
    timing: 'wall',
    method: `forward (train mode) + cross-entropy + backward + SGD momentum 0.9; median of ${opts.trials} steps after ${opts.warmup} warm-up`,
    cases,
    peers: [],
    notes: [],
  };
}
