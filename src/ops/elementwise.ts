// Pointwise ops with NumPy broadcasting: forward dispatch and backward rule side by side.
// Kernels: shaders/elementwise.wgsl (unary, scalar, accumulate), shaders/broadcast.wgsl
// (binary, binary_flat[4], binary_rows[4], binary_row_loop: picked after collapsing axes),
// shaders/select.wgsl (where).
import { ShapeError } from '../errors.js';
import { grid1d } from '../gpu/runtime.js';
import { paramsLayout } from '../gpu/uniform.js';
import { record } from '../autograd/tape.js';
import { empty, type Tensor } from '../tensor.js';
import { sumToShape } from '../kernels/reduce.js';

const MAX_RANK = 8;

export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`Shapes [${a}] and [${b}] do not broadcast: axis ${i} has ${da} vs ${db}`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `shape` over the axes of `out` (right-aligned), 0 where it broadcasts. */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const axis = out.length - shape.length + i;
    strides[axis] = shape[i] === 1 && out[axis] !== 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function pointwiseGrid(n: number, rt: Tensor['rt']): [number, number, number] {
  return grid1d(n, 256, rt.limits.maxComputeWorkgroupsPerDimension);
}

/** Grid for elementwise.wgsl's entries, which each handle 4 consecutive elements. */
function vec4Grid(n: number, rt: Tensor['rt']): [number, number, number] {
  return grid1d(Math.ceil(n / 4), 256, rt.limits.maxComputeWorkgroupsPerDimension);
}

/** The vec4-view variant of an elementwise.wgsl entry when it covers every element. */
function vec4Entry(entry: 'unary' | 'scalar' | 'accumulate', n: number): string {
  return n % 4 === 0 ? `${entry}4` : entry;
}

// ------------------------------------------------------------------ unary

const UNARY = { neg: 0, exp: 1, log: 2, sqrt: 3, abs: 4, square: 5, reciprocal: 6, sign: 7 } as const;
type UnaryName = keyof typeof UNARY;

function unaryRaw(name: UnaryName, x: Tensor): Tensor {
  const out = empty(x.shape, x.rt);
  x.rt.dispatch(
    { shader: 'elementwise', entry: vec4Entry('unary', x.size), overrides: { OP: UNARY[name] } },
    paramsLayout('elementwise').pack({ n: x.size, rank: 0, s0: 0, s1: 0 }),
    [x.region(), out.region()],
    vec4Grid(x.size, x.rt),
  );
  return out;
}

export function neg(x: Tensor): Tensor {
  return record('neg', unaryRaw('neg', x), [x], (g) => [neg(g)]);
}
export function exp(x: Tensor): Tensor {
  const y = unaryRaw('exp', x);
  return record('exp', y, [x], (g) => [mul(g, y)]);
}
export function log(x: Tensor): Tensor {
  return record('log', unaryRaw('log', x), [x], (g) => [div(g, x)]);
}
export function sqrt(x: Tensor): Tensor {
  const y = unaryRaw('sqrt', x);
  return record('sqrt', y, [x], (g) => [mulScalar(div(g, y), 0.5)]);
}
export function abs(x: Tensor): Tensor {
  return record('abs', unaryRaw('abs', x), [x], (g) => [mul(g, unaryRaw('sign', x))]);
}
export function square(x: Tensor): Tensor {
  return record('square', unaryRaw('square', x), [x], (g) => [mulScalar(mul(g, x), 2)]);
}
export function reciprocal(x: Tensor): Tensor {
  const y = unaryRaw('reciprocal', x);
  return record('reciprocal', y, [x], (g) => [neg(mul(g, unaryRaw('square', y)))]);
}
export function sign(x: Tensor): Tensor {
  return unaryRaw('sign', x);
}

// ------------------------------------------------------------------ scalar

const SCALAR = { add: 0, mul: 1, pow: 2, clamp: 3, affine: 4, fill: 5, max: 6 } as const;

