// conv2d_wgrad.wgsl — texture-sourced weight gradient, split over the reduction:
// dW[co, ci, ky, kx] = Σ over (b, oh, ow) of dy[b, co, oh, ow] · x[b, ci, oh·s + ky − pad, ow·s + kx − pad].
// Both operands are staged by conv2d_pack.wgsl pack_image (channels-last, four channels per
// texel): Dt = dy, texel ((dyCol0 + ow)·cout4 + t, b·dyImageRows + dyRow0 + oh) = co 4t .. 4t+3
// (no border when staged here; the input gradient's bordered copy when that one is reused), and
// Xt = x as for the forward pass (texel (col·c4x + j, b·xImageRows + row), zero border; with
// xStep = stride, or 1 when a 1x1 kernel's input was staged subsampled).
// GEMM view: rows co, columns in groups q = tap·c4x + j of four input channels (4j .. 4j+3 at
// tap = ky·kw + kx), reduction over pixels; each pixel is a rank-1 update of the block.
// Split: the B·ho output rows ("lines") are cut into `splits` chunks of linesPerSplit;
// chunk s writes its partial dW to out[s·cout·K + co·K + ci·taps + tap] (K = cin·taps), and
// conv2d.wgsl wgrad_reduce sums the chunks in ascending order (no atomics, fixed order).
// Workgroup 8x1: the lanes take eight consecutive chunks of the same block. Each invocation
// ROWS output channels (16 or 32) x 4 column groups (16 columns). Grid
// (ceil(groups/4), ceil(cout/ROWS), splits/8).
// Bindings: 0 uniform Params, 1 Dt, 2 Xt (textures), 3 out (partial sums): 1 storage buffer.

#import "uniforms/conv2d_wgrad.json"
@group(0) @binding(1) var Dt: texture_2d<f32>;
@group(0) @binding(2) var Xt: texture_2d<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// Output channels per invocation: 32, or 16 when cout <= 16.
override ROWS: u32 = 32u;

// Accumulators: a Row per output channel (16 columns: four groups of four input channels), a
// Quad per four channels.
#import "prelude/row_acc.wgsl"

fn rank1(acc: Row, d: f32, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>) -> Row {
  let dv = vec4<f32>(d);
  return Row(fma(dv, x0, acc.c0), fma(dv, x1, acc.c1), fma(dv, x2, acc.c2), fma(dv, x3, acc.c3));
}

// The rank-1 update of four channels' rows, d holding their four dy values.
fn quad_rank1(q: Quad, d: vec4<f32>, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>) -> Quad {
  return Quad(rank1(q.r0, d.x, x0, x1, x2, x3), rank1(q.r1, d.y, x0, x1, x2, x3), rank1(q.r2, d.z, x0, x1, x2, x3), rank1(q.r3, d.w, x0, x1, x2, x3));
}

// Where group q sits in Xt relative to the window origin: (column texel offset, row offset).
fn group_offset(q: u32) -> vec2<u32> {
  let qc = min(q, p.groups - 1u);
  let tap = qc / p.c4x;
  return vec2<u32>((tap % p.kw) * p.c4x + qc % p.c4x, tap / p.kw);
}

var<private> splitBase: u32;
var<private> q0: u32;

fn store4(co: u32, q: u32, v: vec4<f32>) {
  if (q >= p.groups) {
    return;
  }
  let tap = q / p.c4x;
  let ci0 = (q % p.c4x) * 4u;
  let K = p.cin * p.taps;
  for (var e = 0u; e < 4u; e++) {
    if (ci0 + e < p.cin) {
      out[splitBase + co * K + (ci0 + e) * p.taps + tap] = v[e];
    }
  }
}

fn store_row(co: u32, r: Row) {
  if (co >= p.cout) {
    return;
  }
  store4(co, q0, r.c0);
  store4(co, q0 + 1u, r.c1);
  store4(co, q0 + 2u, r.c2);
  store4(co, q0 + 3u, r.c3);
}

