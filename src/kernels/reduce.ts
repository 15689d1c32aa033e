// Reductions of a contiguous [outer, R, inner] view over R, unrecorded: the pass planner
// (planReducePass), the dispatcher (reduceRaw), axis groups (reduceAxes) and the broadcast
// backward (sumToShape). Kernel: shaders/reduce.wgsl (tree64, cols, cols4, cols8, cols_tiled).
// The recorded ops (sum, mean, max, ...) and their backward rules are in src/ops/reduce.ts.
import { ShapeError } from '../errors.js';
import { grid1d } from '../gpu/runtime.js';
import { paramsLayout } from '../gpu/uniform.js';
import { sizeOf, empty, type Tensor } from '../tensor.js';
import { plansForSoftware } from './chooser.js';

export const REDUCE_OPS = { sum: 0, sumsq: 1, max: 2, min: 3 } as const;
export type ReduceOp = keyof typeof REDUCE_OPS;

/** Rows per workgroup before the tree pass splits into partial results. */
const CHUNK = 4096;
/** With at least this many outputs, one invocation per output (sequential, Kahan) is used. */
const COLS_MIN_OUTPUTS = 1024;
/** Reductions at least this long over >= COLS_MIN_OUTPUTS outputs split into row chunks (cols_tiled). */
const TILED_MIN_R = 64;
/**
 * Rows per cols_tiled chunk (at most TILED_MAX_CHUNKS chunks). GPUs want many workgroups;
 * CPU adapters, with a core or two per workgroup row, were fastest with long chunks
 * (measured on llvmpipe, sum over axis 0 of [16384, 1024]: 0.84x of copy with 256 rows, 0.90x with 2048).
 */
const TILED_CHUNK_ROWS = { gpu: 256, cpu: 2048 } as const;
const TILED_MAX_CHUNKS = 64;
/** On CPU adapters a long reduction over few outputs runs as one Kahan lane per chunk of this many rows or more. */
const LANE_CHUNK_ROWS = 1024;
const LANE_MAX_LANES = 4096;

export type ReduceEntry = 'tree64' | 'cols' | 'cols4' | 'cols8' | 'cols_tiled';

/**
 * One pass of a reduction of [outer, R, inner] over R: the entry, and the row chunks it
 * splits R into. With chunks > 1 the pass writes partial results that the next pass
 * folds: laid out [outputs, chunks] (tree64) or [chunks, outputs] (the cols family).
 */
export interface ReducePass {
  entry: ReduceEntry;
  chunk: number;
  chunks: number;
  /** Lanes per invocation's outputs (cols4/cols8/cols_tiled read 4 or 8 adjacent outputs). */
  perLane: number;
  grid: [number, number, number];
}

/** The pass reduceRaw runs for this view on this adapter (exported for tests and the profiler). */
export function planReducePass(outer: number, R: number, inner: number, isSoftware: boolean, maxPerDim: number): ReducePass {
  const outputs = outer * inner;
  if (outputs >= COLS_MIN_OUTPUTS && inner % 4 === 0 && R >= TILED_MIN_R && Math.ceil(outputs / 1024) <= maxPerDim) {
    // Many outputs, long reduction: a workgroup reads whole rows (4 outputs per lane) of one
    // chunk of rows, and the chunks are folded by a second pass. More lanes than one per
    // output, and on CPU adapters the rows stay in cache across the workgroup's lanes.
    const chunks = Math.min(TILED_MAX_CHUNKS, Math.ceil(R / TILED_CHUNK_ROWS[isSoftware ? 'cpu' : 'gpu']));
    return { entry: 'cols_tiled', chunk: Math.ceil(R / chunks), chunks, perLane: 4, grid: [Math.ceil(outputs / 1024), chunks, 1] };
  }
  if (outputs >= COLS_MIN_OUTPUTS || R === 1) {
    // cols4 / cols8: the same per-output loops, 4 or 8 adjacent outputs per invocation (inner
    // a multiple of 4 or 8). Fewer lanes, each reading whole vec4s: faster on CPU adapters, and
    // cols8 still leaves >= 2 workgroups of 64 lanes when there are >= 1024 outputs.
    const perLane = outputs === 0 ? 1 : inner % 8 === 0 && outputs >= COLS_MIN_OUTPUTS ? 8 : inner % 4 === 0 ? 4 : 1;
    const entry = perLane === 8 ? 'cols8' : perLane === 4 ? 'cols4' : 'cols';
    return { entry, chunk: R, chunks: 1, perLane, grid: grid1d(outputs / perLane, perLane === 1 ? 256 : 64, maxPerDim) };
  }
  if (isSoftware && R >= 2 * CHUNK) {
    // CPU adapters: one Kahan lane per chunk of rows, each streaming its own contiguous run
    // (a workgroup tree makes every lane stride across memory, which a CPU cannot prefetch).
    const chunks = Math.max(1, Math.min(Math.ceil(R / LANE_CHUNK_ROWS), Math.floor(LANE_MAX_LANES / outputs)));
    return { entry: 'cols', chunk: Math.ceil(R / chunks), chunks, perLane: 1, grid: grid1d(chunks * outputs, 256, maxPerDim) };
  }
  const chunks = Math.ceil(R / CHUNK);
  return { entry: 'tree64', chunk: CHUNK, chunks, perLane: 1, grid: grid1d(outputs * chunks, 1, maxPerDim) };
}

