// Reductions along axes or over everything as recorded ops with their backward rules. The
// passes themselves (planner, dispatcher) are in src/kernels/reduce.ts.
import { grid1d } from '../gpu/runtime.js';
import { paramsLayout } from '../gpu/uniform.js';
import { record } from '../autograd/tape.js';
import { empty, sizeOf, type Tensor } from '../tensor.js';
import { broadcastTo, copy, mul, mulScalar, equal, div } from './elementwise.js';
import { normalizeAxes, reduceAxes, reshapeOwned } from '../kernels/reduce.js';

export { planReducePass, reduceRaw, reshapeOwned, sumToShape, type ReduceEntry, type ReducePass } from '../kernels/reduce.js';

function keptShape(shape: readonly number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function outShape(shape: readonly number[], axes: number[], keepDims: boolean): number[] {
  return keepDims ? keptShape(shape, axes) : shape.filter((_, i) => !axes.includes(i));
}

export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normalizeAxes(axes, x.rank);
  const out = ax.length === 0 ? copy(x) : reshapeOwned(reduceAxes(x, ax, 'sum', 1), outShape(x.shape, ax, keepDims));
  return record('sum', out, [x], (g) => [broadcastTo(g.reshape(keptShape(x.shape, ax)), x.shape)]);
}

export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normalizeAxes(axes, x.rank);
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  const out = reshapeOwned(reduceAxes(x, ax, 'sum', 1 / count), outShape(x.shape, ax, keepDims));
  return record('mean', out, [x], (g) => {
    const gb = broadcastTo(g.reshape(keptShape(x.shape, ax)), x.shape);
    return [mulScalar(gb, 1 / count)];
  });
}

/** Σ x² over the axes (everything by default): the squared L2 norm. */
export function sumSquares(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normalizeAxes(axes, x.rank);
  const out = reshapeOwned(reduceAxes(x, ax, 'sumsq', 1), outShape(x.shape, ax, keepDims));
  return record('sumSquares', out, [x], (g) => [mulScalar(mul(broadcastTo(g.reshape(keptShape(x.shape, ax)), x.shape), x), 2)]);
}

/** Max over the axes; the gradient goes to the maximal entries (split evenly on ties). */
export function max(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normalizeAxes(axes, x.rank);
  const out = reshapeOwned(reduceAxes(x, ax, 'max', 1), outShape(x.shape, ax, keepDims));
  return record('max', out, [x], (g) => {
    const isMax = equal(x, out.reshape(keptShape(x.shape, ax)));
    const count = reduceAxes(isMax, ax, 'sum', 1);
    const share = div(g.reshape(keptShape(x.shape, ax)), count);
    return [mul(isMax, share)];
  });
}

export function min(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normalizeAxes(axes, x.rank);
  const out = reshapeOwned(reduceAxes(x, ax, 'min', 1), outShape(x.shape, ax, keepDims));
  return record('min', out, [x], (g) => {
    const isMin = equal(x, out.reshape(keptShape(x.shape, ax)));
    const count = reduceAxes(isMin, ax, 'sum', 1);
    return [mul(isMin, div(g.reshape(keptShape(x.shape, ax)), count))];
  });
}

/** Max and its index along one axis (first index on ties). No gradient. */
export function argmax(x: Tensor, axis: number): { values: Tensor; indices: Tensor } {
  const [ax] = normalizeAxes(axis, x.rank);
  const outer = sizeOf(x.shape.slice(0, ax));
  const R = x.shape[ax];
  const inner = sizeOf(x.shape.slice(ax + 1));
  const shape = x.shape.filter((_, i) => i !== ax);
  const values = empty(shape, x.rt);
  const indices = empty(shape, x.rt);
  x.rt.dispatch(
    { shader: 'reduce', entry: 'argmax' },
    paramsLayout('reduce').pack({ outer, R, inner, chunk: R, chunks: 1, scale: 1 }),
    [x.region(), values.region(), indices.region()],
    grid1d(outer * inner, 1, x.rt.limits.maxComputeWorkgroupsPerDimension),
  );
  return { values, indices };
}

