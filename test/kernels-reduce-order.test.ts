// The reduction passes (reduce.wgsl through reduceRaw's plan) bit for bit against a float32
// emulation of each pass's summation order: Kahan lanes over row chunks (cols, cols_tiled),
// the workgroup tree (tree64), and the folds of their partial results. Shapes are chosen to
// hit every path on odd sizes: chunks that do not divide R, outputs that leave idle lanes.
import { describe, expect, it } from 'vitest';
import * as E from '../src/entry-node.js';
import { planReducePass } from '../src/ops/reduce.js';
import { TestRandom, randomArray } from './ref/array.js';
import { toTensor } from './ref/bridge.js';
import { assertBitwiseEqual, assertClose } from './ref/compare.js';
import { useGpu } from './helpers/gpu.js';

const f32 = Math.fround;
type Op = 'sum' | 'sumsq' | 'max';

function combine(op: Op, a: number, b: number): number {
  return op === 'max' ? Math.max(a, b) : f32(a + b);
}

/** One lane's sequential loop: Kahan-compensated for sums, as cols/cols_tiled run it. */
function laneLoop(op: Op, values: number[]): number {
  if (op === 'max') return values.reduce((a, v) => Math.max(a, v), -3.4028234663852886e38);
  let acc = 0;
  let comp = 0;
  for (const v of values) {
    const y = f32(v - comp);
    const t = f32(acc + y);
    comp = f32(f32(t - acc) - y);
    acc = t;
  }
  return acc;
}

/** The 256-lane workgroup tree (tree64 reproduces it bit for bit): strided lanes, then pairwise. */
function treeLoop(op: Op, values: number[]): number {
  const identity = op === 'max' ? -3.4028234663852886e38 : 0;
  const lanes = new Array<number>(256).fill(identity);
  values.forEach((v, i) => (lanes[i % 256] = combine(op, lanes[i % 256], v)));
  for (let s = 128; s > 0; s >>= 1) for (let t = 0; t < s; t++) lanes[t] = combine(op, lanes[t], lanes[t + s]);
  return lanes[0];
}

/** Emulate reduceRaw on [outer, R, inner]: the same plan, each pass's arithmetic in float32. */
function emulate(x: ArrayLike<number>, outer: number, R: number, inner: number, op: Op, isSoftware: boolean, scale = 1): number[] {
  const pass = planReducePass(outer, R, inner, isSoftware, 65535);
  const outputs = outer * inner;
  const partial: number[] = new Array<number>(outputs * pass.chunks);
  for (let o = 0; o < outputs; o++) {
    const oo = Math.floor(o / inner);
    const ii = o % inner;
    for (let c = 0; c < pass.chunks; c++) {
      const rows: number[] = [];
      for (let r = c * pass.chunk; r < Math.min(R, (c + 1) * pass.chunk); r++) {
        const v = x[(oo * R + r) * inner + ii];
        rows.push(op === 'sumsq' ? f32(v * v) : v);
      }
      const folded = pass.entry === 'tree64' ? treeLoop(op, rows) : laneLoop(op, rows);
      const at = pass.entry === 'tree64' ? o * pass.chunks + c : c * outputs + o;
      partial[at] = pass.chunks === 1 && op !== 'max' ? f32(folded * scale) : folded;
    }
  }
  if (pass.chunks === 1) return partial;
  const foldOp: Op = op === 'sumsq' ? 'sum' : op;
  return pass.entry === 'tree64'
    ? emulate(partial, outputs, pass.chunks, 1, foldOp, isSoftware, scale)
    : emulate(partial, 1, pass.chunks, outputs, foldOp, isSoftware, scale);
}

