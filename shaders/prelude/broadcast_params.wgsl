// prelude/broadcast_params.wgsl — the Params block of the broadcasting kernels (broadcast.wgsl,
// select.wgsl): n outputs of rank <= 8, the output shape and each operand's strides over the
// output's axes (0 where it broadcasts), as two vec4 rows each; pick(v, d) reads axis d.

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

fn pick(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}
