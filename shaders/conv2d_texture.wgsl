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

// Four rows of Bt (four consecutive K channels) for one group of four output channels.
struct Panel {
  k0: vec4<f32>,
  k1: vec4<f32>,
  k2: vec4<f32>,
  k3: vec4<f32>,
}

// Accumulators of one pixel: channels n0 .. n0+15.
struct Row {
  c0: vec4<f32>,
  c1: vec4<f32>,
  c2: vec4<f32>,
  c3: vec4<f32>,
}

fn panel(x: u32, y: u32) -> Panel {
  return Panel(
    textureLoad(Bt, vec2<u32>(x, y), 0),
    textureLoad(Bt, vec2<u32>(x, y + 1u), 0),
    textureLoad(Bt, vec2<u32>(x, y + 2u), 0),
    textureLoad(Bt, vec2<u32>(x, y + 3u), 0),
  );
}

fn fma4(acc: vec4<f32>, a: vec4<f32>, b: Panel) -> vec4<f32> {
  var r = fma(vec4<f32>(a.x), b.k0, acc);
  r = fma(vec4<f32>(a.y), b.k1, r);
  r = fma(vec4<f32>(a.z), b.k2, r);
  return fma(vec4<f32>(a.w), b.k3, r);
}

fn row_step(acc: Row, at: vec2<u32>, b0: Panel, b1: Panel, b2: Panel, b3: Panel) -> Row {
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

@compute @workgroup_size(8, 4, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = (wg.y * 4u + lid.y) * 4u * GROUPS;
  if (n0 >= p.N) {
    return; // uniform over the 8 lanes of this y
  }
  let tile = wg.x * 256u;
  // Texel columns of the four channel groups, clamped to Bt (results past N are dropped).
  let gLast = (p.N + 3u) / 4u - 1u;
  let g0 = min(n0 / 4u, gLast);
  let g1 = min(n0 / 4u + 1u, gLast);
  let g2 = min(n0 / 4u + 2u, gLast);
  let g3 = min(n0 / 4u + 3u, gLast);
  var pix = first_pixel(tile + lid.x);
  let a0 = origin(pix);
  pix = next_pixel(pix, tile + 8u + lid.x);
  let a1 = origin(pix);
  pix = next_pixel(pix, tile + 16u + lid.x);
  let a2 = origin(pix);
  pix = next_pixel(pix, tile + 24u + lid.x);
  let a3 = origin(pix);
  pix = next_pixel(pix, tile + 32u + lid.x);
  let a4 = origin(pix);
  pix = next_pixel(pix, tile + 40u + lid.x);
  let a5 = origin(pix);
  pix = next_pixel(pix, tile + 48u + lid.x);
  let a6 = origin(pix);
  pix = next_pixel(pix, tile + 56u + lid.x);
  let a7 = origin(pix);
  pix = next_pixel(pix, tile + 64u + lid.x);
  let a8 = origin(pix);
  pix = next_pixel(pix, tile + 72u + lid.x);
  let a9 = origin(pix);
  pix = next_pixel(pix, tile + 80u + lid.x);
  let a10 = origin(pix);
  pix = next_pixel(pix, tile + 88u + lid.x);
  let a11 = origin(pix);
  pix = next_pixel(pix, tile + 96u + lid.x);
  let a12 = origin(pix);
  pix = next_pixel(pix, tile + 104u + lid.x);
  let a13 = origin(pix);
  pix = next_pixel(pix, tile + 112u + lid.x);
  let a14 = origin(pix);
  pix = next_pixel(pix, tile + 120u + lid.x);
  let a15 = origin(pix);
  pix = next_pixel(pix, tile + 128u + lid.x);
  let a16 = origin(pix);
  pix = next_pixel(pix, tile + 136u + lid.x);
  let a17 = origin(pix);
  pix = next_pixel(pix, tile + 144u + lid.x);
  let a18 = origin(pix);
  pix = next_pixel(pix, tile + 152u + lid.x);
  let a19 = origin(pix);
  pix = next_pixel(pix, tile + 160u + lid.x);
  let a20 = origin(pix);
  pix = next_pixel(pix, tile + 168u + lid.x);
  let a21 = origin(pix);
  pix = next_pixel(pix, tile + 176u + lid.x);
  let a22 = origin(pix);
  pix = next_pixel(pix, tile + 184u + lid.x);
  let a23 = origin(pix);
  pix = next_pixel(pix, tile + 192u + lid.x);
  let a24 = origin(pix);
  pix = next_pixel(pix, tile + 200u + lid.x);
  let a25 = origin(pix);
  pix = next_pixel(pix, tile + 208u + lid.x);
  let a26 = origin(pix);
  pix = next_pixel(pix, tile + 216u + lid.x);
  let a27 = origin(pix);
  pix = next_pixel(pix, tile + 224u + lid.x);
  let a28 = origin(pix);
  pix = next_pixel(pix, tile + 232u + lid.x);
  let a29 = origin(pix);
  pix = next_pixel(pix, tile + 240u + lid.x);
  let a30 = origin(pix);
  pix = next_pixel(pix, tile + 248u + lid.x);
  let a31 = origin(pix);
  var r0: Row;
  var r1: Row;
  var r2: Row;
  var r3: Row;
  var r4: Row;
  var r5: Row;
  var r6: Row;
  var r7: Row;
  var r8: Row;
  var r9: Row;
  var r10: Row;
  var r11: Row;
  var r12: Row;
  var r13: Row;
  var r14: Row;
  var r15: Row;
  var r16: Row;
  var r17: Row;
  var r18: Row;
  var r19: Row;
  var r20: Row;
  var r21: Row;
  var r22: Row;
  var r23: Row;
  var r24: Row;
  var r25: Row;
  var r26: Row;
  var r27: Row;
  var r28: Row;
  var r29: Row;
  var r30: Row;
  var r31: Row;
  for (var jy = 0u; jy < p.tapsY; jy++) {
    for (var ix = 0u; ix < p.tapsX; ix++) {
      let tap = u32(i32(p.tapRow0) + i32(jy) * p.tapStepY + i32(ix) * p.tapStepX);
      for (var j = 0u; j < p.c4; j++) {
        let y = (tap * p.c4 + j) * 4u;
        let b0 = panel(g0, y);
        var b1 = b0;
        var b2 = b0;
        var b3 = b0;
        if (GROUPS > 1u) {
          b1 = panel(g1, y);
          b2 = panel(g2, y);
          b3 = panel(g3, y);
        }
        let off = vec2<u32>(ix * p.c4 + j, jy);
      r0 = row_step(r0, a0 + off, b0, b1, b2, b3);
      r1 = row_step(r1, a1 + off, b0, b1, b2, b3);
      r2 = row_step(r2, a2 + off, b0, b1, b2, b3);
      r3 = row_step(r3, a3 + off, b0, b1, b2, b3);
      r4 = row_step(r4, a4 + off, b0, b1, b2, b3);
      r5 = row_step(r5, a5 + off, b0, b1, b2, b3);
      r6 = row_step(r6, a6 + off, b0, b1, b2, b3);
      r7 = row_step(r7, a7 + off, b0, b1, b2, b3);
      r8 = row_step(r8, a8 + off, b0, b1, b2, b3);
      r9 = row_step(r9, a9 + off, b0, b1, b2, b3);
      r10 = row_step(r10, a10 + off, b0, b1, b2, b3);
      r11 = row_step(r11, a11 + off, b0, b1, b2, b3);
      r12 = row_step(r12, a12 + off, b0, b1, b2, b3);
      r13 = row_step(r13, a13 + off, b0, b1, b2, b3);
      r14 = row_step(r14, a14 + off, b0, b1, b2, b3);
      r15 = row_step(r15, a15 + off, b0, b1, b2, b3);
      r16 = row_step(r16, a16 + off, b0, b1, b2, b3);
      r17 = row_step(r17, a17 + off, b0, b1, b2, b3);
      r18 = row_step(r18, a18 + off, b0, b1, b2, b3);
      r19 = row_step(r19, a19 + off, b0, b1, b2, b3);
      r20 = row_step(r20, a20 + off, b0, b1, b2, b3);
      r21 = row_step(r21, a21 + off, b0, b1, b2, b3);
      r22 = row_step(r22, a22 + off, b0, b1, b2, b3);
      r23 = row_step(r23, a23 + off, b0, b1, b2, b3);
      r24 = row_step(r24, a24 + off, b0, b1, b2, b3);
      r25 = row_step(r25, a25 + off, b0, b1, b2, b3);
      r26 = row_step(r26, a26 + off, b0, b1, b2, b3);
      r27 = row_step(r27, a27 + off, b0, b1, b2, b3);
      r28 = row_step(r28, a28 + off, b0, b1, b2, b3);
      r29 = row_step(r29, a29 + off, b0, b1, b2, b3);
      r30 = row_step(r30, a30 + off, b0, b1, b2, b3);
      r31 = row_step(r31, a31 + off, b0, b1, b2, b3);
      }
    }
  }
  pix = first_pixel(tile + lid.x);
  store_row(tile + lid.x, pix, n0, r0);
  pix = next_pixel(pix, tile + 8u + lid.x);
  store_row(tile + 8u + lid.x, pix, n0, r1);
  pix = next_pixel(pix, tile + 16u + lid.x);
  store_row(tile + 16u + lid.x, pix, n0, r2);
  pix = next_pixel(pix, tile + 24u + lid.x);
  store_row(tile + 24u + lid.x, pix, n0, r3);
  pix = next_pixel(pix, tile + 32u + lid.x);
  store_row(tile + 32u + lid.x, pix, n0, r4);
  pix = next_pixel(pix, tile + 40u + lid.x);
  store_row(tile + 40u + lid.x, pix, n0, r5);
  pix = next_pixel(pix, tile + 48u + lid.x);
  store_row(tile + 48u + lid.x, pix, n0, r6);
  pix = next_pixel(pix, tile + 56u + lid.x);
  store_row(tile + 56u + lid.x, pix, n0, r7);
  pix = next_pixel(pix, tile + 64u + lid.x);
  store_row(tile + 64u + lid.x, pix, n0, r8);
  pix = next_pixel(pix, tile + 72u + lid.x);
  store_row(tile + 72u + lid.x, pix, n0, r9);
  pix = next_pixel(pix, tile + 80u + lid.x);
  store_row(tile + 80u + lid.x, pix, n0, r10);
  pix = next_pixel(pix, tile + 88u + lid.x);
  store_row(tile + 88u + lid.x, pix, n0, r11);
  pix = next_pixel(pix, tile + 96u + lid.x);
  store_row(tile + 96u + lid.x, pix, n0, r12);
  pix = next_pixel(pix, tile + 104u + lid.x);
  store_row(tile + 104u + lid.x, pix, n0, r13);
  pix = next_pixel(pix, tile + 112u + lid.x);
  store_row(tile + 112u + lid.x, pix, n0, r14);
  pix = next_pixel(pix, tile + 120u + lid.x);
  store_row(tile + 120u + lid.x, pix, n0, r15);
  pix = next_pixel(pix, tile + 128u + lid.x);
  store_row(tile + 128u + lid.x, pix, n0, r16);
  pix = next_pixel(pix, tile + 136u + lid.x);
  store_row(tile + 136u + lid.x, pix, n0, r17);
  pix = next_pixel(pix, tile + 144u + lid.x);
  store_row(tile + 144u + lid.x, pix, n0, r18);
  pix = next_pixel(pix, tile + 152u + lid.x);
  store_row(tile + 152u + lid.x, pix, n0, r19);
  pix = next_pixel(pix, tile + 160u + lid.x);
  store_row(tile + 160u + lid.x, pix, n0, r20);
  pix = next_pixel(pix, tile + 168u + lid.x);
  store_row(tile + 168u + lid.x, pix, n0, r21);
  pix = next_pixel(pix, tile + 176u + lid.x);
  store_row(tile + 176u + lid.x, pix, n0, r22);
  pix = next_pixel(pix, tile + 184u + lid.x);
  store_row(tile + 184u + lid.x, pix, n0, r23);
  pix = next_pixel(pix, tile + 192u + lid.x);
  store_row(tile + 192u + lid.x, pix, n0, r24);
  pix = next_pixel(pix, tile + 200u + lid.x);
  store_row(tile + 200u + lid.x, pix, n0, r25);
  pix = next_pixel(pix, tile + 208u + lid.x);
  store_row(tile + 208u + lid.x, pix, n0, r26);
  pix = next_pixel(pix, tile + 216u + lid.x);
  store_row(tile + 216u + lid.x, pix, n0, r27);
  pix = next_pixel(pix, tile + 224u + lid.x);
  store_row(tile + 224u + lid.x, pix, n0, r28);
  pix = next_pixel(pix, tile + 232u + lid.x);
  store_row(tile + 232u + lid.x, pix, n0, r29);
  pix = next_pixel(pix, tile + 240u + lid.x);
  store_row(tile + 240u + lid.x, pix, n0, r30);
  pix = next_pixel(pix, tile + 248u + lid.x);
  store_row(tile + 248u + lid.x, pix, n0, r31);
}
