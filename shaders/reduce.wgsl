// reduce.wgsl — reductions of x viewed as [outer, R, inner] (row-major) over the R axis,
// out[o * inner + i] = scale * reduce_r f(x[(o * R + r) * inner + i]).
// Fixed summation order everywhere (no atomics), so results are bitwise reproducible.
// Entry points:
//   tree    workgroup 256: one workgroup per (output, chunk of CHUNK rows); strided partial
//           sums then a pairwise tree in workgroup memory. With chunks > 1 it writes partial
//           results [outputs, chunks] that a second tree pass (OP_SUM/OP_MAX) folds.
//           Grid: outputs * chunks workgroups folded into (x, y).
//   tree64  workgroup 64: the same result as tree, bit for bit, with a quarter of the lanes and
//           two fewer barrier levels: lane t keeps tree's partial sums of lanes t, t+64, t+128,
//           t+192 (same elements, same order) and folds tree's first two levels in registers.
//   cols    workgroup 256: one invocation per (output, chunk of `chunk` rows), a sequential
//           Kahan-compensated loop over the chunk, written chunk-major [chunks, outputs]. With
//           one chunk: many outputs (e.g. bias gradients over a batch). With many: long
//           reductions on CPU adapters, where each lane streams its own contiguous run.
//   cols4   workgroup 64: cols for inner % 4 == 0, one invocation per 4 adjacent outputs (the
//           same 4 Kahan loops, bit for bit, run side by side in a vec4 through a vec4 view
//           of x): a lane reads 16 contiguous bytes per row instead of 4, so the column walk
//           touches each row's memory a quarter as often. Grid: outputs / 4 invocations.
//   cols8   cols4 with 8 adjacent outputs per invocation (inner % 8 == 0; two vec4 loops).
//   cols_tiled  workgroup 256 (inner % 4 == 0): lane t of workgroup (x, c) keeps the Kahan sums
//           of 4 adjacent outputs over row chunk c, so a workgroup reads 4 KiB of each row;
//           a barrier every ROWS_PER_SYNC rows keeps the lanes on the same rows (CPU adapters
//           run a workgroup's lanes in turns between barriers). Writes [chunks, outputs].
//           Grid: (outputs / 1024, chunks).
//   argmax  workgroup 256: one workgroup per output; writes max value and its index
//           (first index on ties, stored as f32: exact below 2^24).
// Bindings: 0 uniform, 1 x, 2 out (, 3 index for argmax): at most 3 storage.
// OP: 0 sum, 1 sum of squares, 2 max, 3 min.

#import "uniforms/reduce.json"
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override OP: u32 = 0u;

const WG: u32 = 256u;
var<workgroup> partial: array<f32, 256>;
var<workgroup> partialIdx: array<u32, 256>;

fn identity() -> f32 {
  if (OP == 2u) { return -0x1.fffffep+127f; }
  if (OP == 3u) { return 0x1.fffffep+127f; }
  return 0.0;
}

fn load(v: f32) -> f32 {
  if (OP == 1u) { return v * v; }
  return v;
}

fn combine(a: f32, b: f32) -> f32 {
  if (OP == 2u) { return max(a, b); }
  if (OP == 3u) { return min(a, b); }
  return a + b;
}

@compute @workgroup_size(256)
fn tree(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let id = wg.x + wg.y * nwg.x;
  let outputs = p.outer * p.inner;
  if (id >= outputs * p.chunks) {
    return; // uniform per workgroup: the barriers below are never split
  }
  let o = id / p.chunks;
  let c = id % p.chunks;
  let oo = o / p.inner;
  let ii = o % p.inner;
  let r0 = c * p.chunk;
  let r1 = min(p.R, r0 + p.chunk);
  var acc = identity();
  for (var r = r0 + t; r < r1; r += WG) {
    acc = combine(acc, load(x[(oo * p.R + r) * p.inner + ii]));
  }
  partial[t] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) {
      partial[t] = combine(partial[t], partial[t + s]);
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    out[id] = partial[0] * select(1.0, p.scale, OP <= 1u);
  }
}

var<workgroup> partial64: array<f32, 64>;

