// conv2d_texture.wgsl — texture-sourced implicit GEMM for the forward convolution and for
// each stride phase of the input gradient (shaders/conv2d.wgsl has the storage-buffer forms).
// Why textures: on CPU adapters (Mesa llvmpipe) texel fetches are vectorized across lanes
// while storage-buffer loads are per-lane scalar loops (see matmul_texture.wgsl); and the
// staged operand carries a zero border, so the K loop has no bounds tests at all.
//
// Operands (staged by conv2d_pack.wgsl, rgba32float):
//   At  the GEMM's "image" operand, channels-last with four channels per texel and a zero
//       border: texel (col·c4 + j, b·aImageRows + row) = channels 4j .. 4j+3 of pixel
//       (row, col) of image b, in border-shifted coordinates. Forward: x; input gradient: dy.
//   Bt  the kernel: texel (g, (tap·c4 + j)·4 + e) = channels 4g .. 4g+3 of the output side
//       for input-side channel 4j + e through tap `tap` (= ky·kw + kx); zero past the edges.
// GEMM view: row m = pixel (b, th, tw) of an mh x mw grid (imagePixels = mh·mw per image,
//   rowPixels = mw), K = taps x (4·c4 channels), column n = output-side channel.
//   Row m reads At at origin (x, y) = ((aCol0 + tw·aStep)·c4, b·aImageRows + aRow0 + th·aStep)
//   plus (i·c4 + j, jy) for tap (jy, i) of a tapsY x tapsX window; that tap is kernel tap
//   tapRow0 + jy·tapStepY + i·tapStepX in Bt.
//   Forward: aStep = stride, taps ascend (tapStepY = kw, tapStepX = 1).
//   Input-gradient phase (ry, rx): aStep = 1 over the phase's input pixels, taps
//   ky = ry + (tapsY − 1 − jy)·stride (descending, so that At is read ascending).
// Output: out[b·outImage + (outRow0 + th·outStep)·outRowLen + outCol0 + tw·outStep + n·outPlane]
//   (+ bias[n] with epilogue bit 1).
// Workgroup 8x4: lanes (x) take consecutive pixels, y the channel blocks. Each invocation
//   32 pixels (tile + 8i + lane, i < 32) x 4·GROUPS channels; a workgroup 256 pixels x
//   16·GROUPS channels. Grid (ceil(M/256), ceil(N/(16·GROUPS)), 1).
// Bindings: 0 uniform Params, 1 At, 2 Bt (textures), 3 bias (a dummy without), 4 out:
//   2 storage buffers. Determinism: every output sums taps, then channels, in a fixed order.

#import "uniforms/conv2d_texture.json"
@group(0) @binding(1) var At: texture_2d<f32>;
@group(0) @binding(2) var Bt: texture_2d<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Column groups of four channels per invocation: 4 (16 channels), or 1 for N <= 4.
override GROUPS: u32 = 4u;

// A panel (Rows4): four rows of Bt (four consecutive K channels) for one group of four output channels.
#import "prelude/bt_rows.wgsl"

// Accumulators: a Row per pixel (channels n0 .. n0+15), a Quad per four of its pixels.
#import "prelude/row_acc.wgsl"

#import "prelude/fma_chain.wgsl"

fn fma4(acc: vec4<f32>, a: vec4<f32>, b: Rows4) -> vec4<f32> {
  return fma_chain4(acc, a, b.k0, b.k1, b.k2, b.k3);
}

fn row_step(acc: Row, at: vec2<u32>, b0: Rows4, b1: Rows4, b2: Rows4, b3: Rows4) -> Row {
  let a = textureLoad(At, at, 0);
  var r = acc;
  r.c0 = fma4(acc.c0, a, b0);
  if (GROUPS > 1u) {
    r.c1 = fma4(acc.c1, a, b1);
    r.c2 = fma4(acc.c2, a, b2);
    r.c3 = fma4(acc.c3, a, b3);
  }
  return r;
}

// Row positions (tw, th, b) are decoded once per invocation and then advanced by 8 pixels
// per row: integer division has no vector instruction on CPUs, so llvmpipe runs it per lane.
fn first_pixel(m: u32) -> vec3<u32> {
  let mc = min(m, p.M - 1u);
  let t = mc % p.imagePixels;
  return vec3<u32>(t % p.rowPixels, t / p.rowPixels, mc / p.imagePixels);
}

// The position of row m = previous row + 8; rows past M keep the last valid position
// (computed, never stored).
fn next_pixel(c: vec3<u32>, m: u32) -> vec3<u32> {
  if (m >= p.M) {
    return c;
  }
  var tw = c.x + 8u;
  var th = c.y;
  var b = c.z;
  while (tw >= p.rowPixels) {
    tw -= p.rowPixels;
    th++;
    if (th == p.gridRows) {
      th = 0u;
      b++;
    }
  }
  return vec3<u32>(tw, th, b);
}

// At texel of tap (0, 0), channel group 0, for the pixel at c.
fn origin(c: vec3<u32>) -> vec2<u32> {
  return vec2<u32>((p.aCol0 + c.x * p.aStep) * p.c4, c.z * p.aImageRows + p.aRow0 + c.y * p.aStep);
}

fn store4(base: u32, n: u32, v: vec4<f32>) {
  for (var e = 0u; e < 4u; e++) {
    if (n + e < p.N) {
      var r = v[e];
      if ((p.epilogue & 1u) != 0u) {
        r = r + bias[n + e];
      }
      out[base + (n + e) * p.outPlane] = r;
    }
  }
}

