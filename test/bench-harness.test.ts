// bench/harness.ts: the median, timing (trial count, skip budget), and the table and
// report formatting; plus the shape lists the benchmarks are built from.
import { describe, expect, it } from 'vitest';
import { BenchSkip, formatBench, formatTable, measure, measureCell, median, ratio, type BenchResult } from '../bench/harness.js';
import { matmulCases } from '../bench/matmul.js';
import { RESNET20_CONVS } from '../bench/conv.js';
import { syntheticMlpData } from '../bench/mlp-step.js';
import { parsePeerOutput, PEER_MARK } from '../bench/peer-tfjs.js';
import { planFor } from '../harness/cli/verb-bench.js';
import { fromData } from '../src/tensor.js';
import { add } from '../src/ops/elementwise.js';
import { useGpu } from './helpers/gpu.js';

describe('median and ratio', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(Number.isNaN(median([]))).toBe(true);
    expect(ratio(6, 3)).toBe(2);
    expect(ratio(null, 3)).toBeNull();
    expect(ratio(1, 0)).toBeNull();
  });
});

describe('measure', () => {
  const gpu = useGpu();

  it('times the requested number of trials after warm-up and refuses fewer than five', async () => {
    const rt = gpu.rt();
    const x = fromData(new Float32Array(1024).fill(1), [1024], rt);
    let runs = 0;
    const run = () => {
      runs++;
      add(x, x).dispose();
    };
    const m = await measure(rt, run, { warmup: 2, trials: 6, maxRunS: 0, minTrialMs: 0 });
    expect(m.trialsMs).toHaveLength(6);
    expect(runs).toBe(2 + 6 * m.repeats);
    expect(m.medianMs).toBe(median(m.trialsMs));
    expect(m.minMs).toBeLessThanOrEqual(m.medianMs);
    expect(m.timing).toBe(rt.ctx.hasTimestamps ? 'timestamps' : 'wall');
    await expect(measure(rt, run, { warmup: 1, trials: 4, maxRunS: 0 })).rejects.toThrow(/at least 5 trials/);
    x.dispose();
  });

  it('skips a case whose warm-up run exceeds the budget, and says so in the cell', async () => {
    const rt = gpu.rt();
    const slow = () => {
      const t0 = performance.now();
      while (performance.now() - t0 < 30) {
        /* busy */
      }
    };
    await expect(measure(rt, slow, { warmup: 1, trials: 5, maxRunS: 0.005 })).rejects.toBeInstanceOf(BenchSkip);
    const told: unknown[] = [];
    const cell = await measureCell(rt, 'slow', 1e9, slow, { warmup: 1, trials: 5, maxRunS: 0.005, onCell: (c) => told.push(c) });
    expect(cell).toMatchObject({ impl: 'slow', status: 'skipped', value: null });
    expect(cell.note).toMatch(/over --max-run-s 0.005/);
    // Progress: each cell is reported as soon as it is done, skipped ones included.
    expect(told).toEqual([cell]);
  });
});

describe('formatting', () => {
  it('aligns columns: first left, the rest right', () => {
    const t = formatTable(['case', 'a'], [['x', '1.5'], ['longer', '12.25']]).split('\n');
    expect(t).toEqual(['case        a', '------  -----', 'x         1.5', 'longer  12.25']);
  });

  it('prints cells, ratios, extras, misses and peers; a peer-wide reason once', () => {
    const b: BenchResult = {
      bench: 'demo',
      unit: 'GFLOP/s',
      timing: 'wall',
      method: 'test',
      peers: [{ name: 'torch-cpu', status: 'unavailable', detail: 'no torch' }],
      notes: ['a note'],
      cases: [
        {
          case: 'c1',
          params: {},
          cells: [
            { impl: 'engine', status: 'ok', value: 12.345, medianMs: 1 },
            { impl: 'peer', status: 'unavailable', value: null, medianMs: null, note: 'no torch' },
          ],
          ratios: { 'engine/peer': null },
          targets: [
            { name: 'fast', met: false, detail: '40%' },
            { name: 'faster', met: true, detail: '120%' },
          ],
          extras: { 'ms/step': '3.0' },
        },
      ],
    };
    const text = formatBench(b);
    expect(text).toMatch(/c1\s+12\.35\s+unavailable\s+-\s+3\.0/);
    expect(text).toContain('MISS c1: fast (40%)');
    expect(text).not.toContain('faster');
    expect(text).not.toContain('c1 / peer');
    expect(text).toContain('peer torch-cpu: unavailable: no torch');
    expect(text).toContain('note: a note');
  });
});

describe('benchmark inputs', () => {
  it('matmul cases: the MLP layer GEMMs with the engine\'s transposes and 2·M·N·K FLOPs', () => {
    const cases = matmulCases([256], [2000], 2048);
    expect(cases.map((c) => [c.M, c.N, c.K, c.transA, c.transB])).toEqual([
      [256, 256, 256, false, false],
      [2000, 2048, 784, false, true],
      [2000, 2048, 2048, false, true],
      [2000, 2048, 2048, false, false],
      [2048, 2048, 2000, true, false],
      [2048, 784, 2000, true, false],
    ]);
    const wgrad = cases[4];
    expect(wgrad.a).toEqual([2000, 2048]);
    expect(wgrad.flops).toBe(2 * 2048 * 2048 * 2000);
  });

  it('ResNet-20 convolutions: 16-32-64 channels, stride 2 and 1x1 shortcuts at the stage changes', () => {
    expect(RESNET20_CONVS.map((s) => `${s.cin}>${s.cout}/${s.k}/${s.stride}@${s.hw}`)).toEqual([
      '3>16/3/1@32',
      '16>16/3/1@32',
      '16>32/3/2@32',
      '16>32/1/2@32',
      '32>32/3/1@16',
      '32>64/3/2@16',
      '32>64/1/2@16',
      '64>64/3/1@8',
    ]);
  });

  it('sizes per mode: the paper\'s in full runs, modest ones for all', () => {
    expect(planFor('mlp-step', 'full')).toMatchObject({ sizes: [2000, 12665], width: 2048, depth: 5 });
    expect(planFor('mlp-step', 'quick')).toMatchObject({ sizes: [2000], width: 2048 });
    expect(planFor('matmul', 'full')).toMatchObject({ sizes: [256, 512, 1024, 2048], mlpN: [12665, 2000], width: 2048 });
    expect(planFor('resnet-step', 'full').sizes).toEqual([128]);
    expect(planFor('conv', 'full').sizes).toEqual([128]);
  });

  it('synthetic MLP data has the requested shape and binary labels', () => {
    const d = syntheticMlpData(10, 784, 3);
    expect(d.x).toHaveLength(7840);
    expect(new Set(d.y)).toEqual(new Set([0, 1]));
    expect(Math.max(...d.x)).toBeLessThan(1);
  });

  it('a peer child that died is reported as failed with its exit and last stderr line', () => {
    const out = parsePeerOutput('tfjs-webgpu', 'noise\n', 'line1\nboom', 3, null, [{ name: 'a' }]);
    expect(out.peer).toMatchObject({ status: 'failed' });
    expect(out.peer.detail).toMatch(/exited with code 3: line1 \| boom/);
    expect(out.results).toEqual([{ name: 'a', status: 'failed', medianMs: null }]);
    const ok = parsePeerOutput('x', `log\n${PEER_MARK}{"peer":{"name":"x","status":"ok","detail":"d"},"results":[]}\n`, '', 0, null, []);
    expect(ok.peer.status).toBe('ok');
  });
});