describe('reduction passes in their exact float32 order', () => {
  const gpu = useGpu();
  const rng = new TestRandom(77);

  it('the plan uses the fast paths for long reductions', () => {
    // What bench/elementwise.ts measures: a full sum and a column sum of 16M floats.
    expect(planReducePass(1, 16384, 1024, true, 65535)).toMatchObject({ entry: 'cols_tiled', chunks: 8, chunk: 2048 });
    expect(planReducePass(1, 16384, 1024, false, 65535)).toMatchObject({ entry: 'cols_tiled', chunks: 64, chunk: 256 });
    expect(planReducePass(1, 1 << 24, 1, true, 65535)).toMatchObject({ entry: 'cols', chunks: 4096, chunk: 4096 });
    expect(planReducePass(1, 1 << 24, 1, false, 65535)).toMatchObject({ entry: 'tree64', chunks: 4096 });
    // Short or narrow reductions keep the one-pass kernels.
    expect(planReducePass(1, 37, 1024, true, 65535)).toMatchObject({ entry: 'cols8', chunks: 1 });
    expect(planReducePass(1, 5000, 1026, true, 65535)).toMatchObject({ entry: 'cols', chunks: 1 });
    expect(planReducePass(1, 4099, 1, true, 65535)).toMatchObject({ entry: 'tree64', chunks: 2 });
  });

  it('column sums through cols_tiled: chunks that do not divide R, idle lanes, sum of squares, max, mean', async () =>
    E.tidyAsync(async () => {
      const isSoftware = gpu.rt().ctx.info.isSoftware;
      for (const [outer, R, inner] of [
        [1, 4099, 1028],
        [1, 70, 1024],
        [2, 2501, 516],
      ]) {
        const x = randomArray(rng, [outer, R, inner]);
        const t = toTensor(x);
        const tag = `[${outer},${R},${inner}] over axis 1`;
        expect(planReducePass(outer, R, inner, isSoftware, 65535).entry, tag).toBe('cols_tiled');
        assertBitwiseEqual(await E.sum(t, 1).read(), Float32Array.from(emulate(x.data, outer, R, inner, 'sum', isSoftware)), `sum ${tag}`);
        assertBitwiseEqual(await E.sumSquares(t, 1).read(), Float32Array.from(emulate(x.data, outer, R, inner, 'sumsq', isSoftware)), `sumSquares ${tag}`);
        assertBitwiseEqual(await E.max(t, 1).read(), Float32Array.from(emulate(x.data, outer, R, inner, 'max', isSoftware)), `max ${tag}`);
        assertBitwiseEqual(await E.mean(t, 1).read(), Float32Array.from(emulate(x.data, outer, R, inner, 'sum', isSoftware, f32(1 / R))), `mean ${tag}`);
      }
    }));

  it('long reductions over few outputs: Kahan lanes on CPU adapters, the tree elsewhere', async () =>
    E.tidyAsync(async () => {
      const isSoftware = gpu.rt().ctx.info.isSoftware;
      for (const [outer, R, inner] of [
        [1, 20011, 1],
        [3, 9001, 1],
        [1, 9001, 3],
        [1, 300007, 1],
      ]) {
        const x = randomArray(rng, [outer, R, inner]);
        const t = toTensor(x);
        const tag = `[${outer},${R},${inner}] over axis 1`;
        assertBitwiseEqual(await E.sum(t, 1).read(), Float32Array.from(emulate(x.data, outer, R, inner, 'sum', isSoftware)), `sum ${tag}`);
        assertBitwiseEqual(await E.sumSquares(t, 1).read(), Float32Array.from(emulate(x.data, outer, R, inner, 'sumsq', isSoftware)), `sumSquares ${tag}`);
        assertBitwiseEqual(await E.max(t, 1).read(), Float32Array.from(emulate(x.data, outer, R, inner, 'max', isSoftware)), `max ${tag}`);
      }
    }));

  it('a long sum where plain float32 accumulation would drift stays within 2 ulp of the exact value', async () =>
    E.tidyAsync(async () => {
      // 1 followed by 2^20 terms of 1e-4: a running f32 sum loses about 3e-3 here.
      const n = (1 << 20) + 1;
      const x = new Float32Array(n).fill(1e-4);
      x[0] = 1;
      const exact = 1 + (n - 1) * f32(1e-4);
      const got = await E.sum(E.fromData(x, [n])).item();
      assertClose([got], [exact], { rel: 2.5e-7, abs: 0 }, 'sum of 1 + 2^20 small terms');
      const m = new Float32Array(3000 * 1024).fill(1e-4);
      m.fill(1, 0, 1024);
      assertClose(await E.sum(E.fromData(m, [3000, 1024]), 0).read(), new Float64Array(1024).fill(1 + 2999 * f32(1e-4)), { rel: 2.5e-7, abs: 0 }, 'column sums');
    }));
});
