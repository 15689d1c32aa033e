// The MLP trainer: row chunking gives exactly the full-batch gradient, rows are E+1, and
// the loss decreases on a learnable problem.
import { describe, expect, it } from 'vitest';
import { createMlpState, disposeMlpState, trainMlp, type EpochRow } from '../harness/experiments/mlp-train.js';
import { Rng } from '../src/rng.js';
import { useGpu } from './helpers/gpu.js';

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