function scalarRaw(op: keyof typeof SCALAR, x: Tensor, s0: number, s1 = 0): Tensor {
  const out = empty(x.shape, x.rt);
  x.rt.dispatch(
    { shader: 'elementwise', entry: vec4Entry('scalar', x.size), overrides: { OP: SCALAR[op] } },
    paramsLayout('elementwise').pack({ n: x.size, rank: 0, s0, s1 }),
    [x.region(), out.region()],
    vec4Grid(x.size, x.rt),
  );
  return out;
}

export function addScalar(x: Tensor, s: number): Tensor {
  return record('addScalar', scalarRaw('add', x, s), [x], (g) => [g]);
}
export function mulScalar(x: Tensor, s: number): Tensor {
  return record('mulScalar', scalarRaw('mul', x, s), [x], (g) => [mulScalar(g, s)]);
}
/** x·a + b in one pass. */
export function affine(x: Tensor, a: number, b: number): Tensor {
  return record('affine', scalarRaw('affine', x, a, b), [x], (g) => [mulScalar(g, a)]);
}
export function powScalar(x: Tensor, e: number): Tensor {
  return record('powScalar', scalarRaw('pow', x, e), [x], (g) => [mul(g, mulScalar(scalarRaw('pow', x, e - 1), e))]);
}
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  if (!(lo <= hi)) throw new ShapeError(`clamp: lower bound ${lo} exceeds upper bound ${hi}`);
  return record('clamp', scalarRaw('clamp', x, lo, hi), [x], (g) => {
    // Gradient 1 on [lo, hi] including the bounds (PyTorch's convention), else 0.
    const belowLo = binaryRaw('greater', full([], lo, x.rt), x);
    const aboveHi = binaryRaw('greater', x, full([], hi, x.rt));
    return [mul(g, mul(affine(belowLo, -1, 1), affine(aboveHi, -1, 1)))];
  });
}
export function full(shape: readonly number[], value: number, rt: Tensor['rt']): Tensor {
  const out = empty(shape, rt);
  rt.dispatch(
    { shader: 'elementwise', entry: 'scalar', overrides: { OP: SCALAR.fill } },
    paramsLayout('elementwise').pack({ n: out.size, rank: 0, s0: value, s1: 0 }),
    [rt.dummyRegion(), out.region()],
    vec4Grid(out.size, rt),
  );
  return out;
}

// ------------------------------------------------------------------ binary

const BINARY = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, pow: 6, greater: 7, reluMask: 8, equal: 9, takeA: 100 } as const;
type BinaryName = keyof typeof BINARY;

/** A broadcast layout after collapsing: output extents with each operand's strides over them. */
export interface CollapsedLayout {
  shape: number[];
  strides: number[][];
}

/**
 * The same index mapping on fewer axes: drops extent-1 axes and merges each axis into the next
 * when every operand steps through the pair as through one axis (stride[d] = stride[d+1] · extent[d+1];
 * broadcast axes, stride 0, merge with each other). Row-major order is unchanged, so kernels
 * see the same elements in the same order, with fewer (often no) index divisions.
 */
export function collapseBroadcast(shape: readonly number[], strides: readonly (readonly number[])[]): CollapsedLayout {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    const mergeable = last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d]);
    if (mergeable) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => {
        outStrides[k][last] = s[d];
      });
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}

// Below this many columns a 2-D grid would leave most of each 256-wide workgroup idle, so one
// invocation walks a whole row instead.
const ROW_LOOP_MAX_COLS = 256;

/** Which broadcast.wgsl entry a binary op runs, on which (collapsed) layout and grid. */
export interface BinaryPlan {
  entry: 'binary' | 'binary_flat' | 'binary_flat4' | 'binary_rows' | 'binary_rows4' | 'binary_row_loop';
  layout: CollapsedLayout;
  /** Last-axis strides (1, or 0 where the operand broadcasts), baked into the fast entries. */
  steps: [number, number];
  grid: [number, number, number];
}

