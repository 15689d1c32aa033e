// matmul_texture.wgsl — batched C[b] = op(A[b]) · op(B[b]) (+ bias) (activation) (+= C), with
// both operands read from rgba32float textures by textureLoad (texture-sourced variant).
// Why: on CPU adapters (Mesa llvmpipe) texel fetches are vectorized across lanes while
// storage-buffer and workgroup-memory loads are per-lane scalar loops; the texture copies
// (copyBufferToTexture, or matmul_pack.wgsl for layouts a copy cannot produce) are encoded
// in the same command encoder, so they are part of the measured cost.
// Layout (kPad = K rounded up to KC = 8, zero past K; C is row-major f32 [M, N]):
//   At, default:   texel (x, y) = op(A)[m, 4x .. 4x+3], y = batchA·M + m (k packed by four);
//   At, A_KMAJOR:  texel (x, y) = op(A)[4x .. 4x+3, k], y = batchA·kPad + k (m packed by four),
//                  the layout of a transposed A ([K, M] row-major) copied as is;
//   Bt, default:   texel (x, y) = op(B)[k, 4x .. 4x+3], y = batchB·kPad + k (n packed by four);
//   Bt, B_KMAJOR:  texel (x, y) = op(B)[4x .. 4x+3, n], y = batchB·N + n (k packed by four),
//                  the layout of a transposed B ([N, K] row-major) copied as is.
//   Padding texels past M or N may hold anything (their results are dropped); past K zero.
// Params: strideA / strideB are the texel-row offsets of one batch in At / Bt (0 broadcasts),
//   strideC the element offset of one batch in C, kPad the padded depth, epilogue the
//   bias / ReLU / accumulate bits.
// Workgroup 8x4; each invocation a 32x16 block of C (acc in 32 rows of four vec4); one
//   workgroup a 128x128 tile. Grid: (ceil(N/128), ceil(M/128), batch).
// Block shape measured on llvmpipe (2 cores, N = 1024/2048): 32x16 per invocation about
//   1.2-1.5x the 16x16 and 16x32 blocks; 64x16 no better. Lanes run along x (8 wide).
//   Cost: about 5 s of llvmpipe compile per pipeline (once; Mesa caches it on disk).
// Bindings: 0 uniform Params, 1 At (texture), 2 Bt (texture), 3 bias (a dummy without bias),
//   4 C: 2 storage buffers.
// Edges: any M, N, K: rows and columns past the edge are clamped on load, skipped on store.
// Determinism: each C element sums k in ascending order (fixed per kernel version).

#import "uniforms/matmul_texture.json"
@group(0) @binding(1) var At: texture_2d<f32>;
@group(0) @binding(2) var Bt: texture_2d<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

// Texel layouts of the staged operands (see Layout); chosen so that plain copies can stage them.
override A_KMAJOR: bool = false;
override B_KMAJOR: bool = false;

// Epilogue as uniform bits rather than override constants: one pipeline per staging layout
// (this kernel compiles for seconds on llvmpipe). Affordable because the stores below run
// in a loop, not unrolled 512 times.
const ADD_BIAS: u32 = 1u;
const RELU: u32 = 2u;
const ACCUMULATE: u32 = 4u;

// Eight rows of op(B) (k .. k+7) for one group of four columns: k .. k+3 and k+4 .. k+7.
#import "prelude/bt_rows.wgsl"

struct Panel {
  lo: Rows4,
  hi: Rows4,
}

// Accumulators: a Row per output row (columns n0 .. n0+15), a Quad per four consecutive rows.
#import "prelude/row_acc.wgsl"

// Default layout: eight texel rows (k .. k+7) of one column group.
fn panel_rows(x: u32, y: u32) -> Panel {
  return Panel(bt_rows4(x, y), bt_rows4(x, y + 4u));
}

