// The fast pointwise paths (4 elements per invocation and vec4 views in elementwise.wgsl; binary_flat[4],
// binary_rows[4], binary_row_loop in broadcast.wgsl after collapsing axes) on odd sizes:
// against a plain float32 TypeScript reference, and bit for bit against the general
// division-based `binary` kernel run on the uncollapsed layout.
import { describe, expect, it } from 'vitest';
import * as E from '../src/entry-node.js';
import { grid1d } from '../src/gpu/runtime.js';
import { uniform } from '../src/gpu/uniform.js';
import { type BinaryPlan, broadcastShapes, broadcastStrides, collapseBroadcast, planBinary } from '../src/ops/elementwise.js';
import { TestRandom, broadcastOffset, randomArray, randomAwayFromZero, type RefArray, sizeOf, unravel } from './ref/array.js';
import { toTensor } from './ref/bridge.js';
import { assertBitwiseEqual, assertClose } from './ref/compare.js';
import { useGpu } from './helpers/gpu.js';

const f32 = Math.fround;

// Plain reference: operands and results rounded to float32 the way IEEE f32 arithmetic rounds.
type BinaryCase = { name: string; code: number; run: (a: E.Tensor, b: E.Tensor) => E.Tensor; ref: (x: number, y: number) => number; exact: boolean };
const BINARY_CASES: BinaryCase[] = [
  { name: 'add', code: 0, run: E.add, ref: (x, y) => f32(x + y), exact: true },
  { name: 'sub', code: 1, run: E.sub, ref: (x, y) => f32(x - y), exact: true },
  { name: 'mul', code: 2, run: E.mul, ref: (x, y) => f32(x * y), exact: true },
  { name: 'div', code: 3, run: E.div, ref: (x, y) => f32(x / y), exact: false },
  { name: 'maximum', code: 4, run: E.maximum, ref: (x, y) => Math.max(x, y), exact: true },
  { name: 'minimum', code: 5, run: E.minimum, ref: (x, y) => Math.min(x, y), exact: true },
  { name: 'greater', code: 7, run: E.greater, ref: (x, y) => (x > y ? 1 : 0), exact: true },
  { name: 'equal', code: 9, run: E.equal, ref: (x, y) => (x === y ? 1 : 0), exact: true },
];

// [a, b, the entry the plan must pick]: every fast path on sizes that are not multiples of 4,
// 1-element operands, [M,1]/[1,N] broadcasts and rank-3 broadcasts that collapse to rank 2.
const PAIRS: [number[], number[], BinaryPlan['entry']][] = [
  [[37], [37], 'binary_flat'],
  [[36], [36], 'binary_flat4'],
  [[3, 5, 7], [3, 5, 7], 'binary_flat'],
  [[5, 7], [], 'binary_flat'],
  [[], [1, 13], 'binary_flat'],
  [[1], [1, 1], 'binary_flat'],
  [[], [], 'binary_flat'],
  [[2, 1, 3], [2, 1, 3], 'binary_flat'],
  [[65, 1], [1, 33], 'binary_row_loop'],
  [[2, 3, 5], [3, 5], 'binary_row_loop'],
  [[7, 1], [7, 3], 'binary_row_loop'],
  [[9, 301], [301], 'binary_rows'],
  [[300, 1], [1, 301], 'binary_rows'],
  [[7, 1], [7, 260], 'binary_rows'],
  [[9, 300], [300], 'binary_rows4'],
  [[300], [5, 300], 'binary_rows4'],
  [[8, 1], [8, 260], 'binary_rows4'],
  [[2, 3, 260], [260], 'binary_rows4'],
  [[4, 1, 1, 300], [1, 1, 300], 'binary_rows4'],
  [[6, 1025], [6, 1], 'binary_rows'],
  [[2, 3, 1025], [3, 1], 'binary'],
  [[3, 1, 5], [4, 1], 'binary'],
  [[2, 1, 300], [1, 3, 300], 'binary'],
];

function referenceBinary(f: (x: number, y: number) => number, a: RefArray, b: RefArray): Float32Array {
  const shape = broadcastShapes(a.shape, b.shape);
  const out = new Float32Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    out[i] = f(a.data[broadcastOffset(idx, a.shape)], b.data[broadcastOffset(idx, b.shape)]);
  }
  return out;
}

/** The general kernel as every binary op ran before the fast paths: uncollapsed, one division per axis. */
function generalBinary(rt: E.Runtime, code: number, a: E.Tensor, b: E.Tensor): E.Tensor {
  const shape = broadcastShapes(a.shape, b.shape);
  const out = E.empty(shape, rt);
  const w = uniform().u32(out.size).u32(shape.length).u32(0).u32(0);
  w.u32s(shape.length ? shape : [1], 8, 0);
  w.u32s(broadcastStrides(a.shape, shape), 8, 0);
  w.u32s(broadcastStrides(b.shape, shape), 8, 0);
  w.u32s([], 8, 0);
  rt.dispatch(
    { shader: 'broadcast', entry: 'binary', overrides: { OP: code, BROADCAST: 1 } },
    w.bytes(),
    [a.region(), b.region(), out.region()],
    grid1d(out.size, 256, rt.limits.maxComputeWorkgroupsPerDimension),
  );
  return out;
}

