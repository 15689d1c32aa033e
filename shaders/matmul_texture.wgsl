// matmul_texture.wgsl — batched C[b] = op(A[b]) · op(B[b]) (+ bias) (activation) (+= C), with
// both operands read from rgba32float textures by textureLoad (texture-sourced variant).
// Why: on CPU adapters (Mesa llvmpipe) texel fetches are vectorized across lanes while
// storage-buffer and workgroup-memory loads are per-lane scalar loops; the texture copies
// (copyBufferToTexture, or matmul_pack.wgsl for layouts a copy cannot produce) are encoded
// in the same command encoder, so they are part of the measured cost.
// Layout: At texel (x, y) = op(A)[m, 4x .. 4x+3] with y = batchA·M + m (k packed by four,
//   zero past K); Bt texel (x, y) = op(B)[k, 4x .. 4x+3] with y = batchB·kPad + k (n packed
//   by four, zero past N and past K). kPad = K rounded up to KC = 8. C is row-major f32 [M, N].
// Params: strideA / strideB are the texel-row offsets of one batch in At / Bt (0 broadcasts),
//   strideC the element offset of one batch in C, kPad the padded depth, epilogue the
//   bias / ReLU / accumulate bits.
// Workgroup 8x4; each invocation a 32x16 block of C (acc in 32 rows of four vec4); one
//   workgroup a 128x128 tile. Grid: (ceil(N/128), ceil(M/128), batch).
// Block shape measured on llvmpipe (2 cores, N = 1024/2048): 32x16 per invocation about
//   1.2-1.5x the 16x16 and 16x32 blocks; 64x16 no better. Lanes run along x (8 wide).
// Bindings: 0 uniform Params, 1 At (texture), 2 Bt (texture), 3 bias (a dummy without bias),
//   4 C: 2 storage buffers.
// Edges: any M, N, K: rows and columns past the edge are clamped on load, skipped on store.
// Determinism: each C element sums k in ascending order (fixed per kernel version).

struct Params {
  M: u32,
  N: u32,
  K: u32,
  batch: u32,
  strideA: u32,
  strideB: u32,
  strideC: u32,
  kPad: u32,
  // Epilogue bits: 1 add bias, 2 ReLU, 4 accumulate into C. A uniform rather than override
  // constants: this kernel takes seconds to compile on llvmpipe, and one pipeline serves all.
  epilogue: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var At: texture_2d<f32>;
@group(0) @binding(2) var Bt: texture_2d<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

const ADD_BIAS: u32 = 1u;
const RELU: u32 = 2u;
const ACCUMULATE: u32 = 4u;

// Eight rows of op(B) (k .. k+7) for one group of four columns.
struct Panel {
  k0: vec4<f32>,
  k1: vec4<f32>,
  k2: vec4<f32>,
  k3: vec4<f32>,
  k4: vec4<f32>,
  k5: vec4<f32>,
  k6: vec4<f32>,
  k7: vec4<f32>,
}

// Sixteen accumulators of one output row: columns n0 .. n0+15.
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
    textureLoad(Bt, vec2<u32>(x, y + 4u), 0),
    textureLoad(Bt, vec2<u32>(x, y + 5u), 0),
    textureLoad(Bt, vec2<u32>(x, y + 6u), 0),
    textureLoad(Bt, vec2<u32>(x, y + 7u), 0),
  );
}

// acc += a (k .. k+7 of one row of op(A)) times the panel, in ascending k.
fn fma8(acc: vec4<f32>, a0: vec4<f32>, a1: vec4<f32>, b: Panel) -> vec4<f32> {
  var r = fma(vec4<f32>(a0.x), b.k0, acc);
  r = fma(vec4<f32>(a0.y), b.k1, r);
  r = fma(vec4<f32>(a0.z), b.k2, r);
  r = fma(vec4<f32>(a0.w), b.k3, r);
  r = fma(vec4<f32>(a1.x), b.k4, r);
  r = fma(vec4<f32>(a1.y), b.k5, r);
  r = fma(vec4<f32>(a1.z), b.k6, r);
  return fma(vec4<f32>(a1.w), b.k7, r);
}