// B_KMAJOR: two texels (k .. k+7) of each of four columns (texel rows y0 .. y3), transposed.
fn panel_cols(x: u32, y0: u32, y1: u32, y2: u32, y3: u32) -> Panel {
  let c0lo = textureLoad(Bt, vec2<u32>(x, y0), 0);
  let c0hi = textureLoad(Bt, vec2<u32>(x + 1u, y0), 0);
  let c1lo = textureLoad(Bt, vec2<u32>(x, y1), 0);
  let c1hi = textureLoad(Bt, vec2<u32>(x + 1u, y1), 0);
  let c2lo = textureLoad(Bt, vec2<u32>(x, y2), 0);
  let c2hi = textureLoad(Bt, vec2<u32>(x + 1u, y2), 0);
  let c3lo = textureLoad(Bt, vec2<u32>(x, y3), 0);
  let c3hi = textureLoad(Bt, vec2<u32>(x + 1u, y3), 0);
  let lo = Rows4(
    vec4<f32>(c0lo.x, c1lo.x, c2lo.x, c3lo.x),
    vec4<f32>(c0lo.y, c1lo.y, c2lo.y, c3lo.y),
    vec4<f32>(c0lo.z, c1lo.z, c2lo.z, c3lo.z),
    vec4<f32>(c0lo.w, c1lo.w, c2lo.w, c3lo.w),
  );
  let hi = Rows4(
    vec4<f32>(c0hi.x, c1hi.x, c2hi.x, c3hi.x),
    vec4<f32>(c0hi.y, c1hi.y, c2hi.y, c3hi.y),
    vec4<f32>(c0hi.z, c1hi.z, c2hi.z, c3hi.z),
    vec4<f32>(c0hi.w, c1hi.w, c2hi.w, c3hi.w),
  );
  return Panel(lo, hi);
}

// Column group g (columns n0 + 4g .. +3) for the chunk starting at k.
fn panel(g: u32, n0: u32, k: u32, bRow: u32) -> Panel {
  if (B_KMAJOR) {
    let nLast = p.N - 1u;
    let n = n0 + 4u * g;
    return panel_cols(k / 4u, bRow + min(n, nLast), bRow + min(n + 1u, nLast), bRow + min(n + 2u, nLast), bRow + min(n + 3u, nLast));
  }
  let xLast = (p.N + 3u) / 4u - 1u;
  return panel_rows(min(n0 / 4u + g, xLast), bRow + k);
}

// acc += a (k .. k+7 of one row of op(A)) times the panel, in ascending k.
#import "prelude/fma_chain.wgsl"

fn fma8(acc: vec4<f32>, a0: vec4<f32>, a1: vec4<f32>, b: Panel) -> vec4<f32> {
  return fma_chain4(fma_chain4(acc, a0, b.lo.k0, b.lo.k1, b.lo.k2, b.lo.k3), a1, b.hi.k0, b.hi.k1, b.hi.k2, b.hi.k3);
}

fn row_fma(acc: Row, a0: vec4<f32>, a1: vec4<f32>, b0: Panel, b1: Panel, b2: Panel, b3: Panel) -> Row {
  return Row(fma8(acc.c0, a0, a1, b0), fma8(acc.c1, a0, a1, b1), fma8(acc.c2, a0, a1, b2), fma8(acc.c3, a0, a1, b3));
}

