// `lplr bench` elementwise, conv, mlp-step and resnet-step on tiny sizes: each runs and
// emits well-formed JSON whose values follow from the work and the measured times.
// Speed is measured by the bench, never asserted here.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mlpEpochFlops } from '../harness/experiments/mlp-train.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');

interface Cell {
  impl: string;
  status: string;
  value: number | null;
  medianMs: number | null;
}
interface Case {
  case: string;
  params: Record<string, number | string | boolean>;
  cells: Cell[];
  ratios: Record<string, number | null>;
  targets?: { name: string; met: boolean | null; detail: string }[];
  extras?: Record<string, string>;
}

function bench(args: string[]): { bench: string; unit: string; cases: Case[]; notes: string[] } {
  const r = spawnSync(process.execPath, [cli, 'bench', ...args, '--json', '--min-trial-ms', '0'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.status).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.benches).toHaveLength(1);
  return report.benches[0];
}

function ok(c: Case, impl: string): Cell {
  const cell = c.cells.find((x) => x.impl === impl);
  expect(cell?.status, `${c.case} / ${impl}`).toBe('ok');
  return cell!;
}

describe('lplr bench (tiny sizes)', () => {
  it('elementwise: GB/s of each kernel next to copy_vec4, with the 80 % target', () => {
    const n = 4096;
    const b = bench(['elementwise', '--sizes', String(n)]);
    expect(b).toMatchObject({ bench: 'elementwise', unit: 'GB/s' });
    expect(b.cases).toHaveLength(7);
    const byName = Object.fromEntries(b.cases.map((c) => [c.case.replace(/ n=\d+$/, ''), c]));
    expect(byName['binary x+y'].params.bytes).toBe(12 * n);
    expect(byName['unary exp'].params.bytes).toBe(8 * n);
    for (const c of b.cases) {
      const engine = ok(c, 'engine');
      const copy = ok(c, 'copy_vec4');
      expect(engine.value!).toBeCloseTo(Number(c.params.bytes) / (engine.medianMs! * 1e6), 9);
      expect(copy.value!).toBeCloseTo((8 * n) / (copy.medianMs! * 1e6), 9);
      expect(c.ratios['engine/copy']).toBeCloseTo(engine.value! / copy.value!, 9);
      expect(c.targets![0].met).toBe(c.ratios['engine/copy']! >= 0.8);
    }
  });

  it('conv: three passes per ResNet-20 shape against direct, im2col and the equivalent GEMM', () => {
    const b = bench(['conv', '--sizes', '1']);
    expect(b).toMatchObject({ bench: 'conv', unit: 'GFLOP/s' });
    expect(b.cases).toHaveLength(8 * 3);
    const stage1 = b.cases.find((c) => c.case === 'stage1 16→16 3x3 @32 B=1 fwd')!;
    expect(stage1.params.flops).toBe(2 * 32 * 32 * 16 * 16 * 9);
    const shortcut = b.cases.find((c) => c.case === 'stage2 shortcut 16→32 1x1 s2 @32 B=1 wgrad')!;
    expect(shortcut.params.flops).toBe(2 * 16 * 16 * 32 * 16);
    for (const c of b.cases) {
      for (const impl of ['engine', 'direct', 'im2col', 'gemm']) ok(c, impl);
      expect(c.targets!.map((t) => t.name)).toEqual(['beats im2col+matmul', '>= 50% of the equivalent GEMM']);
      expect(c.targets![0].met).toBe(c.ratios['engine/im2col']! > 1);
    }
    expect(b.notes.join(' ')).toMatch(/targets met: \d+ of 48/);
  });

  it('mlp-step: time per step and GFLOP/s over every GEMM of the step', () => {
    const b = bench(['mlp-step', '--sizes', '16', '--width', '8', '--depth', '3']);
    const [c] = b.cases;
    expect(c.case).toBe('N=16 784→8→8→1');
    // Forward 2nk per layer, weight gradients 2nk, input gradients 2nk except the first layer.
    const flops = 2 * 16 * (784 * 8 * 2 + 8 * 8 * 3 + 8 * 1 * 3);
    expect(c.params.flops).toBe(flops);
    expect(mlpEpochFlops(16, 784, 8, 3)).toBe(flops);
    const cell = ok(c, 'engine');
    expect(cell.value!).toBeCloseTo(flops / (cell.medianMs! * 1e6), 9);
    expect(Number(c.extras!['ms/step'])).toBeCloseTo(cell.medianMs!, 1);
  });

  it('resnet-step: images per second of a full training step', () => {
    const b = bench(['resnet-step', '--sizes', '2', '--depth', '8']);
    const [c] = b.cases;
    expect(b.unit).toBe('images/s');
    expect(c.params).toMatchObject({ batch: 2, depth: 8 });
    const cell = ok(c, 'engine');
    expect(cell.value!).toBeCloseTo(2 / (cell.medianMs! / 1000), 6);
  });
});
