// The float64 reference's VJPs against central finite differences: the reference that
// judges the GPU's backward rules is itself checked here (CPU only, no GPU).
import { describe, expect, it } from 'vitest';
import { type RefArray, TestRandom, dot, randomArray, randomAwayFromZero, refArray } from './ref/array.js';
import { assertClose } from './ref/compare.js';
import { numericGradient } from './ref/fd.js';
import { mlpLossAndGrads, type RefLayer } from './ref/mlp.js';
import * as R from './ref/ops.js';

const FD_TOL = { rel: 1e-6, abs: 1e-8 };

/** Check vjp(g) against the numeric gradient of x ↦ ⟨g, f(x)⟩. */
function checkVjp(what: string, f: (x: RefArray) => RefArray, x: RefArray, vjp: (g: RefArray) => RefArray, rng: TestRandom): void {
  const y = f(x);
  const g = randomArray(rng, y.shape);
  const analytic = vjp(g);
  expect(analytic.shape).toEqual(x.shape);
  const numeric = numericGradient((xx) => dot(g, f(xx)), x);
  assertClose(analytic.data, numeric, FD_TOL, what);
}

describe('reference VJPs match central finite differences', () => {
  it('erf matches known values', () => {
    // erf(0.5), erf(1), erf(2), erf(3.5) to 15 digits (Abramowitz & Stegun table 7.1 / exact series).
    assertClose(
      [R.erf(0.5), R.erf(1), R.erf(2), R.erf(3.5), R.erf(-1)],
      [0.520499877813047, 0.842700792949715, 0.995322265018953, 0.999999256901628, -0.842700792949715],
      { rel: 1e-13, abs: 1e-15 },
      'erf',
    );
  });

  it('unary ops', () => {
    const rng = new TestRandom(1);
    for (const op of R.UNARY_OPS) {
      if (op === 'sign') continue; // piecewise constant: no gradient to check
      const x = op === 'log' || op === 'sqrt' ? randomArray(rng, [3, 4], 0.2, 3) : randomAwayFromZero(rng, [3, 4], 0.2, 2);
      checkVjp(op, (v) => R.unary(op, v), x, (g) => R.unaryVjp(op, x, g), rng);
    }
  });

  it('scalar ops', () => {
    const rng = new TestRandom(2);
    const cases: [R.ScalarOp, number, number][] = [
      ['addScalar', 0.7, 0],
      ['mulScalar', -1.3, 0],
      ['affine', 2.5, -0.5],
      ['powScalar', 3, 0],
      ['powScalar', 0.5, 0],
      ['clamp', -0.4, 0.3],
    ];
    for (const [op, s0, s1] of cases) {
      const x = op === 'powScalar' && s0 === 0.5 ? randomArray(rng, [5], 0.2, 2) : randomArray(rng, [2, 5]);
      checkVjp(`${op}(${s0},${s1})`, (v) => R.scalarOp(op, v, s0, s1), x, (g) => R.scalarOpVjp(op, x, g, s0, s1), rng);
    }
  });

  it('binary ops with broadcasting, for both operands', () => {
    const rng = new TestRandom(3);
    const shapes: [number[], number[]][] = [
      [[3, 4], [3, 4]],
      [[3, 1, 5], [4, 1]],
      [[2, 3], []],
      [[1], [2, 3]],
    ];
    for (const op of R.BINARY_OPS) {
      if (op === 'greater' || op === 'equal') continue;
      for (const [sa, sb] of shapes) {
        const a = op === 'pow' ? randomArray(rng, sa, 0.5, 2) : randomArray(rng, sa);
        const b = op === 'div' ? randomAwayFromZero(rng, sb, 0.5, 2) : randomArray(rng, sb);
        checkVjp(`${op} a [${sa}]`, (v) => R.binary(op, v, b), a, (g) => R.binaryVjp(op, a, b, g)[0], rng);
        checkVjp(`${op} b [${sb}]`, (v) => R.binary(op, a, v), b, (g) => R.binaryVjp(op, a, b, g)[1], rng);
      }
    }
  });

  it('where, for both branches', () => {
    const rng = new TestRandom(4);
    const cond = refArray([3, 1], [1, 0, 1]);
    const a = randomArray(rng, [3, 4]);
    const b = randomArray(rng, [4]);
    checkVjp('where a', (v) => R.where(cond, v, b), a, (g) => R.whereVjp(cond, a, b, g)[0], rng);
    checkVjp('where b', (v) => R.where(cond, a, v), b, (g) => R.whereVjp(cond, a, b, g)[1], rng);
  });

  it('activations', () => {
    const rng = new TestRandom(5);
    for (const name of R.ACTIVATION_NAMES) {
      // Away from the kinks of relu/leakyRelu, where the derivative is not defined.
      const x = randomAwayFromZero(rng, [4, 6], 0.05, 4);
      checkVjp(name, (v) => R.activation(name, v, 0.2), x, (g) => R.activationVjp(name, x, g, 0.2), rng);
    }
  });

  it('reductions along each axis and over everything', () => {
    const rng = new TestRandom(6);
    const x = randomArray(rng, [3, 4, 5]);
    for (const op of R.REDUCE_OPS) {
      for (const axes of [0, 1, 2, [0, 2], undefined] as (number | number[] | undefined)[]) {
        checkVjp(`${op} axes ${JSON.stringify(axes)}`, (v) => R.reduce(op, v, axes), x, (g) => R.reduceVjp(op, x, g, axes), rng);
      }
    }
  });

  it('matmul: every transpose combination, batch broadcasting, bias and ReLU', () => {
    const rng = new TestRandom(7);
    const [M, K, N] = [3, 4, 5];
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const [batchA, batchB] of [[0, 0], [2, 2], [1, 2], [2, 0]]) {
          const shapeA = transA ? [K, M] : [M, K];
          const shapeB = transB ? [N, K] : [K, N];
          const a = randomArray(rng, batchA ? [batchA, ...shapeA] : shapeA);
          const b = randomArray(rng, batchB ? [batchB, ...shapeB] : shapeB);
          const bias = randomArray(rng, [N]);
          const opts = { transA, transB, bias, relu: true };
          const tag = `matmul tA=${transA} tB=${transB} batch ${batchA}/${batchB}`;
          checkVjp(`${tag} dA`, (v) => R.matmul(v, b, opts), a, (g) => R.matmulVjp(a, b, g, opts).a, rng);
          checkVjp(`${tag} dB`, (v) => R.matmul(a, v, opts), b, (g) => R.matmulVjp(a, b, g, opts).b, rng);
          checkVjp(`${tag} dBias`, (v) => R.matmul(a, b, { ...opts, bias: v }), bias, (g) => R.matmulVjp(a, b, g, opts).bias!, rng);
        }
      }
    }
  });

  it('losses', () => {
    const rng = new TestRandom(8);
    const pred = randomArray(rng, [6, 3]);
    const target = randomArray(rng, [6, 3]);
    const probsTarget = randomArray(rng, [6, 3], 0, 1);
    const labels = refArray([6], [0, 2, 1, 1, 0, 2]);
    const scalar = (v: number) => refArray([], [v]);
    checkVjp('mseLoss', (v) => scalar(R.mseLoss(v, target)), pred, (g) => R.mseLossVjp(pred, target, g.data[0]), rng);
    checkVjp('bceWithLogits', (v) => scalar(R.bceWithLogits(v, probsTarget)), pred, (g) => R.bceWithLogitsVjp(pred, probsTarget, g.data[0]), rng);
    checkVjp(
      'softmaxCrossEntropy',
      (v) => scalar(R.softmaxCrossEntropy(v, labels)),
      pred,
      (g) => R.softmaxCrossEntropyVjp(pred, labels, g.data[0]),
      rng,
    );
  });

  it('the reference MLP backward pass', () => {
    const rng = new TestRandom(9);
    const sizes = [4, 6, 5, 2];
    const layers: RefLayer[] = sizes.slice(1).map((out, l) => ({ weight: randomArray(rng, [out, sizes[l]]), bias: randomArray(rng, [out]) }));
    const x = randomArray(rng, [7, 4]);
    const y = randomArray(rng, [7, 2]);
    const { grads } = mlpLossAndGrads(layers, x, y);
    layers.forEach((layer, l) => {
      for (const which of ['weight', 'bias'] as const) {
        const numeric = numericGradient((v) => {
          const saved = layer[which];
          layer[which] = v;
          const loss = mlpLossAndGrads(layers, x, y).loss;
          layer[which] = saved;
          return loss;
        }, layer[which]);
        assertClose(grads[l][which].data, numeric, FD_TOL, `mlp layer ${l} ${which}`);
      }
    });
  });
});
