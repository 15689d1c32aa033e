// matmul_register.wgsl — batched C[b] = op(A[b]) · op(B[b]) (+ bias) (activation) (+= C),
// register-blocked: operands read straight from storage into registers (no workgroup
// memory, no barrier), vec4 loads along the contiguous dimension where it allows them.
// Layout: row-major f32 read through vec4 views. op(A) is [M,K]: A is [M,K], or [K,M] when
//   TRANS_A. op(B) is [K,N]: B is [K,N], or [N,K] when TRANS_B. bias [N], C [M,N]. Batch b
//   at offsets b·strideA / b·strideB / b·strideC (a stride of 0 broadcasts that operand).
// Fast paths (override constants set by the host):
//   VEC_A — A is [M,K] with K % 4 == 0: four k of one row in one vec4 load;
//   VEC_B — B is [K,N] with N % 4 == 0: four columns of one k in one vec4 load;
//   otherwise scalar loads (any transpose, any size).
// The host binds every storage region rounded up to 16 bytes (inside its buffer).
// Workgroup 8x8; each invocation an 8x8 block of C (8 rows of two vec4); one workgroup a
//   64x64 tile. Grid: (ceil(N/64), ceil(M/64), batch).
// Bindings: 0 uniform Params, 1 A, 2 B, 3 bias (a dummy when !HAS_BIAS), 4 C: 4 storage.
// Edges: rows/cols past the edge are clamped on load and skipped on store; the K tail
//   (K % 4) runs one k at a time. Determinism: ascending k for every C element.

#import "prelude/matmul_contract.wgsl"
#import "prelude/matmul_epilogue.wgsl"

@group(0) @binding(1) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;

override VEC_A: bool = false;
override VEC_B: bool = false;

fn a_at(base: u32, m: u32, k: u32) -> f32 {
  var i = base + m * p.K + k;
  if (TRANS_A) {
    i = base + k * p.M + m;
  }
  return A[i >> 2u][i & 3u];
}

fn b_at(base: u32, k: u32, n: u32) -> f32 {
  var i = base + k * p.N + n;
  if (TRANS_B) {
    i = base + n * p.K + k;
  }
  return B[i >> 2u][i & 3u];
}

// Columns of this invocation, clamped to the matrix (results past the edge are dropped).
struct Cols {
  c: array<u32, 8>,
}

// Four consecutive k of one row of op(A).
fn a4(base: u32, m: u32, k: u32) -> vec4<f32> {
  if (VEC_A) {
    return A[(base + m * p.K + k) >> 2u];
  }
  return vec4<f32>(a_at(base, m, k), a_at(base, m, k + 1u), a_at(base, m, k + 2u), a_at(base, m, k + 3u));
}

// Eight columns of one k of op(B), and eight accumulators of one row of C: Pairs of two vec4.
#import "prelude/fma_chain.wgsl"

fn brow(base: u32, k: u32, cols: Cols) -> Pair {
  if (VEC_B) {
    // N % 4 == 0, so cols.c[0] and cols.c[4] start aligned groups of four.
    return Pair(B[(base + k * p.N + cols.c[0]) >> 2u], B[(base + k * p.N + cols.c[4]) >> 2u]);
  }
  return Pair(
    vec4<f32>(b_at(base, k, cols.c[0]), b_at(base, k, cols.c[1]), b_at(base, k, cols.c[2]), b_at(base, k, cols.c[3])),
    vec4<f32>(b_at(base, k, cols.c[4]), b_at(base, k, cols.c[5]), b_at(base, k, cols.c[6]), b_at(base, k, cols.c[7])),
  );
}

fn step1(acc: Pair, a: f32, b: Pair) -> Pair {
  return Pair(fma(vec4<f32>(a), b.lo, acc.lo), fma(vec4<f32>(a), b.hi, acc.hi));
}

