// Every backward rule on the GPU (through `backward(y, g)` with a random upstream
// gradient g) against the float64 reference's VJPs, which test/grad-ref.test.ts checks
// against finite differences.
import { describe, expect, it } from 'vitest';
import * as E from '../src/entry-node.js';
import { type RefArray, TestRandom, broadcastTo, randomArray, randomAwayFromZero, refArray, sumToShape } from './ref/array.js';
import { toTensor } from './ref/bridge.js';
import { assertClose, type Tolerance } from './ref/compare.js';
import * as R from './ref/ops.js';
import { useGpu } from './helpers/gpu.js';

const TOL: Tolerance = { rel: 1e-5, abs: 1e-6 };

/**
 * Run `f` on fresh leaves made from `inputs`, back-propagate a random upstream gradient,
 * and compare each leaf's .grad with the reference VJP (`ref(g)`, one array per input).
 */
async function checkGrad(
  what: string,
  rng: TestRandom,
  inputs: RefArray[],
  f: (...xs: E.Tensor[]) => E.Tensor,
  forward: RefArray,
  ref: (g: RefArray) => (RefArray | undefined)[],
  tol: Tolerance = TOL,
): Promise<void> {
  await E.tidyAsync(async () => {
    const leaves = inputs.map((x) => toTensor(x, true));
    const y = f(...leaves);
    expect(y.shape, `${what}: output shape`).toEqual(forward.shape);
    const g = randomArray(rng, forward.shape);
    E.backward(y, toTensor(g));
    const expected = ref(g);
    for (let i = 0; i < leaves.length; i++) {
      const exp = expected[i];
      if (!exp) continue;
      const grad = leaves[i].grad;
      expect(grad, `${what}: input ${i} got no gradient`).toBeDefined();
      expect(grad!.shape, `${what}: gradient ${i} shape`).toEqual(inputs[i].shape);
      assertClose(await grad!.read(), exp.data, tol, `${what}: d/d input ${i}`);
      grad!.dispose();
    }
  });
}