@compute @workgroup_size(64)
fn tree64(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let id = wg.x + wg.y * nwg.x;
  let outputs = p.outer * p.inner;
  if (id >= outputs * p.chunks) {
    return; // uniform per workgroup: the barriers below are never split
  }
  let o = id / p.chunks;
  let c = id % p.chunks;
  let oo = o / p.inner;
  let ii = o % p.inner;
  let r0 = c * p.chunk;
  let r1 = min(p.R, r0 + p.chunk);
  // acc0..acc3 are tree's lanes t, t+64, t+128, t+192, each summing r = lane, lane + 256, ...
  var acc0 = identity();
  var acc1 = identity();
  var acc2 = identity();
  var acc3 = identity();
  var base = r0 + t;
  // Whole strides first (no per-element bounds tests), then the ragged end.
  for (; base + 192u < r1; base += WG) {
    let k = (oo * p.R + base) * p.inner + ii;
    let step = 64u * p.inner;
    acc0 = combine(acc0, load(x[k]));
    acc1 = combine(acc1, load(x[k + step]));
    acc2 = combine(acc2, load(x[k + 2u * step]));
    acc3 = combine(acc3, load(x[k + 3u * step]));
  }
  for (; base < r1; base += WG) {
    acc0 = combine(acc0, load(x[(oo * p.R + base) * p.inner + ii]));
    if (base + 64u < r1) { acc1 = combine(acc1, load(x[(oo * p.R + base + 64u) * p.inner + ii])); }
    if (base + 128u < r1) { acc2 = combine(acc2, load(x[(oo * p.R + base + 128u) * p.inner + ii])); }
    if (base + 192u < r1) { acc3 = combine(acc3, load(x[(oo * p.R + base + 192u) * p.inner + ii])); }
  }
  // tree's levels s = 128 (t += t+128, t+64 += t+192) and s = 64 (t += t+64).
  partial64[t] = combine(combine(acc0, acc2), combine(acc1, acc3));
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (t < s) {
      partial64[t] = combine(partial64[t], partial64[t + s]);
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    out[id] = partial64[0] * select(1.0, p.scale, OP <= 1u);
  }
}

@compute @workgroup_size(256)
fn cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * WG;
  let outputs = p.outer * p.inner;
  if (id >= outputs * p.chunks) {
    return;
  }
  // Chunk-major: invocation id sums chunk c of output o into out[c * outputs + o].
  let o = id % outputs;
  let c = id / outputs;
  let oo = o / p.inner;
  let ii = o % p.inner;
  let r0 = c * p.chunk;
  let r1 = min(p.R, r0 + p.chunk);
  var acc = identity();
  var comp = 0.0;
  // 1.0 at run time (the padding word is always 0), but opaque to the shader compiler:
  // without it Mesa folds (acc + y) - acc to y, which cancels Kahan's compensation and
  // leaves a plain running sum (measured: 1 + 4000·1e-4 came out 6.6e-5 too large).
  let one = bitcast<f32>(p._p0 | 0x3f800000u);
  for (var r = r0; r < r1; r++) {
    let v = load(x[(oo * p.R + r) * p.inner + ii]);
    if (OP <= 1u) {
      // Kahan: carry the low-order bits lost by each addition.
      let yv = v - comp;
      let tv = acc + yv;
      comp = (tv * one - acc) - yv;
      acc = tv;
    } else {
      acc = combine(acc, v);
    }
  }
  out[id] = acc * select(1.0, p.scale, OP <= 1u);
}

// vec4 view of binding 1, for cols4 / cols8 only (x's size is a multiple of 4 there).
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;

/** Four running results side by side: Kahan sums (OP_SUM/OP_SUMSQ) or max/min. */
struct Acc4 {
  value: vec4<f32>,
  comp: vec4<f32>,
}

fn start4() -> Acc4 {
  return Acc4(vec4<f32>(identity()), vec4<f32>(0.0));
}

/** `a` with the row `raw` folded in; `one` is cols's opaque 1.0 (it keeps Kahan's compensation). */
fn add4(a: Acc4, raw: vec4<f32>, one: f32) -> Acc4 {
  var v = raw;
  if (OP == 1u) {
    v = v * v;
  }
  if (OP <= 1u) {
    let yv = v - a.comp;
    let tv = a.value + yv;
    return Acc4(tv, (tv * one - a.value) - yv);
  }
  return Acc4(vec4<f32>(combine(a.value.x, v.x), combine(a.value.y, v.y), combine(a.value.z, v.z), combine(a.value.w, v.w)), a.comp);
}