fn store_row(m: u32, c: vec3<u32>, n0: u32, r: Row) {
  if (m >= p.M) {
    return;
  }
  let base = c.z * p.outImage + (p.outRow0 + c.y * p.outStep) * p.outRowLen + p.outCol0 + c.x * p.outStep;
  store4(base, n0, r.c0);
  if (GROUPS > 1u) {
    store4(base, n0 + 4u, r.c1);
    store4(base, n0 + 8u, r.c2);
    store4(base, n0 + 12u, r.c3);
  }
}

// At origins of four pixels of an invocation (rows m, m + 8, m + 16, m + 24).
struct Origins {
  a0: vec2<u32>,
  a1: vec2<u32>,
  a2: vec2<u32>,
  a3: vec2<u32>,
}

// The origins of rows m .. m + 24; *pix is row m's position on entry, row m + 32's on return.
fn origins4(pix: ptr<function, vec3<u32>>, m: u32) -> Origins {
  let a0 = origin(*pix);
  *pix = next_pixel(*pix, m + 8u);
  let a1 = origin(*pix);
  *pix = next_pixel(*pix, m + 16u);
  let a2 = origin(*pix);
  *pix = next_pixel(*pix, m + 24u);
  let a3 = origin(*pix);
  *pix = next_pixel(*pix, m + 32u);
  return Origins(a0, a1, a2, a3);
}

// One channel group j of one tap for four pixels.
fn quad_step(q: Quad, o: Origins, off: vec2<u32>, b0: Rows4, b1: Rows4, b2: Rows4, b3: Rows4) -> Quad {
  return Quad(
    row_step(q.r0, o.a0 + off, b0, b1, b2, b3),
    row_step(q.r1, o.a1 + off, b0, b1, b2, b3),
    row_step(q.r2, o.a2 + off, b0, b1, b2, b3),
    row_step(q.r3, o.a3 + off, b0, b1, b2, b3),
  );
}

// Stores rows m .. m + 24, walking *pix as origins4 does.
fn store_quad(pix: ptr<function, vec3<u32>>, m: u32, n0: u32, q: Quad) {
  store_row(m, *pix, n0, q.r0);
  *pix = next_pixel(*pix, m + 8u);
  store_row(m + 8u, *pix, n0, q.r1);
  *pix = next_pixel(*pix, m + 16u);
  store_row(m + 16u, *pix, n0, q.r2);
  *pix = next_pixel(*pix, m + 24u);
  store_row(m + 24u, *pix, n0, q.r3);
  *pix = next_pixel(*pix, m + 32u);
}

@compute @workgroup_size(8, 4, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = (wg.y * 4u + lid.y) * 4u * GROUPS;
  if (n0 >= p.N) {
    return; // uniform over the 8 lanes of this y
  }
  // This invocation's rows: m, m + 8, ..., m + 248.
  let m = wg.x * 256u + lid.x;
  // Texel columns of the four channel groups, clamped to Bt (results past N are dropped).
  let gLast = (p.N + 3u) / 4u - 1u;
  let g0 = min(n0 / 4u, gLast);
  let g1 = min(n0 / 4u + 1u, gLast);
  let g2 = min(n0 / 4u + 2u, gLast);
  let g3 = min(n0 / 4u + 3u, gLast);
  // Origins and accumulators: arrays indexed by constants only (registers, as named variables).
  var o: array<Origins, 8>;
  var pix = first_pixel(m);
  o[0] = origins4(&pix, m);
  o[1] = origins4(&pix, m + 32u);
  o[2] = origins4(&pix, m + 64u);
  o[3] = origins4(&pix, m + 96u);
  o[4] = origins4(&pix, m + 128u);
  o[5] = origins4(&pix, m + 160u);
  o[6] = origins4(&pix, m + 192u);
  o[7] = origins4(&pix, m + 224u);
  var acc: array<Quad, 8>;
  for (var jy = 0u; jy < p.tapsY; jy++) {
    for (var ix = 0u; ix < p.tapsX; ix++) {
      let tap = u32(i32(p.tapRow0) + i32(jy) * p.tapStepY + i32(ix) * p.tapStepX);
      for (var j = 0u; j < p.c4; j++) {
        let y = (tap * p.c4 + j) * 4u;
        let b0 = bt_rows4(g0, y);
        var b1 = b0;
        var b2 = b0;
        var b3 = b0;
        if (GROUPS > 1u) {
          b1 = bt_rows4(g1, y);
          b2 = bt_rows4(g2, y);
          b3 = bt_rows4(g3, y);
        }
        let off = vec2<u32>(ix * p.c4 + j, jy);
        acc[0] = quad_step(acc[0], o[0], off, b0, b1, b2, b3);
        acc[1] = quad_step(acc[1], o[1], off, b0, b1, b2, b3);
        acc[2] = quad_step(acc[2], o[2], off, b0, b1, b2, b3);
        acc[3] = quad_step(acc[3], o[3], off, b0, b1, b2, b3);
        acc[4] = quad_step(acc[4], o[4], off, b0, b1, b2, b3);
        acc[5] = quad_step(acc[5], o[5], off, b0, b1, b2, b3);
        acc[6] = quad_step(acc[6], o[6], off, b0, b1, b2, b3);
        acc[7] = quad_step(acc[7], o[7], off, b0, b1, b2, b3);
      }
    }
  }
  pix = first_pixel(m);
  store_quad(&pix, m, n0, acc[0]);
  store_quad(&pix, m + 32u, n0, acc[1]);
  store_quad(&pix, m + 64u, n0, acc[2]);
  store_quad(&pix, m + 96u, n0, acc[3]);
  store_quad(&pix, m + 128u, n0, acc[4]);
  store_quad(&pix, m + 160u, n0, acc[5]);
  store_quad(&pix, m + 192u, n0, acc[6]);
  store_quad(&pix, m + 224u, n0, acc[7]);
}
