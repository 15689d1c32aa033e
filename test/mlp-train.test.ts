// The MLP trainer: row chunking gives exactly the full-batch gradient, rows are E+1, the loss
// decreases on a learnable problem, and the first rows match a float64 reference (test/ref)
// trained from the same initial parameters.
import { describe, expect, it } from 'vitest';
import { createMlpState, disposeMlpState, trainMlp, type EpochRow } from '../harness/experiments/mlp-train.js';
import { readState } from '../src/nn/module.js';
import { Rng } from '../src/rng.js';
import { useGpu } from './helpers/gpu.js';
import { refArray, type RefArray } from './ref/array.js';
import { mlpForward, type RefLayer } from './ref/mlp.js';
import { bceWithLogits, bceWithLogitsVjp, matmulVjp, mseLoss, mseLossVjp } from './ref/ops.js';
import { RefSgd } from './ref/sgd.js';

function synthetic(n: number, d: number, seed: number) {
  const rng = new Rng(seed, 'synthetic');
  const x = rng.uniforms(n * d);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = x[i * d] + x[i * d + 1] > 1 ? 1 : 0;
  return { x, y, n, d };
}

describe('MLP full-batch GD', () => {
  const gpu = useGpu();
  const config = { width: 24, depth: 3, epochs: 8, lr: 0.05, loss: 'mse' as const, init: 'he' as const, seed: 3 };

  async function run(maxRowsPerChunk?: number): Promise<EpochRow[]> {
    const state = createMlpState(gpu.rt(), config, synthetic(101, 13, 1), { maxRowsPerChunk });
    try {
      const rows: EpochRow[] = [];
      await trainMlp(state, { onRow: (r) => void rows.push(r) });
      return rows;
    } finally {
      disposeMlpState(state);
    }
  }

  it('streams E+1 rows with decreasing loss, drift 0 at t=0', async () => {
    const rows = await run();
    expect(rows.map((r) => r.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rows[0].drift).toBe(0);
    expect(rows[8].loss).toBeLessThan(rows[0].loss);
    expect(rows.every((r) => r.gradNormSq > 0 && r.acc >= 0 && r.acc <= 1)).toBe(true);
  });

  it('row chunks accumulate the same full-batch gradient', async () => {
    const whole = await run();
    const chunked = await run(17);
    for (let t = 0; t < whole.length; t++) {
      expect(chunked[t].loss).toBeCloseTo(whole[t].loss, 5);
      expect(chunked[t].gradNormSq / whole[t].gradNormSq).toBeCloseTo(1, 4);
    }
  });
});

/** Loss and gradients of an MLP in float64 for either loss (test/ref/mlp.ts's backward, loss chosen). */
function refLossAndGrads(layers: RefLayer[], x: RefArray, y: RefArray, loss: 'mse' | 'bce'): { loss: number; grads: RefLayer[]; output: RefArray } {
  const { inputs, output } = mlpForward(layers, x);
  const value = loss === 'mse' ? mseLoss(output, y) : bceWithLogits(output, y);
  let g = loss === 'mse' ? mseLossVjp(output, y) : bceWithLogitsVjp(output, y);
  const grads: RefLayer[] = new Array(layers.length);
  for (let l = layers.length - 1; l >= 0; l--) {
    const vjp = matmulVjp(inputs[l], layers[l].weight, g, { transB: true, bias: layers[l].bias, relu: l < layers.length - 1 });
    grads[l] = { weight: vjp.b, bias: vjp.bias ?? refArray(layers[l].bias.shape) };
    g = vjp.a;
  }
  return { loss: value, grads, output };
}

/**
 * Rows 0..steps-1 of the reference: at θ_t before update t, the loss, ‖∇L(θ_t)‖², ‖θ_t − θ_0‖ and
 * the accuracy (output > 0.5 for mse, logit > 0 for bce), then one plain SGD step.
 */
function referenceRows(layers: RefLayer[], x: RefArray, y: RefArray, loss: 'mse' | 'bce', lr: number, steps: number) {
  const flat = () => layers.flatMap((L) => [L.weight.data, L.bias.data]);
  const theta0 = flat().map((a) => Float64Array.from(a));
  const sgd = new RefSgd({ lr });
  const rows: { loss: number; gradNormSq: number; drift: number; acc: number }[] = [];
  for (let t = 0; t < steps; t++) {
    const { loss: value, grads, output } = refLossAndGrads(layers, x, y, loss);
    const gradArrays = grads.flatMap((G) => [G.weight.data, G.bias.data]);
    const gradNormSq = gradArrays.reduce((s, a) => s + a.reduce((u, v) => u + v * v, 0), 0);
    const driftSq = flat().reduce((s, a, j) => s + a.reduce((u, v, i) => u + (v - theta0[j][i]) ** 2, 0), 0);
    const threshold = loss === 'mse' ? 0.5 : 0;
    const correct = Array.from(output.data).filter((f, i) => (f > threshold ? 1 : 0) === y.data[i]).length;
    rows.push({ loss: value, gradNormSq, drift: Math.sqrt(driftSq), acc: correct / y.data.length });
    sgd.step(flat(), gradArrays);
  }
  return rows;
}

describe('MLP full-batch GD against the float64 reference', () => {
  const gpu = useGpu();
  // Odd sizes everywhere (samples, inputs, width) so no kernel's tile divides them.
  const data = synthetic(37, 11, 5);

  it.each([
    ['mse', 'one chunk', undefined],
    ['bce', 'one chunk', undefined],
    ['mse', 'chunks of 10 rows', 10],
  ] as const)('loss %s, %s: rows 0-2 (loss, ‖∇L‖², drift, acc) match to 1e-4', async (loss, _chunking, maxRowsPerChunk) => {
    const config = { width: 7, depth: 3, epochs: 2, lr: 0.2, loss, init: 'he' as const, seed: 11 };
    const state = createMlpState(gpu.rt(), config, data, { maxRowsPerChunk });
    try {
      const params = new Map((await readState(state.set)).map((p) => [p.name, p]));
      const layer = (i: number): RefLayer => {
        const w = params.get(`${i}.weight`)!;
        const b = params.get(`${i}.bias`)!;
        return { weight: refArray(w.shape, w.data), bias: refArray(b.shape, b.data) };
      };
      // Linear layers sit at 0, 2, 4 of the Sequential (ReLUs between them).
      const layers = [layer(0), layer(2), layer(4)];
      expect(layers.map((L) => L.weight.shape)).toEqual([[7, 11], [7, 7], [1, 7]]);
      const expected = referenceRows(layers, refArray([37, 11], data.x), refArray([37, 1], data.y), loss, config.lr, 3);

      const rows: EpochRow[] = [];
      await trainMlp(state, { onRow: (r) => void rows.push(r) });
      expect(rows).toHaveLength(3);
      // The problem must move: a trainer that skipped updates would repeat row 0.
      expect(Math.abs(expected[2].loss - expected[0].loss) / expected[0].loss).toBeGreaterThan(1e-2);
      const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
      rows.forEach((row, t) => {
        expect(row.epoch).toBe(t);
        expect(rel(row.loss, expected[t].loss), `loss at t=${t}`).toBeLessThan(1e-4);
        expect(rel(row.gradNormSq, expected[t].gradNormSq), `‖∇L‖² at t=${t}`).toBeLessThan(1e-4);
        if (t === 0) expect(row.drift).toBe(0);
        else expect(rel(row.drift, expected[t].drift), `drift at t=${t}`).toBeLessThan(1e-4);
        expect(row.acc, `acc at t=${t}`).toBe(expected[t].acc);
      });
    } finally {
      disposeMlpState(state);
    }
  });
});
