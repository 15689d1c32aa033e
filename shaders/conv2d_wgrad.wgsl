// conv2d_wgrad.wgsl — texture-sourced weight gradient, split over the reduction:
// dW[co, ci, ky, kx] = Σ over (b, oh, ow) of dy[b, co, oh, ow] · x[b, ci, oh·s + ky − pad, ow·s + kx − pad].
// Both operands are staged by conv2d_pack.wgsl pack_image (channels-last, four channels per
// texel): Dt = dy without a border (texel (ow·cout4 + t, b·ho + oh) = co 4t .. 4t+3) and
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

// Accumulators of one output channel: 16 columns (four groups of four input channels).
struct Row {
  c0: vec4<f32>,
  c1: vec4<f32>,
  c2: vec4<f32>,
  c3: vec4<f32>,
}

fn rank1(acc: Row, d: f32, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>) -> Row {
  let dv = vec4<f32>(d);
  return Row(fma(dv, x0, acc.c0), fma(dv, x1, acc.c1), fma(dv, x2, acc.c2), fma(dv, x3, acc.c3));
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
  let t0 = min(co0 / 4u + 0u, p.cout4 - 1u);
  let t1 = min(co0 / 4u + 1u, p.cout4 - 1u);
  let t2 = min(co0 / 4u + 2u, p.cout4 - 1u);
  let t3 = min(co0 / 4u + 3u, p.cout4 - 1u);
  let t4 = min(co0 / 4u + 4u, p.cout4 - 1u);
  let t5 = min(co0 / 4u + 5u, p.cout4 - 1u);
  let t6 = min(co0 / 4u + 6u, p.cout4 - 1u);
  let t7 = min(co0 / 4u + 7u, p.cout4 - 1u);
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
  let first = min(split * p.linesPerSplit, p.lines);
  let last = min(first + p.linesPerSplit, p.lines);
  var b = first / p.ho;
  var oh = first % p.ho;
  for (var line = first; line < last; line++) {
    let dyY = b * p.ho + oh;
    let xY = b * p.xImageRows + oh * p.xStep;
    for (var ow = 0u; ow < p.wo; ow++) {
      let dxBase = ow * p.cout4;
      let xX = ow * p.xStep * p.c4x;
      let x0 = textureLoad(Xt, vec2<u32>(xX + o0.x, xY + o0.y), 0);
      let x1 = textureLoad(Xt, vec2<u32>(xX + o1.x, xY + o1.y), 0);
      let x2 = textureLoad(Xt, vec2<u32>(xX + o2.x, xY + o2.y), 0);
      let x3 = textureLoad(Xt, vec2<u32>(xX + o3.x, xY + o3.y), 0);
      let d0 = textureLoad(Dt, vec2<u32>(dxBase + t0, dyY), 0);
      let d1 = textureLoad(Dt, vec2<u32>(dxBase + t1, dyY), 0);
      let d2 = textureLoad(Dt, vec2<u32>(dxBase + t2, dyY), 0);
      let d3 = textureLoad(Dt, vec2<u32>(dxBase + t3, dyY), 0);
      r0 = rank1(r0, d0.x, x0, x1, x2, x3);
      r1 = rank1(r1, d0.y, x0, x1, x2, x3);
      r2 = rank1(r2, d0.z, x0, x1, x2, x3);
      r3 = rank1(r3, d0.w, x0, x1, x2, x3);
      r4 = rank1(r4, d1.x, x0, x1, x2, x3);
      r5 = rank1(r5, d1.y, x0, x1, x2, x3);
      r6 = rank1(r6, d1.z, x0, x1, x2, x3);
      r7 = rank1(r7, d1.w, x0, x1, x2, x3);
      r8 = rank1(r8, d2.x, x0, x1, x2, x3);
      r9 = rank1(r9, d2.y, x0, x1, x2, x3);
      r10 = rank1(r10, d2.z, x0, x1, x2, x3);
      r11 = rank1(r11, d2.w, x0, x1, x2, x3);
      r12 = rank1(r12, d3.x, x0, x1, x2, x3);
      r13 = rank1(r13, d3.y, x0, x1, x2, x3);
      r14 = rank1(r14, d3.z, x0, x1, x2, x3);
      r15 = rank1(r15, d3.w, x0, x1, x2, x3);
      if (ROWS > 16u) {
        let d4 = textureLoad(Dt, vec2<u32>(dxBase + t4, dyY), 0);
        let d5 = textureLoad(Dt, vec2<u32>(dxBase + t5, dyY), 0);
        let d6 = textureLoad(Dt, vec2<u32>(dxBase + t6, dyY), 0);
        let d7 = textureLoad(Dt, vec2<u32>(dxBase + t7, dyY), 0);
        r16 = rank1(r16, d4.x, x0, x1, x2, x3);
        r17 = rank1(r17, d4.y, x0, x1, x2, x3);
        r18 = rank1(r18, d4.z, x0, x1, x2, x3);
        r19 = rank1(r19, d4.w, x0, x1, x2, x3);
        r20 = rank1(r20, d5.x, x0, x1, x2, x3);
        r21 = rank1(r21, d5.y, x0, x1, x2, x3);
        r22 = rank1(r22, d5.z, x0, x1, x2, x3);
        r23 = rank1(r23, d5.w, x0, x1, x2, x3);
        r24 = rank1(r24, d6.x, x0, x1, x2, x3);
        r25 = rank1(r25, d6.y, x0, x1, x2, x3);
        r26 = rank1(r26, d6.z, x0, x1, x2, x3);
        r27 = rank1(r27, d6.w, x0, x1, x2, x3);
        r28 = rank1(r28, d7.x, x0, x1, x2, x3);
        r29 = rank1(r29, d7.y, x0, x1, x2, x3);
        r30 = rank1(r30, d7.z, x0, x1, x2, x3);
        r31 = rank1(r31, d7.w, x0, x1, x2, x3);
      }
    }
    oh++;
    if (oh == p.ho) {
      oh = 0u;
      b++;
    }
  }
  store_row(co0 + 0u, r0);
  store_row(co0 + 1u, r1);
  store_row(co0 + 2u, r2);
  store_row(co0 + 3u, r3);
  store_row(co0 + 4u, r4);
  store_row(co0 + 5u, r5);
  store_row(co0 + 6u, r6);
  store_row(co0 + 7u, r7);
  store_row(co0 + 8u, r8);
  store_row(co0 + 9u, r9);
  store_row(co0 + 10u, r10);
  store_row(co0 + 11u, r11);
  store_row(co0 + 12u, r12);
  store_row(co0 + 13u, r13);
  store_row(co0 + 14u, r14);
  store_row(co0 + 15u, r15);
  if (ROWS > 16u) {
    store_row(co0 + 16u, r16);
    store_row(co0 + 17u, r17);
    store_row(co0 + 18u, r18);
    store_row(co0 + 19u, r19);
    store_row(co0 + 20u, r20);
    store_row(co0 + 21u, r21);
    store_row(co0 + 22u, r22);
    store_row(co0 + 23u, r23);
    store_row(co0 + 24u, r24);
    store_row(co0 + 25u, r25);
    store_row(co0 + 26u, r26);
    store_row(co0 + 27u, r27);
    store_row(co0 + 28u, r28);
    store_row(co0 + 29u, r29);
    store_row(co0 + 30u, r30);
    store_row(co0 + 31u, r31);
  }
}
