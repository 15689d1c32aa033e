// broadcast.wgsl — binary pointwise ops with NumPy broadcasting.
// Layout: flat row-major f32; the output has shape `shape` (rank <= 8, padded with 1s).
// Each operand carries strides over the output's axes, 0 on axes it broadcasts along.
// Entry points (workgroup 256x1x1; 1-D index = gid.x + gid.y * 256 * num_workgroups.x),
// all z = f(a, b) with bindings 1 a, 2 b, 3 z (3 storage) and the same Params:
//   binary          any rank: one element per invocation; rebuilds operand offsets with a
//                   division per axis (slow on llvmpipe, where integer division is scalar).
//                   BROADCAST=false: every operand already has the output's shape.
//   binary_flat     rank <= 1 (after the caller collapses axes): operand index = i * STEP,
//                   STEP_A / STEP_B 1 or 0 (overrides); 4 elements per invocation.
//   binary_rows     rank 2 [M, N] = shape[0..1], operand index = row * stride[0] + col * STEP
//                   (stride[0] from strideA/strideB[0].x; stride[1] must equal STEP_A / STEP_B);
//                   2-D grid: x = ceil(N / 4) invocations of 4 columns, rows = gid.y + gid.z * num_workgroups.y.
//   binary_row_loop rank 2 with a short last axis: one invocation per row loops over its N columns.
//   binary_flat4    binary_flat with n % 4 == 0 and both STEPs 1, through vec4 views.
//   binary_rows4    binary_rows with N % 4 == 0 and row strides % 4 == 0, through vec4 views
//                   (bindings 1..3 redeclared as array<vec4<f32>>; each entry uses one set).
//                   A STEP-0 operand is read as one float per row and needs size % 4 == 0.
// No entry divides except `binary`. select (where) lives in select.wgsl.
// binary OPs: 0 add, 1 sub, 2 mul, 3 div, 4 max, 5 min, 6 pow, 7 greater (1/0),
//             8 relu-mask mul (a * (b > 0)), 9 equal (1/0)

#import "prelude/broadcast_params.wgsl"

override OP: u32 = 0u;
override BROADCAST: bool = true;
// binary_flat / binary_rows / binary_row_loop: each operand's last-axis stride (1, or 0 when it
// broadcasts along it), baked in so the compiler sees contiguous or constant loads.
override STEP_A: u32 = 1u;
override STEP_B: u32 = 1u;

#import "prelude/flat_index.wgsl"

// Operand offsets of output element i, for the three strided inputs.
fn offsets(i: u32) -> vec3<u32> {
  var rem = i;
  var o = vec3<u32>(0u);
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let du = u32(d);
    let extent = pick(p.shape, du);
    let c = rem % extent;
    rem = rem / extent;
    o += c * vec3<u32>(pick(p.strideA, du), pick(p.strideB, du), pick(p.strideC, du));
  }
  return o;
}

fn binary_op(a: f32, b: f32) -> f32 {
  switch OP {
    case 0u: { return a + b; }
    case 1u: { return a - b; }
    case 2u: { return a * b; }
    case 3u: { return a / b; }
    case 4u: { return max(a, b); }
    case 5u: { return min(a, b); }
    case 6u: { return pow(a, b); }
    case 7u: { return select(0.0, 1.0, a > b); }
    case 8u: { return select(0.0, a, b > 0.0); }
    case 9u: { return select(0.0, 1.0, a == b); }
    default: { return a; }
  }
}

@group(0) @binding(1) var<storage, read> ba: array<f32>;
@group(0) @binding(2) var<storage, read> bb: array<f32>;
@group(0) @binding(3) var<storage, read_write> bz: array<f32>;

@compute @workgroup_size(256)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) {
    return;
  }
  if (BROADCAST) {
    let o = offsets(i);
    bz[i] = binary_op(ba[o.x], bb[o.y]);
  } else {
    bz[i] = binary_op(ba[i], bb[i]);
  }
}