fn store_quad(co: u32, q: Quad) {
  store_row(co, q.r0);
  store_row(co + 1u, q.r1);
  store_row(co + 2u, q.r2);
  store_row(co + 3u, q.r3);
}

@compute @workgroup_size(8, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  q0 = wg.x * 4u;
  let co0 = wg.y * ROWS;
  let split = wg.z * 8u + lid.x;
  splitBase = split * p.cout * p.cin * p.taps;
  let o0 = group_offset(q0);
  let o1 = group_offset(q0 + 1u);
  let o2 = group_offset(q0 + 2u);
  let o3 = group_offset(q0 + 3u);
  // Dt texel columns of the eight groups of four output channels, clamped (rows past cout are dropped).
  let last = vec4<u32>(p.cout4 - 1u);
  let tLo = min(vec4<u32>(co0 / 4u) + vec4<u32>(0u, 1u, 2u, 3u), last);
  let tHi = min(vec4<u32>(co0 / 4u) + vec4<u32>(4u, 5u, 6u, 7u), last);
  // Indexed by constants only: registers, as named variables would be.
  var acc: array<Quad, 8>;
  let first = min(split * p.linesPerSplit, p.lines);
  let end = min(first + p.linesPerSplit, p.lines);
  var b = first / p.ho;
  var oh = first % p.ho;
  for (var line = first; line < end; line++) {
    let dyY = b * p.dyImageRows + p.dyRow0 + oh;
    let xY = b * p.xImageRows + oh * p.xStep;
    for (var ow = 0u; ow < p.wo; ow++) {
      let dxBase = (p.dyCol0 + ow) * p.cout4;
      let xX = ow * p.xStep * p.c4x;
      let x0 = textureLoad(Xt, vec2<u32>(xX + o0.x, xY + o0.y), 0);
      let x1 = textureLoad(Xt, vec2<u32>(xX + o1.x, xY + o1.y), 0);
      let x2 = textureLoad(Xt, vec2<u32>(xX + o2.x, xY + o2.y), 0);
      let x3 = textureLoad(Xt, vec2<u32>(xX + o3.x, xY + o3.y), 0);
      acc[0] = quad_rank1(acc[0], textureLoad(Dt, vec2<u32>(dxBase + tLo.x, dyY), 0), x0, x1, x2, x3);
      acc[1] = quad_rank1(acc[1], textureLoad(Dt, vec2<u32>(dxBase + tLo.y, dyY), 0), x0, x1, x2, x3);
      acc[2] = quad_rank1(acc[2], textureLoad(Dt, vec2<u32>(dxBase + tLo.z, dyY), 0), x0, x1, x2, x3);
      acc[3] = quad_rank1(acc[3], textureLoad(Dt, vec2<u32>(dxBase + tLo.w, dyY), 0), x0, x1, x2, x3);
      if (ROWS > 16u) {
        acc[4] = quad_rank1(acc[4], textureLoad(Dt, vec2<u32>(dxBase + tHi.x, dyY), 0), x0, x1, x2, x3);
        acc[5] = quad_rank1(acc[5], textureLoad(Dt, vec2<u32>(dxBase + tHi.y, dyY), 0), x0, x1, x2, x3);
        acc[6] = quad_rank1(acc[6], textureLoad(Dt, vec2<u32>(dxBase + tHi.z, dyY), 0), x0, x1, x2, x3);
        acc[7] = quad_rank1(acc[7], textureLoad(Dt, vec2<u32>(dxBase + tHi.w, dyY), 0), x0, x1, x2, x3);
      }
    }
    oh++;
    if (oh == p.ho) {
      oh = 0u;
      b++;
    }
  }
  store_quad(co0, acc[0]);
  store_quad(co0 + 4u, acc[1]);
  store_quad(co0 + 8u, acc[2]);
  store_quad(co0 + 12u, acc[3]);
  if (ROWS > 16u) {
    store_quad(co0 + 16u, acc[4]);
    store_quad(co0 + 20u, acc[5]);
    store_quad(co0 + 24u, acc[6]);
    store_quad(co0 + 28u, acc[7]);
  }
}
