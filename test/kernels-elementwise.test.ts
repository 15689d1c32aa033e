// Pointwise kernels (elementwise.wgsl, broadcast.wgsl, select.wgsl, activation.wgsl)
// against the float64 reference on awkward shapes and broadcasting corners.
import { describe, expect, it } from 'vitest';
import * as E from '../src/entry-node.js';
import { type RefArray, TestRandom, broadcastTo, randomArray, randomAwayFromZero, refArray } from './ref/array.js';
import { toTensor } from './ref/bridge.js';
import { assertClose } from './ref/compare.js';
import * as R from './ref/ops.js';
import { useGpu } from './helpers/gpu.js';

const TOL = { rel: 1e-5, abs: 1e-6 };
const SHAPES: number[][] = [[], [1, 1], [7, 13, 5], [33], [65, 33], [129, 65, 33]];
// [a, b] pairs covering NumPy broadcasting's corners.
const BROADCAST_PAIRS: [number[], number[]][] = [
  [[7, 13, 5], [7, 13, 5]],
  [[3, 1, 5], [4, 1]],
  [[2, 3], []],
  [[], [2, 3]],
  [[1], [2, 3]],
  [[65, 33], [33]],
  [[65, 1], [1, 33]],
  [[1, 1], [1, 1]],
  [[], []],
];

async function expectTensor(t: E.Tensor, expected: RefArray, what: string, tol = TOL): Promise<void> {
  expect(t.shape, `${what} shape`).toEqual(expected.shape);
  assertClose(await t.read(), expected.data, tol, what);
}

