// prelude/row_acc.wgsl — the accumulator blocks of the texture-sourced kernels (matmul_texture,
// conv2d_texture, conv2d_wgrad): a Row holds sixteen f32 sums of one output row (four vec4:
// columns 0..3, 4..7, 8..11, 12..15), a Quad four Rows. Only ever indexed by constants, so
// they stay in registers.

struct Row {
  c0: vec4<f32>,
  c1: vec4<f32>,
  c2: vec4<f32>,
  c3: vec4<f32>,
}

struct Quad {
  r0: Row,
  r1: Row,
  r2: Row,
  r3: Row,
}
