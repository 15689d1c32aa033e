// broadcast.wgsl — binary pointwise ops with NumPy broadcasting.
// Layout: flat row-major f32; the output has shape `shape` (rank <= 8, padded with 1s).
// Each operand carries strides over the output's axes, 0 on axes it broadcasts along.
// Entry points (workgroup 256x1x1; 1-D index = gid.x + gid.y * 256 * num_workgroups.x):
//   binary  z = f(a, b)            bindings 1 a, 2 b, 3 z        (3 storage)
// select (where) lives in select.wgsl.
// BROADCAST=false is the fast path when every operand already has the output's shape.
// binary OPs: 0 add, 1 sub, 2 mul, 3 div, 4 max, 5 min, 6 pow, 7 greater (1/0),
//             8 relu-mask mul (a * (b > 0)), 9 equal (1/0)

struct Params {
  n: u32,
  rank: u32,
  _p0: u32,
  _p1: u32,
  shape: array<vec4<u32>, 2>,
  strideA: array<vec4<u32>, 2>,
  strideB: array<vec4<u32>, 2>,
  strideC: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;

override OP: u32 = 0u;
override BROADCAST: bool = true;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * 256u;
}

fn pick(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}

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