describe('pointwise kernels against the float64 reference', () => {
  useGpu();
  const rng = new TestRandom(11);

  it('unary ops on every shape', async () => E.tidyAsync(async () => {
    const ops: Record<R.UnaryOp, (x: E.Tensor) => E.Tensor> = {
      neg: E.neg,
      exp: E.exp,
      log: E.log,
      sqrt: E.sqrt,
      abs: E.abs,
      square: E.square,
      reciprocal: E.reciprocal,
      sign: E.sign,
    };
    for (const shape of SHAPES) {
      for (const op of R.UNARY_OPS) {
        const x = op === 'log' || op === 'sqrt' ? randomArray(rng, shape, 0.01, 4) : randomAwayFromZero(rng, shape, 0.05, 3);
        const y = ops[op](toTensor(x));
        await expectTensor(y, R.unary(op, x), `${op} [${shape}]`);
      }
    }
  }));

  it('scalar ops, including pow with negative bases and clamp at its bounds', async () => E.tidyAsync(async () => {
    const x = randomArray(rng, [7, 13, 5], -3, 3);
    x.data.set([0, -2, 2, -0.5, 0.5, 1, -1]);
    const t = toTensor(x);
    await expectTensor(E.addScalar(t, 0.75), R.scalarOp('addScalar', x, 0.75), 'addScalar');
    await expectTensor(E.mulScalar(t, -1.25), R.scalarOp('mulScalar', x, -1.25), 'mulScalar');
    await expectTensor(E.affine(t, 2.5, -0.5), R.scalarOp('affine', x, 2.5, -0.5), 'affine');
    await expectTensor(E.clamp(t, -0.5, 1), R.scalarOp('clamp', x, -0.5, 1), 'clamp');
    for (const e of [0, 1, 2, 3, -1, -2]) {
      await expectTensor(E.powScalar(t, e), R.scalarOp('powScalar', x, e), `powScalar ${e}`);
    }
    // Fractional exponents: defined on x >= 0 only; negative bases give NaN as in IEEE pow.
    const pos = randomArray(rng, [33], 0, 4);
    await expectTensor(E.powScalar(toTensor(pos), 0.5), R.scalarOp('powScalar', pos, 0.5), 'powScalar 0.5');
    await expectTensor(E.powScalar(toTensor(pos), 1.5), R.scalarOp('powScalar', pos, 1.5), 'powScalar 1.5');
    const neg = await E.powScalar(E.fromData([-2, -0.5], [2]), 1.5).read();
    expect([...neg].every(Number.isNaN)).toBe(true);
  }));

  it('accumulateInto (target += s·x, in place) and copy', async () =>
    E.tidyAsync(async () => {
      const x = randomArray(rng, [129, 65]);
      const base = randomArray(rng, [129, 65]);
      const target = toTensor(base);
      E.accumulateInto(target, toTensor(x), -0.5);
      const expected = R.binary('add', base, R.scalarOp('mulScalar', x, -0.5));
      await expectTensor(target, expected, 'accumulateInto');
      const copied = E.copy(target);
      E.accumulateInto(target, toTensor(x));
      await expectTensor(copied, expected, 'copy is independent of its source');
    }));

  it('full fills every element (grid folding included)', async () => E.tidyAsync(async () => {
    for (const shape of [[], [1], [257], [129, 65, 33]]) {
      const t = E.full(shape, -3.5, E.runtime());
      const v = await t.read();
      expect(v.length).toBe(shape.reduce((a, b) => a * b, 1));
      expect(v.every((x) => x === -3.5)).toBe(true);
    }
  }));

  it('binary ops with broadcasting', async () => E.tidyAsync(async () => {
    const ops: Record<R.BinaryOp, (a: E.Tensor, b: E.Tensor) => E.Tensor> = {
      add: E.add,
      sub: E.sub,
      mul: E.mul,
      div: E.div,
      maximum: E.maximum,
      minimum: E.minimum,
      pow: E.pow,
      greater: E.greater,
      equal: E.equal,
    };
    for (const [sa, sb] of BROADCAST_PAIRS) {
      for (const op of R.BINARY_OPS) {
        const a = op === 'pow' ? randomArray(rng, sa, 0.1, 3) : randomArray(rng, sa, -2, 2);
        const b = op === 'div' ? randomAwayFromZero(rng, sb, 0.25, 2) : randomArray(rng, sb, -2, 2);
        if (op === 'equal' || op === 'greater') {
          // Make ties appear: quantize both operands to a few levels.
          for (const arr of [a, b]) for (let i = 0; i < arr.data.length; i++) arr.data[i] = Math.round(arr.data[i]);
        }
        await expectTensor(ops[op](toTensor(a), toTensor(b)), R.binary(op, a, b), `${op} [${sa}] with [${sb}]`);
      }
    }
  }));

  it('rank-6 broadcasting (the kernels take up to rank 8)', async () =>
    E.tidyAsync(async () => {
      const a = randomArray(rng, [2, 1, 3, 1, 2, 1]);
      const b = randomArray(rng, [1, 4, 1, 5, 1, 3]);
      await expectTensor(E.mul(toTensor(a), toTensor(b)), R.binary('mul', a, b), 'mul rank 6');
      await expectTensor(E.sub(toTensor(b), toTensor(a)), R.binary('sub', b, a), 'sub rank 6');
    }));

  it('more than 65535 workgroups fold into the grid y dimension', async () =>
    E.tidyAsync(async () => {
      // 65535·256 + 300 elements: 65537 workgroups of 256, past the per-dimension cap.
      const n = 65535 * 256 + 300;
      const ramp = new Float32Array(n);
      for (let i = 0; i < n; i++) ramp[i] = i % 1000003;
      const y = await E.addScalar(E.fromData(ramp, [n]), 1).read();
      let bad = -1;
      for (let i = 0; i < n && bad < 0; i++) if (y[i] !== (i % 1000003) + 1) bad = i;
      expect(bad, `first wrong element (value ${y[bad]})`).toBe(-1);
    }));

  it('where with broadcasting of all three operands', async () => E.tidyAsync(async () => {
    const cases: [number[], number[], number[]][] = [
      [[3, 1, 5], [4, 1], [5]],
      [[], [2, 3], [1]],
      [[65, 33], [65, 33], []],
      [[1, 33], [65, 1], [65, 33]],
    ];
    for (const [sc, sa, sb] of cases) {
      const cond = randomArray(rng, sc);
      for (let i = 0; i < cond.data.length; i++) cond.data[i] = cond.data[i] > 0 ? 1 : 0;
      const a = randomArray(rng, sa);
      const b = randomArray(rng, sb);
      await expectTensor(E.where(toTensor(cond), toTensor(a), toTensor(b)), R.where(cond, a, b), `where [${sc}] [${sa}] [${sb}]`);
    }
  }));

  it('broadcastTo materializes a broadcast', async () => E.tidyAsync(async () => {
    const x = randomArray(rng, [3, 1, 5]);
    await expectTensor(E.broadcastTo(toTensor(x), [2, 3, 4, 5]), broadcastTo(x, [2, 3, 4, 5]), 'broadcastTo');
  }));

  it('activations on every shape and at extreme inputs', async () => E.tidyAsync(async () => {
    const extremes = [-100, -50, -20, -10, -5, -0.3, -0.2, -1e-3, -1e-6, 0, 1e-6, 1e-3, 0.2, 0.3, 5, 10, 20, 50, 100];
    for (const name of R.ACTIVATION_NAMES) {
      const fn = (x: E.Tensor): E.Tensor => (name === 'leakyRelu' ? E.leakyRelu(x, 0.2) : E.activation(name, x));
      for (const shape of SHAPES) {
        const x = randomArray(rng, shape, -6, 6);
        await expectTensor(fn(toTensor(x)), R.activation(name, x, 0.2), `${name} [${shape}]`);
      }
      const x = refArray([extremes.length], extremes);
      // Relative accuracy also for tiny values (tanh near 0, sigmoid/softplus far left, where
      // PyTorch's log1p-based softplus is exact); no absolute floor. GELU's erf form
      // 0.5·x·(1 + erf(x/√2)) cancels for x << 0 in f32 (in PyTorch too), and WGSL has no
      // erf (A&S 7.1.26, |error| < 1.5e-7): an absolute bound of 0.5·|x|·2e-7 there.
      const tol = name === 'gelu' ? { rel: 1e-5, abs: 1e-6 } : { rel: 1e-5, abs: 1e-30 };
      await expectTensor(fn(toTensor(x)), R.activation(name, x, 0.2), `${name} at extreme inputs`, tol);
    }
  }));
});
