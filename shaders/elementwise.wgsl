// elementwise.wgsl — pointwise math on flat row-major f32 arrays.
// Entry points (workgroup 256x1x1, 1-D index = gid.x + gid.y * 256 * num_workgroups.x so
// that grids past 65535 workgroups fold into y). Every entry handles 4 consecutive floats per
// invocation (elements 4i..4i+3), so the grid covers ceil(n / 4) invocations; a larger grid is
// harmless (the extra invocations return). Scalar loads, not vec4<f32>, so bindings need no
// 16-byte size or offset alignment.
//   unary     y = f(x)                      bindings 1 x, 2 y                  (2 storage)
//   scalar    y = f(x, s0, s1)              bindings 1 x, 2 y                  (2 storage)
//   accumulate y += s0 * x (in place; gradient accumulation)  bindings 1 x, 2 y (2 storage)
//   copy_vec4 y = x (bandwidth reference for benchmarks)
//   unary4, scalar4, accumulate4: the same for n % 4 == 0 through vec4<f32> views of bindings
//             1 and 2 (one vector load per operand; each entry uses either the views or in0/out1)
// Binary ops with broadcasting live in broadcast.wgsl (different bindings).

#import "uniforms/elementwise.json"
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read_write> out1: array<f32>;

override OP: u32 = 0u;

#import "prelude/flat_index.wgsl"

// ---- unary: 0 neg, 1 exp, 2 log, 3 sqrt, 4 abs, 5 square, 6 reciprocal, 7 sign
fn unary_op(x: f32) -> f32 {
  switch OP {
    case 0u: { return -x; }
    case 1u: { return exp(x); }
    case 2u: { return log(x); }
    case 3u: { return sqrt(x); }
    case 4u: { return abs(x); }
    case 5u: { return x * x; }
    case 6u: { return 1.0 / x; }
    case 7u: { return sign(x); }
    default: { return x; }
  }
}

@compute @workgroup_size(256)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg) * 4u;
  if (i + 3u < p.n) {
    out1[i] = unary_op(in0[i]);
    out1[i + 1u] = unary_op(in0[i + 1u]);
    out1[i + 2u] = unary_op(in0[i + 2u]);
    out1[i + 3u] = unary_op(in0[i + 3u]);
  } else {
    for (var j = i; j < p.n; j++) {
      out1[j] = unary_op(in0[j]);
    }
  }
}

// ---- scalar: 0 add s0, 1 mul s0, 2 pow s0, 3 clamp [s0,s1], 4 x*s0+s1, 5 fill s0, 6 max(x,s0)
fn scalar_op(x: f32) -> f32 {
  switch OP {
    case 0u: { return x + p.s0; }
    case 1u: { return x * p.s0; }
    case 2u: {
      // pow() is undefined for x < 0 in WGSL; integer exponents keep their sign rule.
      let e = p.s0;
      if (e == 2.0) { return x * x; }
      if (e == 1.0) { return x; }
      if (e == 0.0) { return 1.0; }
      let r = pow(abs(x), e);
      if (x < 0.0 && fract(e * 0.5) == 0.5) { return -r; }
      // NaN at run time (a NaN constant is a shader error).
      if (x < 0.0 && fract(e) != 0.0) { return (x - x) / (x - x); }
      return r;
    }
    case 3u: { return clamp(x, p.s0, p.s1); }
    case 4u: { return x * p.s0 + p.s1; }
    case 5u: { return p.s0; }
    case 6u: { return max(x, p.s0); }
    default: { return x; }
  }
}

@compute @workgroup_size(256)
fn scalar(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg) * 4u;
  if (i + 3u < p.n) {
    out1[i] = scalar_op(in0[i]);
    out1[i + 1u] = scalar_op(in0[i + 1u]);
    out1[i + 2u] = scalar_op(in0[i + 2u]);
    out1[i + 3u] = scalar_op(in0[i + 3u]);
  } else {
    for (var j = i; j < p.n; j++) {
      out1[j] = scalar_op(in0[j]);
    }
  }
}

@compute @workgroup_size(256)
fn copy_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg) * 4u;
  if (i + 3u < p.n) {
    out1[i] = in0[i];
    out1[i + 1u] = in0[i + 1u];
    out1[i + 2u] = in0[i + 2u];
    out1[i + 3u] = in0[i + 3u];
  } else {
    for (var j = i; j < p.n; j++) {
      out1[j] = in0[j];
    }
  }
}

@compute @workgroup_size(256)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg) * 4u;
  if (i + 3u < p.n) {
    out1[i] = out1[i] + p.s0 * in0[i];
    out1[i + 1u] = out1[i + 1u] + p.s0 * in0[i + 1u];
    out1[i + 2u] = out1[i + 2u] + p.s0 * in0[i + 2u];
    out1[i + 3u] = out1[i + 3u] + p.s0 * in0[i + 3u];
  } else {
    for (var j = i; j < p.n; j++) {
      out1[j] = out1[j] + p.s0 * in0[j];
    }
  }
}

// vec4 views of bindings 1 and 2 for the *4 entries (n % 4 == 0, so the views cover every element).
@group(0) @binding(1) var<storage, read> in0_4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out1_4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn unary4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.n / 4u) {
    return;
  }
  let x = in0_4[i];
  out1_4[i] = vec4<f32>(unary_op(x.x), unary_op(x.y), unary_op(x.z), unary_op(x.w));
}

@compute @workgroup_size(256)
fn scalar4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.n / 4u) {
    return;
  }
  let x = in0_4[i];
  out1_4[i] = vec4<f32>(scalar_op(x.x), scalar_op(x.y), scalar_op(x.z), scalar_op(x.w));
}

@compute @workgroup_size(256)
fn accumulate4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.n / 4u) {
    return;
  }
  let x = in0_4[i];
  let y = out1_4[i];
  // Component by component, as the scalar entries compute it.
  out1_4[i] = vec4<f32>(y.x + p.s0 * x.x, y.y + p.s0 * x.y, y.z + p.s0 * x.z, y.w + p.s0 * x.w);
}
