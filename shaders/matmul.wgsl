// matmul.wgsl — batched C[b] = op(A[b]) · op(B[b]) (+ bias) (activation) (+= C).
// Layout: row-major f32. op(A) is [M,K]: A is [M,K], or [K,M] when TRANS_A. op(B) is
// [K,N]: B is [K,N], or [N,K] when TRANS_B. bias is [N]. C is [M,N]. Batch b at
// offsets b*strideA/b*strideB/b*strideC (a stride of 0 broadcasts that operand).
// Bindings: 0 uniform Params, 1 A, 2 B, 3 bias (a dummy when !HAS_BIAS), 4 C: 4 storage.
// Entry points (the operand-staging variants of one family):
//   main_register — workgroup 8x8, each invocation a 4x4 block of C, operands read
//                   straight from storage into registers (no workgroup memory, no barrier).
//   main_tiled    — workgroup 8x8, each invocation a 4x4 block of a 32x32 C tile; A and B
//                   tiles of depth 16 staged in workgroup memory (what real GPUs reward).
//   main_naive    — workgroup 8x8, one invocation per element of C (benchmark baseline).
// Grid: (ceil(N/32), ceil(M/32), batch) for register/tiled, (ceil(N/8), ceil(M/8), batch) naive.
// Edges: any M, N, K; rows/cols past the edge are clamped on load and skipped on store.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  batch: u32,
  strideA: u32,
  strideB: u32,
  strideC: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
// 0 none, 1 relu
override ACT: u32 = 0u;
// Add the product to the existing C (gradient accumulation).
override ACCUMULATE: bool = false;

fn a_at(base: u32, m: u32, k: u32) -> f32 {
  if (TRANS_A) {
    return A[base + k * p.M + m];
  }
  return A[base + m * p.K + k];
}

fn b_at(base: u32, k: u32, n: u32) -> f32 {
  if (TRANS_B) {
    return B[base + n * p.K + k];
  }
  return B[base + k * p.N + n];
}

fn epilogue(idx: u32, n: u32, v: f32) {
  var r = v;
  if (HAS_BIAS) {
    r = r + bias[n];
  }
  if (ACT == 1u) {
    r = max(r, 0.0);
  }
  if (ACCUMULATE) {
    r = r + C[idx];
  }
  C[idx] = r;
}

fn store_block(cBase: u32, m0: u32, n0: u32, acc: array<vec4<f32>, 4>) {
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= p.M) {
      break;
    }
    let row = cBase + m * p.N;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n < p.N) {
        epilogue(row + n, n, acc[i][j]);
      }
    }
  }
}

@compute @workgroup_size(8, 8, 1)
fn main_register(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.z;
  let aBase = b * p.strideA;
  let bBase = b * p.strideB;
  let m0 = (wg.y * 8u + lid.y) * 4u;
  let n0 = (wg.x * 8u + lid.x) * 4u;
  if (m0 >= p.M || n0 >= p.N) {
    return;
  }
  // Clamp edge rows/cols: the loads stay in bounds, the results are never stored.
  let mLast = p.M - 1u;
  let nLast = p.N - 1u;
  let r0 = min(m0, mLast);
  let r1 = min(m0 + 1u, mLast);
  let r2 = min(m0 + 2u, mLast);
  let r3 = min(m0 + 3u, mLast);
  let c0 = min(n0, nLast);
  let c1 = min(n0 + 1u, nLast);
  let c2 = min(n0 + 2u, nLast);
  let c3 = min(n0 + 3u, nLast);
  var acc: array<vec4<f32>, 4>;
  for (var k = 0u; k < p.K; k++) {
    let bv = vec4<f32>(b_at(bBase, k, c0), b_at(bBase, k, c1), b_at(bBase, k, c2), b_at(bBase, k, c3));
    acc[0] = fma(vec4<f32>(a_at(aBase, r0, k)), bv, acc[0]);
    acc[1] = fma(vec4<f32>(a_at(aBase, r1, k)), bv, acc[1]);
    acc[2] = fma(vec4<f32>(a_at(aBase, r2, k)), bv, acc[2]);
    acc[3] = fma(vec4<f32>(a_at(aBase, r3, k)), bv, acc[3]);
  }
  store_block(b * p.strideC, m0, n0, acc);
}

const TILE: u32 = 32u;
const TK: u32 = 16u;
var<workgroup> As: array<f32, 512>; // [TK][TILE], k-major so a row of k is contiguous in m
var<workgroup> Bs: array<f32, 512>; // [TK][TILE]

@compute @workgroup_size(8, 8, 1)
fn main_tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.z;
  let aBase = b * p.strideA;
  let bBase = b * p.strideB;
  let tileM = wg.y * TILE;
  let tileN = wg.x * TILE;
  let t = lid.y * 8u + lid.x;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    // 64 invocations stage 512 values of each operand: 8 each.
    for (var e = 0u; e < 8u; e++) {
      let idx = t + e * 64u;
      let kk = idx / TILE;
      let mm = idx % TILE;
      let k = k0 + kk;
      var av = 0.0;
      if (k < p.K && tileM + mm < p.M) {
        av = a_at(aBase, tileM + mm, k);
      }
      As[kk * TILE + mm] = av;
      var bv = 0.0;
      if (k < p.K && tileN + mm < p.N) {
        bv = b_at(bBase, k, tileN + mm);
      }
      Bs[kk * TILE + mm] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let bv = vec4<f32>(Bs[kk * TILE + lid.x * 4u], Bs[kk * TILE + lid.x * 4u + 1u], Bs[kk * TILE + lid.x * 4u + 2u], Bs[kk * TILE + lid.x * 4u + 3u]);
      let ar = kk * TILE + lid.y * 4u;
      acc[0] = fma(vec4<f32>(As[ar]), bv, acc[0]);
      acc[1] = fma(vec4<f32>(As[ar + 1u]), bv, acc[1]);
      acc[2] = fma(vec4<f32>(As[ar + 2u]), bv, acc[2]);
      acc[3] = fma(vec4<f32>(As[ar + 3u]), bv, acc[3]);
    }
    workgroupBarrier();
  }
  store_block(b * p.strideC, tileM + lid.y * 4u, tileN + lid.x * 4u, acc);
}

@compute @workgroup_size(8, 8, 1)
fn main_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = gid.y;
  let n = gid.x;
  let b = gid.z;
  if (m >= p.M || n >= p.N) {
    return;
  }
  var s = 0.0;
  for (var k = 0u; k < p.K; k++) {
    s = s + a_at(b * p.strideA, m, k) * b_at(b * p.strideB, k, n);
  }
  epilogue(b * p.strideC + m * p.N + n, n, s);
}