describe('backward rules on the GPU against the reference VJPs', () => {
  useGpu();
  const rng = new TestRandom(51);

  it('unary ops', async () => {
    const ops: Partial<Record<R.UnaryOp, (x: E.Tensor) => E.Tensor>> = {
      neg: E.neg,
      exp: E.exp,
      log: E.log,
      sqrt: E.sqrt,
      abs: E.abs,
      square: E.square,
      reciprocal: E.reciprocal,
    };
    for (const [op, fn] of Object.entries(ops) as [R.UnaryOp, (x: E.Tensor) => E.Tensor][]) {
      for (const shape of [[1], [7, 13], [65, 33]]) {
        const x = op === 'log' || op === 'sqrt' ? randomArray(rng, shape, 0.1, 3) : randomAwayFromZero(rng, shape, 0.1, 2);
        await checkGrad(`${op} [${shape}]`, rng, [x], fn, R.unary(op, x), (g) => [R.unaryVjp(op, x, g)]);
      }
    }
  });

  it('scalar ops', async () => {
    const cases: [R.ScalarOp, number, number, (x: E.Tensor) => E.Tensor][] = [
      ['addScalar', 0.5, 0, (x) => E.addScalar(x, 0.5)],
      ['mulScalar', -2, 0, (x) => E.mulScalar(x, -2)],
      ['affine', 1.5, 0.25, (x) => E.affine(x, 1.5, 0.25)],
      ['powScalar', 3, 0, (x) => E.powScalar(x, 3)],
      ['powScalar', -1, 0, (x) => E.powScalar(x, -1)],
      ['clamp', -0.3, 0.4, (x) => E.clamp(x, -0.3, 0.4)],
    ];
    for (const [op, s0, s1, fn] of cases) {
      const x = randomAwayFromZero(rng, [7, 13], 0.2, 1);
      await checkGrad(`${op}(${s0}, ${s1})`, rng, [x], fn, R.scalarOp(op, x, s0, s1), (g) => [R.scalarOpVjp(op, x, g, s0, s1)]);
    }
  });

  it('binary ops with broadcasting, both operands', async () => {
    const ops: Partial<Record<R.BinaryOp, (a: E.Tensor, b: E.Tensor) => E.Tensor>> = {
      add: E.add,
      sub: E.sub,
      mul: E.mul,
      div: E.div,
      maximum: E.maximum,
      minimum: E.minimum,
      pow: E.pow,
    };
    const pairs: [number[], number[]][] = [
      [[7, 13], [7, 13]],
      [[3, 1, 5], [4, 1]],
      [[2, 3], []],
      [[1], [2, 3]],
      [[65, 1], [1, 33]],
    ];
    for (const [op, fn] of Object.entries(ops) as [R.BinaryOp, (a: E.Tensor, b: E.Tensor) => E.Tensor][]) {
      for (const [sa, sb] of pairs) {
        const a = op === 'pow' ? randomArray(rng, sa, 0.5, 2) : randomArray(rng, sa);
        const b = op === 'div' ? randomAwayFromZero(rng, sb, 0.5, 2) : randomArray(rng, sb);
        await checkGrad(`${op} [${sa}] [${sb}]`, rng, [a, b], fn, R.binary(op, a, b), (g) => R.binaryVjp(op, a, b, g));
      }
    }
  });

  it('where (both branches, broadcast condition) and broadcastTo', async () => {
    const cond = refArray([3, 1], [1, 0, 1]);
    const a = randomArray(rng, [3, 4]);
    const b = randomArray(rng, [4]);
    const condT = toTensor(cond);
    await checkGrad('where', rng, [a, b], (x, y) => E.where(condT, x, y), R.where(cond, a, b), (g) => R.whereVjp(cond, a, b, g));
    const x = randomArray(rng, [3, 1, 5]);
    await checkGrad('broadcastTo', rng, [x], (t) => E.broadcastTo(t, [2, 3, 4, 5]), broadcastTo(x, [2, 3, 4, 5]), (g) => [sumToShape(g, x.shape)]);
  });

  it('reshape passes the gradient through', async () => {
    const x = randomArray(rng, [6, 5]);
    await checkGrad('reshape', rng, [x], (t) => E.exp(t.reshape([3, -1])), { shape: [3, 10], data: R.unary('exp', x).data }, (g) => [
      R.unaryVjp('exp', x, refArray([6, 5], g.data)),
    ]);
  });

  it('activations', async () => {
    for (const name of R.ACTIVATION_NAMES) {
      const fn = (t: E.Tensor): E.Tensor => (name === 'leakyRelu' ? E.leakyRelu(t, 0.2) : E.activation(name, t));
      for (const shape of [[1], [7, 13], [129, 65]]) {
        const x = randomAwayFromZero(rng, shape, 0.01, 5);
        await checkGrad(`${name} [${shape}]`, rng, [x], fn, R.activation(name, x, 0.2), (g) => [R.activationVjp(name, x, g, 0.2)]);
      }
    }
  });

  it('reductions along each axis and over everything', async () => {
    const fns: Record<R.ReduceOp, (x: E.Tensor, axes?: number | number[], keep?: boolean) => E.Tensor> = {
      sum: E.sum,
      mean: E.mean,
      max: E.max,
      min: E.min,
      sumSquares: E.sumSquares,
    };
    for (const shape of [[7, 13, 5], [3, 9001]]) {
      const x = randomArray(rng, shape);
      const axesList: (number | number[] | undefined)[] = shape.length === 3 ? [0, 1, 2, [0, 2], undefined] : [0, 1, undefined];
      for (const op of R.REDUCE_OPS) {
        for (const axes of axesList) {
          for (const keep of [false, true]) {
            await checkGrad(`${op} [${shape}] axes ${JSON.stringify(axes)} keep=${keep}`, rng, [x], (t) => fns[op](t, axes, keep), R.reduce(op, x, axes, keep), (g) => [
              R.reduceVjp(op, x, g, axes),
            ]);
          }
        }
      }
    }
  });

  it('max/min split the gradient evenly between tied maxima', async () => {
    const x = refArray([2, 4], [1, 3, 3, 0, -2, -2, 5, -2]);
    await checkGrad('max ties', rng, [x], (t) => E.max(t, 1), R.reduce('max', x, 1), (g) => [R.reduceVjp('max', x, g, 1)]);
    await checkGrad('min ties', rng, [x], (t) => E.min(t, 1), R.reduce('min', x, 1), (g) => [R.reduceVjp('min', x, g, 1)]);
  });

  it('matmul: every variant and transpose combination, batch broadcasting, bias and fused ReLU', async () => {
    const [M, K, N] = [7, 13, 5];
    for (const variant of E.MATMUL_VARIANTS) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const [batchA, batchB] of [[0, 0], [3, 3], [1, 3], [3, 0], [0, 3]]) {
            const shapeA = transA ? [K, M] : [M, K];
            const shapeB = transB ? [N, K] : [K, N];
            const a = randomArray(rng, batchA ? [batchA, ...shapeA] : shapeA);
            const b = randomArray(rng, batchB ? [batchB, ...shapeB] : shapeB);
            const bias = randomArray(rng, [N]);
            for (const relu of [false, true]) {
              const opts = { transA, transB, bias, relu };
              await checkGrad(
                `matmul ${variant} tA=${transA} tB=${transB} batch ${batchA}/${batchB} relu=${relu}`,
                rng,
                [a, b, bias],
                (x, y, z) => E.matmul(x, y, { transA, transB, bias: z, activation: relu ? 'relu' : 'none', variant }),
                R.matmul(a, b, opts),
                (g) => {
                  const v = R.matmulVjp(a, b, g, opts);
                  return [v.a, v.b, v.bias];
                },
                { rel: 1e-5, abs: 2e-7 * 3 * Math.max(K, M, N) },
              );
            }
          }
        }
      }
    }
  });

  it('losses', async () => {
    const pred = randomArray(rng, [33, 3]);
    const target = randomArray(rng, [33, 3]);
    const probs = randomArray(rng, [33, 3], 0, 1);
    const labels = refArray([33]);
    for (let i = 0; i < 33; i++) labels.data[i] = rng.int(3);
    const scalar = (v: number): RefArray => refArray([], [v]);
    const t = toTensor(target);
    const p = toTensor(probs);
    const l = toTensor(labels);
    await checkGrad('mseLoss', rng, [pred], (x) => E.mseLoss(x, t), scalar(R.mseLoss(pred, target)), (g) => [R.mseLossVjp(pred, target, g.data[0])]);
    await checkGrad('bceWithLogits', rng, [pred], (x) => E.bceWithLogits(x, p), scalar(R.bceWithLogits(pred, probs)), (g) => [
      R.bceWithLogitsVjp(pred, probs, g.data[0]),
    ]);
    await checkGrad('softmaxCrossEntropy', rng, [pred], (x) => E.softmaxCrossEntropy(x, l), scalar(R.softmaxCrossEntropy(pred, labels)), (g) => [
      R.softmaxCrossEntropyVjp(pred, labels, g.data[0]),
    ]);
  });

  it('a tensor used twice accumulates both paths; leaf gradients accumulate across backward calls', async () => {
    const x = randomArray(rng, [7, 13]);
    // y = x·x + exp(x): dy/dx = 2x + exp(x).
    const expected = (g: RefArray): RefArray[] => [refArray(x.shape, x.data.map((v, i) => g.data[i] * (2 * v + Math.exp(v))))];
    await checkGrad('x*x + exp(x)', rng, [x], (t) => E.add(E.mul(t, t), E.exp(t)), R.binary('add', R.binary('mul', x, x), R.unary('exp', x)), expected);

    // Fan-in where one rule hands the same gradient tensor to two inputs (add) and one of
    // them also feeds an earlier node: a = e^x, b = e^x, c = 3a, loss = Σ (a + b) + c.
    // dloss/dx = (1 + 3)·e^x + e^x = 5·e^x; accumulating in place into the shared tensor
    // would also change b's gradient.
    await checkGrad(
      'shared gradient tensors are not accumulated in place',
      rng,
      [x],
      (t) => {
        const a = E.exp(t);
        const b = E.exp(t);
        const c = E.mulScalar(a, 3);
        return E.add(E.add(a, b), c);
      },
      R.unary('exp', x),
      (g) => [refArray(x.shape, x.data.map((v, i) => 5 * g.data[i] * Math.exp(v)))],
    );

    await E.tidyAsync(async () => {
      const leaf = toTensor(x, true);
      E.backward(E.sum(E.mulScalar(leaf, 2)));
      E.backward(E.sum(E.mulScalar(leaf, 3)));
      assertClose(await leaf.grad!.read(), new Float64Array(x.data.length).fill(5), { rel: 0, abs: 0 }, 'accumulated .grad');
      leaf.grad!.dispose();
    });
  });
});
