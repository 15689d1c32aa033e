// prelude/broadcast_params.wgsl — the Params block of the broadcasting kernels (broadcast.wgsl,
// select.wgsl): n outputs of rank <= 8, the output shape and each operand's strides over the
// output's axes (0 where it broadcasts), as two vec4 rows each; pick(v, d) reads axis d.

#import "uniforms/broadcast.json"

fn pick(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}