/** Picks the kernel for `a op b` with output `shape`; the general `binary` only for rank >= 3. */
export function planBinary(aShape: readonly number[], bShape: readonly number[], shape: readonly number[], maxDim: number): BinaryPlan {
  const layout = collapseBroadcast(shape, [broadcastStrides(aShape, shape), broadcastStrides(bShape, shape)]);
  const rank = layout.shape.length;
  const [stridesA, stridesB] = layout.strides;
  const steps: [number, number] = [stridesA[rank - 1] ?? 0, stridesB[rank - 1] ?? 0];
  const size = shape.reduce((x, y) => x * y, 1);
  const sizeOf = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
  // vec4 views need whole vec4s: a contiguous operand starts each row on a multiple of 4, and a
  // per-row (step 0) operand spans whole vec4s (so its binding is also at least 16 bytes).
  const vec4Ok = (step: number, rowStride: number, operand: readonly number[]): boolean =>
    step === 1 ? rowStride % 4 === 0 : sizeOf(operand) % 4 === 0;
  if (rank <= 1) {
    // Same shapes, or one operand a scalar: index = i or 0.
    const whole = steps[0] === 1 && steps[1] === 1 && size % 4 === 0;
    return { entry: whole ? 'binary_flat4' : 'binary_flat', layout, steps, grid: grid1d(Math.ceil(size / 4), 256, maxDim) };
  }
  if (rank === 2 && layout.shape[1] < ROW_LOOP_MAX_COLS) {
    return { entry: 'binary_row_loop', layout, steps, grid: grid1d(layout.shape[0], 256, maxDim) };
  }
  if (rank === 2 && Math.ceil(layout.shape[1] / 1024) <= maxDim) {
    const whole = layout.shape[1] % 4 === 0 && vec4Ok(steps[0], stridesA[0], aShape) && vec4Ok(steps[1], stridesB[0], bShape);
    const rows = layout.shape[0];
    const gy = Math.min(rows, maxDim);
    return { entry: whole ? 'binary_rows4' : 'binary_rows', layout, steps, grid: [Math.ceil(layout.shape[1] / 1024), gy, Math.ceil(rows / gy)] };
  }
  return { entry: 'binary', layout, steps, grid: grid1d(size, 256, maxDim) };
}

function binaryRaw(op: BinaryName, a: Tensor, b: Tensor, outShape?: readonly number[]): Tensor {
  const shape = outShape ?? broadcastShapes(a.shape, b.shape);
  if (shape.length > MAX_RANK) throw new ShapeError(`Broadcasting supports rank <= ${MAX_RANK}, got [${shape}]`);
  const out = empty(shape, a.rt);
  if (out.size === 0) return out;
  const plan = planBinary(a.shape, b.shape, shape, a.rt.limits.maxComputeWorkgroupsPerDimension);
  const { layout } = plan;
  const u = paramsLayout('broadcast').pack({
    n: out.size,
    rank: layout.shape.length,
    shape: layout.shape.length ? layout.shape : [1],
    strideA: layout.strides[0],
    strideB: layout.strides[1],
    strideC: [],
  });
  const overrides: Record<string, number> = plan.entry === 'binary' ? { OP: BINARY[op], BROADCAST: 1 } : { OP: BINARY[op], STEP_A: plan.steps[0], STEP_B: plan.steps[1] };
  a.rt.dispatch({ shader: 'broadcast', entry: plan.entry, overrides }, u, [a.region(), b.region(), out.region()], plan.grid);
  return out;
}