/** Write the 4 results of `a` (scaled for sums) to out[at .. at + 3]. */
fn store4(at: u32, a: Acc4) {
  let res = a.value * select(1.0, p.scale, OP <= 1u);
  out[at] = res.x;
  out[at + 1u] = res.y;
  out[at + 2u] = res.z;
  out[at + 3u] = res.w;
}

@compute @workgroup_size(64)
fn cols4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = (gid.x + gid.y * nwg.x * 64u) * 4u;
  if (o >= p.outer * p.inner) {
    return;
  }
  let oo = o / p.inner;
  let ii = o % p.inner;
  var acc = start4();
  let one = bitcast<f32>(p._p0 | 0x3f800000u); // see cols
  for (var r = 0u; r < p.R; r++) {
    acc = add4(acc, x4[((oo * p.R + r) * p.inner + ii) / 4u], one);
  }
  store4(o, acc);
}

@compute @workgroup_size(64)
fn cols8(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = (gid.x + gid.y * nwg.x * 64u) * 8u;
  if (o >= p.outer * p.inner) {
    return;
  }
  let oo = o / p.inner;
  let ii = o % p.inner;
  var acc = start4();
  var acc2 = start4();
  let one = bitcast<f32>(p._p0 | 0x3f800000u); // see cols
  for (var r = 0u; r < p.R; r++) {
    let base = ((oo * p.R + r) * p.inner + ii) / 4u;
    acc = add4(acc, x4[base], one);
    acc2 = add4(acc2, x4[base + 1u], one);
  }
  store4(o, acc);
  store4(o + 4u, acc2);
}

// Rows walked between barriers in cols_tiled.
override ROWS_PER_SYNC: u32 = 8u;

@compute @workgroup_size(256)
fn cols_tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let outputs = p.outer * p.inner;
  let group = wg.x * WG + t;
  let live = group * 4u < outputs;
  // Lanes past the last group re-read its addresses (never written back) so that every lane
  // runs the same loop and reaches the same barriers.
  let o = min(group * 4u, outputs - 4u);
  let oo = o / p.inner;
  let ii = o % p.inner;
  let c = wg.y;
  let r0 = c * p.chunk;
  let r1 = min(p.R, r0 + p.chunk);
  var acc = start4();
  let one = bitcast<f32>(p._p0 | 0x3f800000u); // see cols
  let rowStep = p.inner / 4u;
  var at = ((oo * p.R + r0) * p.inner + ii) / 4u;
  var r = r0;
  loop {
    if (r >= r1) {
      break;
    }
    let stop = min(r1, r + ROWS_PER_SYNC);
    for (; r < stop; r++) {
      acc = add4(acc, x4[at], one);
      at += rowStep;
    }
    // Keeps the workgroup's lanes on the same few rows: on CPU adapters, which run a
    // workgroup's lanes in turns between barriers, the rows stay in cache for every turn.
    workgroupBarrier();
  }
  if (live) {
    store4(c * outputs + o, acc);
  }
}

@group(0) @binding(3) var<storage, read_write> outIdx: array<f32>;

@compute @workgroup_size(256)
fn argmax(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let o = wg.x + wg.y * nwg.x;
  if (o >= p.outer * p.inner) {
    return;
  }
  let oo = o / p.inner;
  let ii = o % p.inner;
  var best = -0x1.fffffep+127f;
  var bestIdx = 0xffffffffu;
  for (var r = t; r < p.R; r += WG) {
    let v = x[(oo * p.R + r) * p.inner + ii];
    if (v > best || bestIdx == 0xffffffffu) {
      best = v;
      bestIdx = r;
    }
  }
  partial[t] = best;
  partialIdx[t] = bestIdx;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) {
      let ov = partial[t + s];
      let oi = partialIdx[t + s];
      let take = oi != 0xffffffffu && (partialIdx[t] == 0xffffffffu || ov > partial[t] || (ov == partial[t] && oi < partialIdx[t]));
      if (take) {
        partial[t] = ov;
        partialIdx[t] = oi;
      }
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    out[o] = partial[0];
    outIdx[o] = f32(partialIdx[0]);
  }
}