fn store_row(cBase: u32, m: u32, n0: u32, r: Pair) {
  if (m >= p.M) {
    return;
  }
  let base = cBase + m * p.N;
  for (var j = 0u; j < 4u; j++) {
    if (n0 + j < p.N) {
      epilogue(base + n0 + j, n0 + j, r.lo[j]);
    }
    if (n0 + 4u + j < p.N) {
      epilogue(base + n0 + 4u + j, n0 + 4u + j, r.hi[j]);
    }
  }
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.z;
  let aBase = b * p.strideA;
  let bBase = b * p.strideB;
  let m0 = (wg.y * 8u + lid.y) * 8u;
  let n0 = (wg.x * 8u + lid.x) * 8u;
  if (m0 >= p.M || n0 >= p.N) {
    return;
  }
  let mLast = p.M - 1u;
  let nLast = p.N - 1u;
  var cols: Cols;
  cols.c[0] = min(n0, nLast);
  cols.c[1] = min(n0 + 1u, nLast);
  cols.c[2] = min(n0 + 2u, nLast);
  cols.c[3] = min(n0 + 3u, nLast);
  cols.c[4] = min(n0 + 4u, nLast & ~3u);
  cols.c[5] = min(n0 + 5u, nLast);
  cols.c[6] = min(n0 + 6u, nLast);
  cols.c[7] = min(n0 + 7u, nLast);
  if (!VEC_B) {
    cols.c[4] = min(n0 + 4u, nLast);
  }
  let m1 = min(m0 + 1u, mLast);
  let m2 = min(m0 + 2u, mLast);
  let m3 = min(m0 + 3u, mLast);
  let m4 = min(m0 + 4u, mLast);
  let m5 = min(m0 + 5u, mLast);
  let m6 = min(m0 + 6u, mLast);
  let m7 = min(m0 + 7u, mLast);
  // Row i's accumulators: indexed by constants only, so they stay in registers.
  var r: array<Pair, 8>;
  let kMain = p.K & ~3u;
  for (var k = 0u; k < kMain; k += 4u) {
    let b0 = brow(bBase, k, cols);
    let b1 = brow(bBase, k + 1u, cols);
    let b2 = brow(bBase, k + 2u, cols);
    let b3 = brow(bBase, k + 3u, cols);
    r[0] = pair_fma4(r[0], a4(aBase, m0, k), b0, b1, b2, b3);
    r[1] = pair_fma4(r[1], a4(aBase, m1, k), b0, b1, b2, b3);
    r[2] = pair_fma4(r[2], a4(aBase, m2, k), b0, b1, b2, b3);
    r[3] = pair_fma4(r[3], a4(aBase, m3, k), b0, b1, b2, b3);
    r[4] = pair_fma4(r[4], a4(aBase, m4, k), b0, b1, b2, b3);
    r[5] = pair_fma4(r[5], a4(aBase, m5, k), b0, b1, b2, b3);
    r[6] = pair_fma4(r[6], a4(aBase, m6, k), b0, b1, b2, b3);
    r[7] = pair_fma4(r[7], a4(aBase, m7, k), b0, b1, b2, b3);
  }
  for (var k = kMain; k < p.K; k++) {
    let bk = brow(bBase, k, cols);
    r[0] = step1(r[0], a_at(aBase, m0, k), bk);
    r[1] = step1(r[1], a_at(aBase, m1, k), bk);
    r[2] = step1(r[2], a_at(aBase, m2, k), bk);
    r[3] = step1(r[3], a_at(aBase, m3, k), bk);
    r[4] = step1(r[4], a_at(aBase, m4, k), bk);
    r[5] = step1(r[5], a_at(aBase, m5, k), bk);
    r[6] = step1(r[6], a_at(aBase, m6, k), bk);
    r[7] = step1(r[7], a_at(aBase, m7, k), bk);
  }
  let cBase = b * p.strideC;
  store_row(cBase, m0, n0, r[0]);
  store_row(cBase, m0 + 1u, n0, r[1]);
  store_row(cBase, m0 + 2u, n0, r[2]);
  store_row(cBase, m0 + 3u, n0, r[3]);
  store_row(cBase, m0 + 4u, n0, r[4]);
  store_row(cBase, m0 + 5u, n0, r[5]);
  store_row(cBase, m0 + 6u, n0, r[6]);
  store_row(cBase, m0 + 7u, n0, r[7]);
}