/** Reduce a contiguous [outer, R, inner] view over R; returns a flat tensor of outer·inner. */
export function reduceRaw(x: Tensor, outer: number, R: number, inner: number, op: ReduceOp, scale = 1): Tensor {
  const rt = x.rt;
  const outputs = outer * inner;
  if (R === 0) throw new ShapeError(`Cannot reduce over an empty axis (tensor [${x.shape}])`);
  const pass = planReducePass(outer, R, inner, plansForSoftware(rt), rt.limits.maxComputeWorkgroupsPerDimension);
  const last = pass.chunks === 1;
  const result = empty([outputs * pass.chunks], rt);
  rt.dispatch(
    { shader: 'reduce', entry: pass.entry, overrides: { OP: REDUCE_OPS[op] } },
    paramsLayout('reduce').pack({ outer, R, inner, chunk: pass.chunk, chunks: pass.chunks, scale: last ? scale : 1 }),
    [x.region(), result.region()],
    pass.grid,
  );
  if (last) return result;
  // Fold the partial results over the chunks (a sum of squares is a plain sum from here).
  const foldOp: ReduceOp = op === 'sumsq' ? 'sum' : op;
  const out =
    pass.entry === 'tree64' ? reduceRaw(result, outputs, pass.chunks, 1, foldOp, scale) : reduceRaw(result, 1, pass.chunks, outputs, foldOp, scale);
  result.dispose();
  return out;
}

/**
 * An op's own intermediate `t` viewed with another shape; `t` is released, so the view
 * holds the only reference (a plain reshape would leave `t` holding the buffer after the
 * caller disposes the result, outside tidy()).
 */
export function reshapeOwned(t: Tensor, shape: readonly number[]): Tensor {
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
  const view = t.reshape(shape);
  t.dispose();
  return view;
}

export function normalizeAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => {
    const ax = a < 0 ? a + rank : a;
    if (!Number.isInteger(ax) || ax < 0 || ax >= rank) throw new ShapeError(`Axis ${a} is out of range for rank ${rank}`);
    return ax;
  });
  return [...new Set(out)].sort((a, b) => a - b);
}

/**
 * Reduce over `axes`, one contiguous group of axes per pass. Returns the keepDims shape
 * reshaped to the requested output.
 */
export function reduceAxes(x: Tensor, axes: number[], op: ReduceOp, scale: number): Tensor {
  // No axes (a rank-0 tensor): a length-1 reduction per element, so that sumSquares
  // still squares and the result is a new tensor rather than x itself.
  if (axes.length === 0) return reshapeOwned(reduceRaw(x, x.size, 1, 1, op, scale), x.shape);
  let cur = x;
  let shape = [...x.shape];
  const owned: Tensor[] = [];
  // Group consecutive axes so that e.g. a full reduction is one (chunked) pass.
  const groups: number[][] = [];
  for (const a of axes) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] === a - 1) last.push(a);
    else groups.push([a]);
  }
  groups.forEach((group, gi) => {
    const first = group[0];
    const lastAx = group[group.length - 1];
    const outer = sizeOf(shape.slice(0, first));
    const R = sizeOf(shape.slice(first, lastAx + 1));
    const inner = sizeOf(shape.slice(lastAx + 1));
    const isLast = gi === groups.length - 1;
    const passOp: ReduceOp = gi === 0 ? op : op === 'sumsq' ? 'sum' : op;
    const red = reduceRaw(cur, outer, R, inner, passOp, isLast ? scale : 1);
    for (const a of group) shape[a] = 1;
    if (cur !== x) owned.push(cur);
    cur = red.reshape(shape);
    owned.push(red);
  });
  for (const t of owned) if (t !== cur) t.dispose();
  return cur;
}

/** Sum `g` down to `shape` over the axes it was broadcast along (the broadcast backward). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  if (lead < 0) throw new ShapeError(`sumToShape: cannot grow [${g.shape}] to [${shape}]`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return g.reshape(shape);
  return reshapeOwned(reduceAxes(g, axes, 'sum', 1), shape);
}

