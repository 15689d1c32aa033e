// prelude/bt_rows.wgsl — four consecutive texel rows (y .. y+3) of column x of the staged B
// operand Bt: the panel load of conv2d_texture.wgsl and, twice, of matmul_texture.wgsl (each
// declares Bt at binding 2).

struct Rows4 {
  k0: vec4<f32>,
  k1: vec4<f32>,
  k2: vec4<f32>,
  k3: vec4<f32>,
}

fn bt_rows4(x: u32, y: u32) -> Rows4 {
  return Rows4(
    textureLoad(Bt, vec2<u32>(x, y), 0),
    textureLoad(Bt, vec2<u32>(x, y + 1u), 0),
    textureLoad(Bt, vec2<u32>(x, y + 2u), 0),
    textureLoad(Bt, vec2<u32>(x, y + 3u), 0),
  );
}
