// matmul_pack.wgsl — staging copy for matmul_texture.wgsl: writes a row-major view of one
// operand into an rgba32float storage texture, four consecutive columns per texel, zero
// past the edges. Used when copyBufferToTexture cannot produce the layout (transposed
// operand, rows not a multiple of 256 bytes, or an unaligned offset).
// Layout: logical S is [rows, cols] per batch: S[r, c] = src[base + r·cols + c], or
//   src[base + c·rows + r] when TRANSPOSED; base = batch·strideSrc. Texel (x, y) with
//   y = batch·rowsOut + r holds S[r, 4x .. 4x+3]; rows r >= rows (up to rowsOut) are zero.
// Workgroup 8x8, one invocation per texel. Grid: (ceil(width/8), ceil(rowsOut·batches/8), 1).
// Bindings: 0 uniform Params, 1 src (storage), 2 dst (write-only storage texture): 1 storage buffer.

#import "uniforms/matmul_pack.json"
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var dst: texture_storage_2d<rgba32float, write>;

override TRANSPOSED: bool = false;

fn at(base: u32, r: u32, c: u32) -> f32 {
  if (r >= p.rows || c >= p.cols) {
    return 0.0;
  }
  if (TRANSPOSED) {
    return src[base + c * p.rows + r];
  }
  return src[base + r * p.cols + c];
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x = gid.x;
  let y = gid.y;
  if (x >= p.width || y >= p.rowsOut * p.batches) {
    return;
  }
  let b = y / p.rowsOut;
  let r = y % p.rowsOut;
  let base = b * p.strideSrc;
  let c = x * 4u;
  textureStore(dst, vec2<u32>(x, y), vec4<f32>(at(base, r, c), at(base, r, c + 1u), at(base, r, c + 2u), at(base, r, c + 3u)));
}