export function add(a: Tensor, b: Tensor): Tensor {
  return record('add', binaryRaw('add', a, b), [a, b], (g) => [sumToShape(g, a.shape), sumToShape(g, b.shape)]);
}
export function sub(a: Tensor, b: Tensor): Tensor {
  return record('sub', binaryRaw('sub', a, b), [a, b], (g) => [sumToShape(g, a.shape), b.requiresGrad ? neg(sumToShape(g, b.shape)) : null]);
}
export function mul(a: Tensor, b: Tensor): Tensor {
  return record('mul', binaryRaw('mul', a, b), [a, b], (g) => [
    a.requiresGrad ? sumToShape(mul(g, b), a.shape) : null,
    b.requiresGrad ? sumToShape(mul(g, a), b.shape) : null,
  ]);
}
export function div(a: Tensor, b: Tensor): Tensor {
  return record('div', binaryRaw('div', a, b), [a, b], (g) => [
    a.requiresGrad ? sumToShape(div(g, b), a.shape) : null,
    b.requiresGrad ? sumToShape(neg(div(mul(g, a), mul(b, b))), b.shape) : null,
  ]);
}
export function maximum(a: Tensor, b: Tensor): Tensor {
  return record('maximum', binaryRaw('max', a, b), [a, b], (g) => {
    const aWins = binaryRaw('greater', b, a); // 1 where b > a
    return [
      a.requiresGrad ? sumToShape(mul(g, affine(aWins, -1, 1)), a.shape) : null,
      b.requiresGrad ? sumToShape(mul(g, aWins), b.shape) : null,
    ];
  });
}
export function minimum(a: Tensor, b: Tensor): Tensor {
  return record('minimum', binaryRaw('min', a, b), [a, b], (g) => {
    const bLess = binaryRaw('greater', a, b); // 1 where b < a
    return [
      a.requiresGrad ? sumToShape(mul(g, affine(bLess, -1, 1)), a.shape) : null,
      b.requiresGrad ? sumToShape(mul(g, bLess), b.shape) : null,
    ];
  });
}
export function pow(a: Tensor, b: Tensor): Tensor {
  const z = binaryRaw('pow', a, b);
  return record('pow', z, [a, b], (g) => [
    a.requiresGrad ? sumToShape(mul(g, mul(b, binaryRaw('pow', a, addScalar(b, -1)))), a.shape) : null,
    b.requiresGrad ? sumToShape(mul(g, mul(z, log(a))), b.shape) : null,
  ]);
}
/** 1 where a > b, else 0 (no gradient). */
export function greater(a: Tensor, b: Tensor): Tensor {
  return binaryRaw('greater', a, b);
}
/** 1 where a == b, else 0 (no gradient). */
export function equal(a: Tensor, b: Tensor): Tensor {
  return binaryRaw('equal', a, b);
}
/** g · (y > 0): the ReLU backward from the saved output. */
export function reluMask(g: Tensor, y: Tensor): Tensor {
  return binaryRaw('reluMask', g, y);
}

/** Materialize `x` broadcast to `shape` (a copy). */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const out = broadcastShapes(x.shape, shape);
  if (!sameShape(out, shape)) throw new ShapeError(`Cannot broadcast [${x.shape}] to [${shape}]`);
  return record('broadcastTo', binaryRaw('takeA', x, x, shape), [x], (g) => [sumToShape(g, x.shape)]);
}

// ------------------------------------------------------------------ where

export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape), b.shape);
  const out = empty(shape, a.rt);
  const u = paramsLayout('broadcast').pack({
    n: out.size,
    rank: shape.length,
    shape: shape.length ? shape : [1],
    strideA: broadcastStrides(a.shape, shape),
    strideB: broadcastStrides(b.shape, shape),
    strideC: broadcastStrides(cond.shape, shape),
  });
  a.rt.dispatch({ shader: 'select' }, u, [cond.region(), a.region(), b.region(), out.region()], pointwiseGrid(out.size, a.rt));
  return record('where', out, [a, b], (g) => {
    const zero = full([], 0, g.rt);
    return [
      a.requiresGrad ? sumToShape(where(cond, g, zero), a.shape) : null,
      b.requiresGrad ? sumToShape(where(cond, zero, g), b.shape) : null,
    ];
  });
}

// ------------------------------------------------------------------ in place

/** target += s · x, in place (gradient accumulation; not recorded on the tape). */
export function accumulateInto(target: Tensor, x: Tensor, s = 1): void {
  if (target.size !== x.size) throw new ShapeError(`accumulateInto: [${x.shape}] into [${target.shape}]`);
  target.rt.dispatch(
    { shader: 'elementwise', entry: vec4Entry('accumulate', x.size) },
    paramsLayout('elementwise').pack({ n: x.size, rank: 0, s0: s, s1: 0 }),
    [x.region(), target.region()],
    vec4Grid(x.size, x.rt),
  );
}

/** A copy of x (not recorded). */
export function copy(x: Tensor): Tensor {
  const out = empty(x.shape, x.rt);
  if (x.size > 0) x.rt.copy({ ...x.region(), size: x.size * 4 }, { ...out.region(), size: x.size * 4 });
  return out;
}
