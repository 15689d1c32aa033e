// MLP step benchmark: the paper's network 784→W→W→W→W→1 (W = 2048, depth 5) on a full
// batch of N samples, one complete step (forward, MSE loss, backward, SGD update) as the
// trainer runs it (harness/experiments/mlp-train.ts). Reports time per step and the
// sustained GFLOP/s over every GEMM of the step (forward NT, input-gradient NN,
// weight-gradient TN, the N×1 last layer included) as counted by mlpEpochFlops.
import type { Runtime } from '../src/gpu/runtime.js';
import { tidy } from '../src/tensor.js';
import { createMlpState, disposeMlpState, lossAndGradient, mlpEpochFlops, type MlpData, type MlpTrainConfig } from '../harness/experiments/mlp-train.js';
import { measureCell, type BenchResult, type CaseResult, type TimingOptions } from './harness.js';
import { MNIST_INPUTS } from './matmul.js';

export const PAPER_WIDTH = 2048;
export const PAPER_DEPTH = 5;

export interface MlpStepBenchOptions extends TimingOptions {
  /** Sample counts N (full batch). */
  sizes: number[];
  width: number;
  depth: number;
}

/** Seeded synthetic inputs in [0, 1) and 0/1 labels: the step's cost does not depend on the values. */
export function syntheticMlpData(n: number, d: number, seed = 1): MlpData {
  const x = new Float32Array(n * d);
  const y = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let i = 0; i < x.length; i++) x[i] = next();
  for (let i = 0; i < n; i++) y[i] = next() < 0.5 ? 0 : 1;
  return { x, y, n, d };
}

export async function benchMlpStep(rt: Runtime, opts: MlpStepBenchOptions): Promise<BenchResult> {
  const cases: CaseResult[] = [];
  for (const n of opts.sizes) {
    const config: MlpTrainConfig = { width: opts.width, depth: opts.depth, epochs: 1, lr: 0.001, loss: 'mse', init: 'he', seed: 0 };
    const state = createMlpState(rt, config, syntheticMlpData(n, MNIST_INPUTS));
    const flops = mlpEpochFlops(n, MNIST_INPUTS, opts.width, opts.depth);
    try {
      const step = () => {
        tidy(() => {
          lossAndGradient(state);
        });
        state.optimizer.step(config.lr);
      };
      // A training step includes its CPU-side encoding: wall time, whatever the adapter.
      const cell = await measureCell(rt, 'engine', flops, step, { ...opts, timing: 'wall' });
      cases.push({
        case: `N=${n} 784→${Array(opts.depth - 1).fill(opts.width).join('→')}→1`,
        params: { n, width: opts.width, depth: opts.depth, flops, chunks: state.chunks.length },
        cells: [cell],
        ratios: {},
        extras: { 'ms/step': cell.medianMs === null ? '-' : cell.medianMs.toFixed(1), 'GFLOP/step': (flops / 1e9).toFixed(2) },
      });
    } finally {
      disposeMlpState(state);
    }
  }
  return {
    bench: 'mlp-step',
    unit: 'GFLOP/s',
    timing: 'wall',
    method: `forward + backward + SGD update of a full batch; FLOPs of every GEMM of the step; median of ${opts.trials} steps after ${opts.warmup} warm-up`,
    cases,
    peers: [],
    notes: opts.width !== PAPER_WIDTH || opts.depth !== PAPER_DEPTH ? [`width ${opts.width}, depth ${opts.depth} (the paper's is W ${PAPER_WIDTH}, depth ${PAPER_DEPTH}).`] : [],
  };
}