fn rank2_span(row: u32, c0: u32, c1: u32) {
  let baseA = row * p.strideA[0].x;
  let baseB = row * p.strideB[0].x;
  let baseZ = row * p.shape[0].y;
  let sa = STEP_A;
  let sb = STEP_B;
  for (var c = c0; c < c1; c++) {
    bz[baseZ + c] = binary_op(ba[baseA + c * sa], bb[baseB + c * sb]);
  }
}

@compute @workgroup_size(256)
fn binary_flat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg) * 4u;
  let sa = STEP_A;
  let sb = STEP_B;
  if (i + 3u < p.n) {
    bz[i] = binary_op(ba[i * sa], bb[i * sb]);
    bz[i + 1u] = binary_op(ba[(i + 1u) * sa], bb[(i + 1u) * sb]);
    bz[i + 2u] = binary_op(ba[(i + 2u) * sa], bb[(i + 2u) * sb]);
    bz[i + 3u] = binary_op(ba[(i + 3u) * sa], bb[(i + 3u) * sb]);
  } else {
    for (var j = i; j < p.n; j++) {
      bz[j] = binary_op(ba[j * sa], bb[j * sb]);
    }
  }
}

@compute @workgroup_size(256)
fn binary_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.y + gid.z * nwg.y;
  let cols = p.shape[0].y;
  let c0 = gid.x * 4u;
  if (row >= p.shape[0].x || c0 >= cols) {
    return;
  }
  if (c0 + 3u < cols) {
    // Unrolled: a loop with a per-lane trip count is slower on llvmpipe.
    let sa = STEP_A;
    let sb = STEP_B;
    let a0 = row * p.strideA[0].x + c0 * sa;
    let b0 = row * p.strideB[0].x + c0 * sb;
    let z0 = row * cols + c0;
    bz[z0] = binary_op(ba[a0], bb[b0]);
    bz[z0 + 1u] = binary_op(ba[a0 + sa], bb[b0 + sb]);
    bz[z0 + 2u] = binary_op(ba[a0 + 2u * sa], bb[b0 + 2u * sb]);
    bz[z0 + 3u] = binary_op(ba[a0 + 3u * sa], bb[b0 + 3u * sb]);
  } else {
    rank2_span(row, c0, cols);
  }
}

@compute @workgroup_size(256)
fn binary_row_loop(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = flat_index(gid, nwg);
  if (row >= p.shape[0].x) {
    return;
  }
  rank2_span(row, 0u, p.shape[0].y);
}

// vec4 views of the same bindings, for binary_flat4 / binary_rows4 only.
@group(0) @binding(1) var<storage, read> va4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> vb4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> vz4: array<vec4<f32>>;

fn binary_op4(x: vec4<f32>, y: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(binary_op(x.x, y.x), binary_op(x.y, y.y), binary_op(x.z, y.z), binary_op(x.w, y.w));
}

@compute @workgroup_size(256)
fn binary_flat4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.n / 4u) {
    return;
  }
  vz4[i] = binary_op4(va4[i], vb4[i]);
}

@compute @workgroup_size(256)
fn binary_rows4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.y + gid.z * nwg.y;
  let cols = p.shape[0].y;
  let c0 = gid.x * 4u;
  if (row >= p.shape[0].x || c0 >= cols) {
    return;
  }
  var x: vec4<f32>;
  if (STEP_A == 1u) {
    x = va4[(row * p.strideA[0].x + c0) / 4u];
  } else {
    let k = row * p.strideA[0].x;
    x = vec4<f32>(va4[k / 4u][k % 4u]);
  }
  var y: vec4<f32>;
  if (STEP_B == 1u) {
    y = vb4[(row * p.strideB[0].x + c0) / 4u];
  } else {
    let k = row * p.strideB[0].x;
    y = vec4<f32>(vb4[k / 4u][k % 4u]);
  }
  vz4[(row * cols + c0) / 4u] = binary_op4(x, y);
}
