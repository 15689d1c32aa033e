// conv2d_pack.wgsl — stages convolution operands into rgba32float storage textures for
// conv2d_texture.wgsl (four channels per texel, zero past every edge).
// Entry points:
//   pack_image   an NCHW tensor [B, channels, h, w] (x, or dy) to channels-last with a zero
//                border: texel (col·c4 + j, b·imageRows + row) = channels 4j .. 4j+3 at
//                (row·step − top, col·step − left); zero outside the image and past
//                `channels`. step > 1 subsamples (1x1 strided convolutions read no other pixel).
//                One invocation per staged pixel (all its c4 texels), lanes along col
//                (consecutive source addresses); grid (ceil(cols/8), ceil(imageRows/8), B)
//                so that no invocation divides (llvmpipe runs integer division per lane).
//   pack_kernel  the weight [Cout, Cin, kh, kw] as texel (g, (tap·c4 + j)·4 + e) = the value
//                for output-side channels 4g .. 4g+3 and input-side channel 4j + e at tap
//                (ky·kw + kx): w[n·nStride + kc·kcStride + tap], zero past n or kc.
//                Forward: n = co, kc = ci; input gradient: n = ci, kc = co.
// pack_kernel: workgroup 8x8, one invocation per texel, grid (ceil(width/8), ceil(rows/8), 1).
// Bindings: 0 uniform Params, 1 src (storage), 2 dst (write-only storage texture): 1 storage buffer.

#import "uniforms/conv2d_pack.json"
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var dst: texture_storage_2d<rgba32float, write>;

@compute @workgroup_size(8, 8, 1)
fn pack_image(@builtin(global_invocation_id) gid: vec3<u32>) {
  let colOut = gid.x;
  let rowOut = gid.y;
  let b = gid.z;
  if (colOut * p.c4 >= p.width || rowOut >= p.imageRows) {
    return;
  }
  let row = i32(rowOut * p.step) - i32(p.top);
  let col = i32(colOut * p.step) - i32(p.left);
  let inside = row >= 0 && row < i32(p.h) && col >= 0 && col < i32(p.w);
  let hw = p.h * p.w;
  let base = b * p.channels * hw + u32(max(row, 0)) * p.w + u32(max(col, 0));
  let y = b * p.imageRows + rowOut;
  for (var j = 0u; j < p.c4; j++) {
    var v = vec4<f32>(0.0);
    if (inside) {
      for (var e = 0u; e < 4u; e++) {
        let c = j * 4u + e;
        if (c < p.channels) {
          v[e] = src[base + c * hw];
        }
      }
    }
    textureStore(dst, vec2<u32>(colOut * p.c4 + j, y), v);
  }
}

@compute @workgroup_size(8, 8, 1)
fn pack_kernel(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= p.width || gid.y >= p.rows) {
    return;
  }
  let e = gid.y % 4u;
  let j = (gid.y / 4u) % p.c4;
  let tap = gid.y / (4u * p.c4);
  let kc = j * 4u + e;
  var v = vec4<f32>(0.0);
  if (kc < p.kc) {
    let n0 = gid.x * 4u;
    for (var f = 0u; f < 4u; f++) {
      if (n0 + f < p.n) {
        v[f] = src[(n0 + f) * p.nStride + kc * p.kcStride + tap];
      }
    }
  }
  textureStore(dst, vec2<u32>(gid.x, gid.y), v);
}