// One chunk of k (k .. k+7) for rows m .. m+3 (m a multiple of 4).
fn quad_step(acc: Quad, m: u32, k: u32, aRow: u32, b0: Panel, b1: Panel, b2: Panel, b3: Panel) -> Quad {
  if (A_KMAJOR) {
    // Eight texels, one per k, each holding the four rows; transposed into per-row vectors.
    let x = min(m / 4u, (p.M + 3u) / 4u - 1u);
    let y = aRow + k;
    let t0 = textureLoad(At, vec2<u32>(x, y), 0);
    let t1 = textureLoad(At, vec2<u32>(x, y + 1u), 0);
    let t2 = textureLoad(At, vec2<u32>(x, y + 2u), 0);
    let t3 = textureLoad(At, vec2<u32>(x, y + 3u), 0);
    let t4 = textureLoad(At, vec2<u32>(x, y + 4u), 0);
    let t5 = textureLoad(At, vec2<u32>(x, y + 5u), 0);
    let t6 = textureLoad(At, vec2<u32>(x, y + 6u), 0);
    let t7 = textureLoad(At, vec2<u32>(x, y + 7u), 0);
    return Quad(
      row_fma(acc.r0, vec4<f32>(t0.x, t1.x, t2.x, t3.x), vec4<f32>(t4.x, t5.x, t6.x, t7.x), b0, b1, b2, b3),
      row_fma(acc.r1, vec4<f32>(t0.y, t1.y, t2.y, t3.y), vec4<f32>(t4.y, t5.y, t6.y, t7.y), b0, b1, b2, b3),
      row_fma(acc.r2, vec4<f32>(t0.z, t1.z, t2.z, t3.z), vec4<f32>(t4.z, t5.z, t6.z, t7.z), b0, b1, b2, b3),
      row_fma(acc.r3, vec4<f32>(t0.w, t1.w, t2.w, t3.w), vec4<f32>(t4.w, t5.w, t6.w, t7.w), b0, b1, b2, b3),
    );
  }
  let mLast = p.M - 1u;
  let x = k / 4u;
  let y0 = aRow + min(m, mLast);
  let y1 = aRow + min(m + 1u, mLast);
  let y2 = aRow + min(m + 2u, mLast);
  let y3 = aRow + min(m + 3u, mLast);
  return Quad(
    row_fma(acc.r0, textureLoad(At, vec2<u32>(x, y0), 0), textureLoad(At, vec2<u32>(x + 1u, y0), 0), b0, b1, b2, b3),
    row_fma(acc.r1, textureLoad(At, vec2<u32>(x, y1), 0), textureLoad(At, vec2<u32>(x + 1u, y1), 0), b0, b1, b2, b3),
    row_fma(acc.r2, textureLoad(At, vec2<u32>(x, y2), 0), textureLoad(At, vec2<u32>(x + 1u, y2), 0), b0, b1, b2, b3),
    row_fma(acc.r3, textureLoad(At, vec2<u32>(x, y3), 0), textureLoad(At, vec2<u32>(x + 1u, y3), 0), b0, b1, b2, b3),
  );
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

fn store_quad(cBase: u32, m: u32, n0: u32, q: Quad) {
  store_row(cBase, m, n0, q.r0);
  store_row(cBase, m + 1u, n0, q.r1);
  store_row(cBase, m + 2u, n0, q.r2);
  store_row(cBase, m + 3u, n0, q.r3);
}

@compute @workgroup_size(8, 4, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.z;
  let m0 = (wg.y * 4u + lid.y) * 32u;
  let n0 = (wg.x * 8u + lid.x) * 16u;
  let aRow = b * p.strideA;
  let bRow = b * p.strideB;
  var q0: Quad;
  var q1: Quad;
  var q2: Quad;
  var q3: Quad;
  var q4: Quad;
  var q5: Quad;
  var q6: Quad;
  var q7: Quad;
  for (var k = 0u; k < p.kPad; k += 8u) {
    let b0 = panel(0u, n0, k, bRow);
    let b1 = panel(1u, n0, k, bRow);
    let b2 = panel(2u, n0, k, bRow);
    let b3 = panel(3u, n0, k, bRow);
    q0 = quad_step(q0, m0, k, aRow, b0, b1, b2, b3);
    q1 = quad_step(q1, m0 + 4u, k, aRow, b0, b1, b2, b3);
    q2 = quad_step(q2, m0 + 8u, k, aRow, b0, b1, b2, b3);
    q3 = quad_step(q3, m0 + 12u, k, aRow, b0, b1, b2, b3);
    q4 = quad_step(q4, m0 + 16u, k, aRow, b0, b1, b2, b3);
    q5 = quad_step(q5, m0 + 20u, k, aRow, b0, b1, b2, b3);
    q6 = quad_step(q6, m0 + 24u, k, aRow, b0, b1, b2, b3);
    q7 = quad_step(q7, m0 + 28u, k, aRow, b0, b1, b2, b3);
  }
  if (m0 >= p.M || n0 >= p.N) {
    return;
  }
  // Stores go through a loop with a data-dependent bound (so it is not unrolled): 512
  // unrolled guarded stores would multiply llvmpipe's compile time for no speed (they run
  // once per invocation).
  var quads = array<Quad, 8>(q0, q1, q2, q3, q4, q5, q6, q7);
  let cBase = b * p.strideC;
  let quadsInside = min(8u, (p.M - m0 + 3u) / 4u);
  for (var i = 0u; i < quadsInside; i++) {
    store_quad(cBase, m0 + 4u * i, n0, quads[i]);
  }
}
