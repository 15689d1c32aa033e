// Elementwise benchmark: unary, scalar, binary, broadcast and reduction kernels in GB/s
// (bytes each kernel must read and write once) against the vec4 copy kernel on the same
// adapter, the practical bandwidth ceiling. Target: >= 80 % of copy.
import type { Runtime } from '../src/gpu/runtime.js';
import { grid1d } from '../src/gpu/runtime.js';
import { paramsLayout } from '../src/gpu/uniform.js';
import { add, exp, mulScalar } from '../src/ops/elementwise.js';
import { sum } from '../src/ops/reduce.js';
import { empty, tidy, type Tensor } from '../src/tensor.js';
import { measureCell, randomTensor, ratio, type BenchResult, type CaseResult, type Cell, type TimingOptions } from './harness.js';

export const COPY_TARGET = 0.8;

export interface ElementwiseBenchOptions extends TimingOptions {
  /** Element counts (each a multiple of 1024 is best; any works). */
  sizes: number[];
}

/** The bandwidth reference: elementwise.wgsl's copy_vec4, four floats per invocation. */
export function copyVec4(rt: Runtime, x: Tensor, y: Tensor): void {
  const n = x.size;
  rt.dispatch(
    { shader: 'elementwise', entry: 'copy_vec4' },
    paramsLayout('elementwise').pack({ n, rank: 0, s0: 0, s1: 0 }),
    [x.region(), y.region()],
    grid1d(Math.ceil(n / 4), 256, rt.limits.maxComputeWorkgroupsPerDimension),
  );
}

interface Kernel {
  name: string;
  bytes: number;
  run: () => void;
}

export async function benchElementwise(rt: Runtime, opts: ElementwiseBenchOptions): Promise<BenchResult> {
  const cases: CaseResult[] = [];
  for (const n of opts.sizes) {
    // A [rows, cols] view of the same data for the broadcast and axis reductions.
    const cols = 1024;
    const rows = Math.max(1, Math.floor(n / cols));
    const x = randomTensor(rt, [n], 11);
    const y = randomTensor(rt, [n], 12);
    const m = randomTensor(rt, [rows, cols], 13);
    const row = randomTensor(rt, [cols], 14);
    const out = empty([n], rt).keep();
    try {
      const copy = await measureCell(rt, 'copy_vec4', 8 * n, () => copyVec4(rt, x, out), opts);
      const run = (f: () => unknown) => () => {
        tidy(() => {
          f();
        });
      };
      const kernels: Kernel[] = [
        { name: 'unary exp', bytes: 8 * n, run: run(() => exp(x)) },
        { name: 'scalar x*s', bytes: 8 * n, run: run(() => mulScalar(x, 1.5)) },
        { name: 'binary x+y', bytes: 12 * n, run: run(() => add(x, y)) },
        { name: `broadcast [${rows},${cols}]+[${cols}]`, bytes: 8 * rows * cols + 4 * cols, run: run(() => add(m, row)) },
        { name: 'reduce sum(all)', bytes: 4 * n, run: run(() => sum(x)) },
        { name: `reduce sum(axis 0) [${rows},${cols}]`, bytes: 4 * rows * cols + 4 * cols, run: run(() => sum(m, 0)) },
        { name: `reduce sum(axis 1) [${rows},${cols}]`, bytes: 4 * rows * cols + 4 * rows, run: run(() => sum(m, 1)) },
      ];
      for (const k of kernels) {
        const cell = await measureCell(rt, 'engine', k.bytes, k.run, opts);
        const cells: Cell[] = [cell, copy];
        const r = ratio(cell.value, copy.value);
        cases.push({
          case: `${k.name} n=${n}`,
          params: { n, bytes: k.bytes },
          cells,
          ratios: { 'engine/copy': r },
          targets: [{ name: `>= ${COPY_TARGET * 100}% of copy_vec4`, met: r === null ? null : r >= COPY_TARGET, detail: r === null ? 'not measured' : `${(r * 100).toFixed(0)}%` }],
        });
      }
    } finally {
      for (const t of [x, y, m, row, out]) t.dispose();
    }
  }
  const targets = cases.flatMap((c) => c.targets ?? []);
  return {
    bench: 'elementwise',
    unit: 'GB/s',
    timing: rt.ctx.hasTimestamps ? 'timestamps' : 'wall',
    method: `bytes read + written once per op (f32) through the public ops, median of ${opts.trials} trials after ${opts.warmup} warm-up`,
    cases,
    peers: [],
    notes: [
      'copy_vec4 moves 8 bytes per element (read + write) and is the bandwidth ceiling the other kernels are held to.',
      `targets met: ${targets.filter((t) => t.met === true).length} of ${targets.filter((t) => t.met !== null).length}.`,
    ],
  };
}
