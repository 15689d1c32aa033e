// matmul.wgsl — batched C[b] = op(A[b]) · op(B[b]) (+ bias) (activation) (+= C).
// Layout: row-major f32. op(A) is [M,K]: A is [M,K], or [K,M] when TRANS_A. op(B) is
// [K,N]: B is [K,N], or [N,K] when TRANS_B. bias is [N]. C is [M,N]. Batch b at
// offsets b*strideA/b*strideB/b*strideC (a stride of 0 broadcasts that operand).
// Bindings: 0 uniform Params, 1 A, 2 B, 3 bias (a dummy when !HAS_BIAS), 4 C: 4 storage.
// Entry points (the workgroup-memory members of the matmul family; see also
// matmul_register.wgsl, matmul_texture.wgsl, matmul_splitk.wgsl, matmul_small.wgsl):
//   main_tiled    — workgroup 8x8, each invocation an 8x8 block of a 64x64 C tile; A and B
//                   tiles of depth 16 staged in workgroup memory as vec4 rows (what real
//                   GPUs reward: each staged value is reused by 8 invocations).
//   main_naive    — workgroup 8x8, one invocation per element of C (reference and baseline).
// Grid: (ceil(N/64), ceil(M/64), batch) for tiled, (ceil(N/8), ceil(M/8), batch) naive.
// Edges: any M, N, K; rows/cols past the edge load zeros (tiled) or are skipped on store.
// Determinism: every C element sums k in ascending order.

#import "prelude/matmul_contract.wgsl"

@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

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

const TILE: u32 = 64u;
const TK: u32 = 16u;
// [TK][TILE/4] vec4: k-major, so one vec4 holds four consecutive m (or n) of one k.
var<workgroup> As: array<vec4<f32>, 256>;
var<workgroup> Bs: array<vec4<f32>, 256>;

struct Block {
  r: array<vec4<f32>, 16>,
}

@compute @workgroup_size(8, 8, 1)
fn main_tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.z;
  let aBase = b * p.strideA;
  let bBase = b * p.strideB;
  let tileM = wg.y * TILE;
  let tileN = wg.x * TILE;
  let t = lid.y * 8u + lid.x;
  // acc.r[2i] / acc.r[2i+1]: row lid.y*4 + i (i < 4) and row 32 + lid.y*4 + (i - 4) of the
  // tile, columns lid.x*4 .. +3 and 32 + lid.x*4 .. +3.
  var acc: Block;
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    // 64 invocations stage 16x64 values of each operand: 4 vec4 each.
    for (var e = 0u; e < 4u; e++) {
      let slot = t + e * 64u;
      let kk = slot / 16u;
      let q = (slot % 16u) * 4u;
      let k = k0 + kk;
      var av = vec4<f32>(0.0);
      var bv = vec4<f32>(0.0);
      if (k < p.K) {
        for (var c = 0u; c < 4u; c++) {
          if (tileM + q + c < p.M) {
            av[c] = a_at(aBase, tileM + q + c, k);
          }
          if (tileN + q + c < p.N) {
            bv[c] = b_at(bBase, k, tileN + q + c);
          }
        }
      }
      As[slot] = av;
      Bs[slot] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a0 = As[kk * 16u + lid.y];
      let a1 = As[kk * 16u + 8u + lid.y];
      let b0 = Bs[kk * 16u + lid.x];
      let b1 = Bs[kk * 16u + 8u + lid.x];
      for (var i = 0u; i < 4u; i++) {
        acc.r[2u * i] = fma(vec4<f32>(a0[i]), b0, acc.r[2u * i]);
        acc.r[2u * i + 1u] = fma(vec4<f32>(a0[i]), b1, acc.r[2u * i + 1u]);
        acc.r[8u + 2u * i] = fma(vec4<f32>(a1[i]), b0, acc.r[8u + 2u * i]);
        acc.r[8u + 2u * i + 1u] = fma(vec4<f32>(a1[i]), b1, acc.r[8u + 2u * i + 1u]);
      }
    }
    workgroupBarrier();
  }
  let cBase = b * p.strideC;
  for (var i = 0u; i < 8u; i++) {
    let m = tileM + select(lid.y * 4u + i, 32u + lid.y * 4u + i - 4u, i >= 4u);
    if (m < p.M) {
      let row = cBase + m * p.N;
      for (var j = 0u; j < 4u; j++) {
        let n0 = tileN + lid.x * 4u + j;
        let n1 = tileN + 32u + lid.x * 4u + j;
        if (n0 < p.N) {
          epilogue(row + n0, n0, acc.r[2u * i][j]);
        }
        if (n1 < p.N) {
          epilogue(row + n1, n1, acc.r[2u * i + 1u][j]);
        }
      }
    }
  }
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