describe('collapseBroadcast', () => {
  it('merges axes every operand walks contiguously and drops extent-1 axes', () => {
    const layout = (a: number[], b: number[]) => {
      const shape = broadcastShapes(a, b);
      return collapseBroadcast(shape, [broadcastStrides(a, shape), broadcastStrides(b, shape)]);
    };
    expect(layout([2, 3, 4], [2, 3, 4])).toEqual({ shape: [24], strides: [[1], [1]] });
    expect(layout([2, 3, 4], [3, 4])).toEqual({ shape: [2, 12], strides: [[12, 1], [0, 1]] });
    expect(layout([5, 1], [1, 6])).toEqual({ shape: [5, 6], strides: [[1, 0], [0, 1]] });
    expect(layout([4, 1, 1, 6], [1, 1, 6])).toEqual({ shape: [4, 6], strides: [[6, 1], [0, 1]] });
    expect(layout([3, 1, 5], [4, 1])).toEqual({ shape: [3, 4, 5], strides: [[5, 0, 1], [0, 1, 0]] });
    expect(layout([1, 1], [])).toEqual({ shape: [], strides: [[], []] });
    expect(layout([7], [])).toEqual({ shape: [7], strides: [[1], [0]] });
  });
});

describe('fast pointwise paths on odd sizes', () => {
  const gpu = useGpu();
  const rng = new TestRandom(29);

  it('binary ops pick the expected path and match the reference and the general kernel bit for bit', async () =>
    E.tidyAsync(async () => {
      const rt = gpu.rt();
      for (const [sa, sb, entry] of PAIRS) {
        const outShape = broadcastShapes(sa, sb);
        expect(planBinary(sa, sb, outShape, rt.limits.maxComputeWorkgroupsPerDimension).entry, `path for [${sa}] with [${sb}]`).toBe(entry);
        const a = randomArray(rng, sa, -2, 2);
        const b = randomAwayFromZero(rng, sb, 0.25, 2);
        // Ties for equal/greater/max/min: a few equal values in each operand.
        for (let i = 0; i < a.data.length; i += 3) a.data[i] = Math.round(a.data[i]);
        for (let i = 0; i < b.data.length; i += 2) b.data[i] = Math.round(b.data[i]) || 1;
        const ta = toTensor(a);
        const tb = toTensor(b);
        for (const c of BINARY_CASES) {
          const what = `${c.name} [${sa}] with [${sb}] (${entry})`;
          const got = c.run(ta, tb);
          expect(got.shape, what).toEqual(outShape);
          const values = await got.read();
          const expected = referenceBinary(c.ref, a, b);
          if (c.exact) assertBitwiseEqual(values, expected, what);
          else assertClose(values, expected, { rel: 1e-6, abs: 0 }, what);
          assertBitwiseEqual(values, await generalBinary(rt, c.code, ta, tb).read(), `${what} vs general kernel`);
        }
      }
    }));

  it('pow and broadcastTo through the fast paths', async () =>
    E.tidyAsync(async () => {
      const rt = gpu.rt();
      for (const [sa, sb] of [[[9, 301], [301]], [[8, 1], [8, 260]], [[37], []]] as [number[], number[]][]) {
        const a = randomArray(rng, sa, 0.1, 3);
        const b = randomArray(rng, sb, -2, 2);
        const ta = toTensor(a);
        const tb = toTensor(b);
        const got = await E.pow(ta, tb).read();
        assertClose(got, referenceBinary((x, y) => Math.pow(x, y), a, b), { rel: 1e-5, abs: 1e-6 }, `pow [${sa}] with [${sb}]`);
        assertBitwiseEqual(got, await generalBinary(rt, 6, ta, tb).read(), `pow [${sa}] with [${sb}] vs general kernel`);
      }
      for (const [from, to] of [[[7, 1], [7, 261]], [[1, 300], [5, 300]], [[3], [2, 5, 3]], [[], [13]]] as [number[], number[]][]) {
        const x = randomArray(rng, from);
        const got = E.broadcastTo(toTensor(x), to);
        expect(got.shape).toEqual(to);
        assertBitwiseEqual(await got.read(), referenceBinary((v) => v, x, { shape: to, data: new Float64Array(sizeOf(to)) }), `broadcastTo [${from}] -> [${to}]`);
      }
    }));

  it('unary, scalar, fill and accumulate cover every element, tails included', async () =>
    E.tidyAsync(async () => {
      // Multiples of 4 take the vec4-view entries (unary4, scalar4, accumulate4), others the tail loop.
      for (const n of [1, 2, 3, 4, 5, 7, 8, 1023, 1024, 1025, 4099]) {
        const x = randomAwayFromZero(rng, [n], 0.05, 3);
        const t = toTensor(x);
        const ref = (f: (v: number) => number) => Float32Array.from(x.data, (v) => f32(f(v)));
        assertBitwiseEqual(await E.neg(t).read(), ref((v) => -v), `neg n=${n}`);
        assertBitwiseEqual(await E.abs(t).read(), ref(Math.abs), `abs n=${n}`);
        assertBitwiseEqual(await E.square(t).read(), ref((v) => f32(v) * f32(v)), `square n=${n}`);
        assertClose(await E.exp(t).read(), ref(Math.exp), { rel: 1e-5, abs: 0 }, `exp n=${n}`);
        assertBitwiseEqual(await E.mulScalar(t, 1.5).read(), ref((v) => v * 1.5), `mulScalar n=${n}`);
        assertBitwiseEqual(await E.addScalar(t, 0.25).read(), ref((v) => v + 0.25), `addScalar n=${n}`);
        assertClose(await E.powScalar(t, 3).read(), ref((v) => v ** 3), { rel: 1e-5, abs: 0 }, `powScalar n=${n}`);
        assertBitwiseEqual(await E.clamp(t, -1, 1).read(), ref((v) => Math.min(1, Math.max(-1, v))), `clamp n=${n}`);
        assertBitwiseEqual(await E.full([n], 2.5, t.rt).read(), new Float32Array(n).fill(2.5), `full n=${n}`);
        const target = toTensor(x);
        const y = randomArray(rng, [n]);
        // s = 0.5 scales exactly, so fused or not the result is one rounding of v + y/2.
        E.accumulateInto(target, toTensor(y), 0.5);
        assertBitwiseEqual(await target.read(), Float32Array.from(x.data, (v, i) => f32(v + y.data[i] * 0.5)), `accumulateInto n=${n}`);
      }
    }));

  it('reductions: tree64, cols4 and cols8 equal tree and cols bit for bit, and the plain reference', async () =>
    E.tidyAsync(async () => {
      const rt = gpu.rt();
      // The kernels as every reduction ran before: tree (256 lanes) and cols (one output per lane).
      const before = (entry: 'tree' | 'cols', op: number, x: E.Tensor, outer: number, R: number, inner: number, chunk: number): E.Tensor => {
        const chunks = Math.ceil(R / chunk);
        const out = E.empty([outer * inner * chunks], rt);
        rt.dispatch(
          { shader: 'reduce', entry, overrides: { OP: op } },
          uniform().u32(outer).u32(R).u32(inner).u32(chunk).u32(chunks).f32(1).u32(0).u32(0).bytes(),
          [x.region(), out.region()],
          entry === 'tree' ? grid1d(outer * inner * chunks, 1, 65535) : grid1d(outer * inner, 256, 65535),
        );
        return out;
      };
      const columnSums = (x: RefArray, rows: number, cols: number) =>
        Array.from({ length: cols }, (_, c) => Array.from({ length: rows }, (_, r) => x.data[r * cols + c]).reduce((s, v) => s + v, 0));
      // Axis 0 with >= 1024 outputs: cols8 / cols4 when the row length is a multiple of 8 / 4, else cols.
      for (const [rows, cols] of [[37, 1024], [5, 1028], [3, 1026]]) {
        const x = randomArray(rng, [rows, cols]);
        const t = toTensor(x);
        const got = await E.sum(t, 0).read();
        assertClose(got, columnSums(x, rows, cols), { rel: 1e-5, abs: 1e-6 }, `sum axis 0 [${rows},${cols}]`);
        assertBitwiseEqual(got, await before('cols', 0, t, 1, rows, cols, rows).read(), `sum axis 0 [${rows},${cols}] vs cols`);
        assertBitwiseEqual(await E.sumSquares(t, 0).read(), await before('cols', 1, t, 1, rows, cols, rows).read(), `sumSquares axis 0 [${rows},${cols}] vs cols`);
        assertBitwiseEqual(await E.max(t, 0).read(), await before('cols', 2, t, 1, rows, cols, rows).read(), `max axis 0 [${rows},${cols}] vs cols`);
        assertBitwiseEqual(await E.min(t, 0).read(), await before('cols', 3, t, 1, rows, cols, rows).read(), `min axis 0 [${rows},${cols}] vs cols`);
      }
      // Full sums: one tree64 workgroup (n < 4096, lanes past the end idle), and chunked (n > 4096).
      // From 2·4096 on, CPU adapters switch to Kahan lanes (kernels-reduce-order.test.ts).
      for (const n of [1, 3, 63, 65, 257, 4099, 8191]) {
        const x = randomArray(rng, [n]);
        const t = toTensor(x);
        const got = await E.sum(t).read();
        assertClose(got, [x.data.reduce((s, v) => s + v, 0)], { rel: 1e-5, abs: 1e-5 }, `sum n=${n}`);
        const partials = before('tree', 0, t, 1, n, 1, 4096);
        const expected = partials.size === 1 ? partials : before('tree', 0, partials, 1, partials.size, 1, 4096);
        assertBitwiseEqual(got, await expected.read(), `sum n=${n} vs tree`);
        assertBitwiseEqual(await E.max(t).read(), await before('tree', 2, t, 1, n, 1, 1 << 30).read(), `max n=${n} vs tree`);
      }
    }));
});