fn row_step(acc: Row, ay: u32, ax: u32, b0: Panel, b1: Panel, b2: Panel, b3: Panel) -> Row {
  let a0 = textureLoad(At, vec2<u32>(ax, ay), 0);
  let a1 = textureLoad(At, vec2<u32>(ax + 1u, ay), 0);
  return Row(fma8(acc.c0, a0, a1, b0), fma8(acc.c1, a0, a1, b1), fma8(acc.c2, a0, a1, b2), fma8(acc.c3, a0, a1, b3));
}

fn epilogue(idx: u32, n: u32, v: f32) {
  var r = v;
  if ((p.epilogue & ADD_BIAS) != 0u) {
    r = r + bias[n];
  }
  if ((p.epilogue & RELU) != 0u) {
    r = max(r, 0.0);
  }
  if ((p.epilogue & ACCUMULATE) != 0u) {
    r = r + C[idx];
  }
  C[idx] = r;
}

fn store4(base: u32, n: u32, v: vec4<f32>) {
  for (var j = 0u; j < 4u; j++) {
    if (n + j < p.N) {
      epilogue(base + n + j, n + j, v[j]);
    }
  }
}

fn store_row(cBase: u32, m: u32, n0: u32, r: Row) {
  if (m >= p.M) {
    return;
  }
  let base = cBase + m * p.N;
  store4(base, n0, r.c0);
  store4(base, n0 + 4u, r.c1);
  store4(base, n0 + 8u, r.c2);
  store4(base, n0 + 12u, r.c3);
}

@compute @workgroup_size(8, 4, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.z;
  let m0 = (wg.y * 4u + lid.y) * 32u;
  let n0 = (wg.x * 8u + lid.x) * 16u;
  // Texel columns of the four column groups, clamped to the texture (edge results are dropped).
  let xLast = (p.N + 3u) / 4u - 1u;
  let x0 = min(n0 / 4u, xLast);
  let x1 = min(n0 / 4u + 1u, xLast);
  let x2 = min(n0 / 4u + 2u, xLast);
  let x3 = min(n0 / 4u + 3u, xLast);
  let aRow = b * p.strideA;
  let mLast = p.M - 1u;
  let bRow = b * p.strideB;
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
  for (var k = 0u; k < p.kPad; k += 8u) {
    let y = bRow + k;
    let b0 = panel(x0, y);
    let b1 = panel(x1, y);
    let b2 = panel(x2, y);
    let b3 = panel(x3, y);
    let ax = k / 4u;
    r0 = row_step(r0, aRow + min(m0, mLast), ax, b0, b1, b2, b3);
    r1 = row_step(r1, aRow + min(m0 + 1u, mLast), ax, b0, b1, b2, b3);
    r2 = row_step(r2, aRow + min(m0 + 2u, mLast), ax, b0, b1, b2, b3);
    r3 = row_step(r3, aRow + min(m0 + 3u, mLast), ax, b0, b1, b2, b3);
    r4 = row_step(r4, aRow + min(m0 + 4u, mLast), ax, b0, b1, b2, b3);
    r5 = row_step(r5, aRow + min(m0 + 5u, mLast), ax, b0, b1, b2, b3);
    r6 = row_step(r6, aRow + min(m0 + 6u, mLast), ax, b0, b1, b2, b3);
    r7 = row_step(r7, aRow + min(m0 + 7u, mLast), ax, b0, b1, b2, b3);
    r8 = row_step(r8, aRow + min(m0 + 8u, mLast), ax, b0, b1, b2, b3);
    r9 = row_step(r9, aRow + min(m0 + 9u, mLast), ax, b0, b1, b2, b3);
    r10 = row_step(r10, aRow + min(m0 + 10u, mLast), ax, b0, b1, b2, b3);
    r11 = row_step(r11, aRow + min(m0 + 11u, mLast), ax, b0, b1, b2, b3);
    r12 = row_step(r12, aRow + min(m0 + 12u, mLast), ax, b0, b1, b2, b3);
    r13 = row_step(r13, aRow + min(m0 + 13u, mLast), ax, b0, b1, b2, b3);
    r14 = row_step(r14, aRow + min(m0 + 14u, mLast), ax, b0, b1, b2, b3);
    r15 = row_step(r15, aRow + min(m0 + 15u, mLast), ax, b0, b1, b2, b3);
    r16 = row_step(r16, aRow + min(m0 + 16u, mLast), ax, b0, b1, b2, b3);
    r17 = row_step(r17, aRow + min(m0 + 17u, mLast), ax, b0, b1, b2, b3);
    r18 = row_step(r18, aRow + min(m0 + 18u, mLast), ax, b0, b1, b2, b3);
    r19 = row_step(r19, aRow + min(m0 + 19u, mLast), ax, b0, b1, b2, b3);
    r20 = row_step(r20, aRow + min(m0 + 20u, mLast), ax, b0, b1, b2, b3);
    r21 = row_step(r21, aRow + min(m0 + 21u, mLast), ax, b0, b1, b2, b3);
    r22 = row_step(r22, aRow + min(m0 + 22u, mLast), ax, b0, b1, b2, b3);
    r23 = row_step(r23, aRow + min(m0 + 23u, mLast), ax, b0, b1, b2, b3);
    r24 = row_step(r24, aRow + min(m0 + 24u, mLast), ax, b0, b1, b2, b3);
    r25 = row_step(r25, aRow + min(m0 + 25u, mLast), ax, b0, b1, b2, b3);
    r26 = row_step(r26, aRow + min(m0 + 26u, mLast), ax, b0, b1, b2, b3);
    r27 = row_step(r27, aRow + min(m0 + 27u, mLast), ax, b0, b1, b2, b3);
    r28 = row_step(r28, aRow + min(m0 + 28u, mLast), ax, b0, b1, b2, b3);
    r29 = row_step(r29, aRow + min(m0 + 29u, mLast), ax, b0, b1, b2, b3);
    r30 = row_step(r30, aRow + min(m0 + 30u, mLast), ax, b0, b1, b2, b3);
    r31 = row_step(r31, aRow + min(m0 + 31u, mLast), ax, b0, b1, b2, b3);
  }
  if (m0 >= p.M || n0 >= p.N) {
    return;
  }
  let cBase = b * p.strideC;
  store_row(cBase, m0, n0, r0);
  store_row(cBase, m0 + 1u, n0, r1);
  store_row(cBase, m0 + 2u, n0, r2);
  store_row(cBase, m0 + 3u, n0, r3);
  store_row(cBase, m0 + 4u, n0, r4);
  store_row(cBase, m0 + 5u, n0, r5);
  store_row(cBase, m0 + 6u, n0, r6);
  store_row(cBase, m0 + 7u, n0, r7);
  store_row(cBase, m0 + 8u, n0, r8);
  store_row(cBase, m0 + 9u, n0, r9);
  store_row(cBase, m0 + 10u, n0, r10);
  store_row(cBase, m0 + 11u, n0, r11);
  store_row(cBase, m0 + 12u, n0, r12);
  store_row(cBase, m0 + 13u, n0, r13);
  store_row(cBase, m0 + 14u, n0, r14);
  store_row(cBase, m0 + 15u, n0, r15);
  store_row(cBase, m0 + 16u, n0, r16);
  store_row(cBase, m0 + 17u, n0, r17);
  store_row(cBase, m0 + 18u, n0, r18);
  store_row(cBase, m0 + 19u, n0, r19);
  store_row(cBase, m0 + 20u, n0, r20);
  store_row(cBase, m0 + 21u, n0, r21);
  store_row(cBase, m0 + 22u, n0, r22);
  store_row(cBase, m0 + 23u, n0, r23);
  store_row(cBase, m0 + 24u, n0, r24);
  store_row(cBase, m0 + 25u, n0, r25);
  store_row(cBase, m0 + 26u, n0, r26);
  store_row(cBase, m0 + 27u, n0, r27);
  store_row(cBase, m0 + 28u, n0, r28);
  store_row(cBase, m0 + 29u, n0, r29);
  store_row(cBase, m0 + 30u, n0, r30);
  store_row(cBase, m0 + 31u, n0, r31);
}
