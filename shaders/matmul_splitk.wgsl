// matmul_splitk.wgsl — split-K matmul for tall-K, small-output shapes (e.g. weight
// gradients Xᵀ·dY with K = number of samples): two passes, no atomics.
//   partial — slice s of `slices` sums k in [s·kChunk, min(K, (s+1)·kChunk)) into
//             P[(b·slices + s)·M·N + m·N + n]; a 4x4 block of C per invocation,
//             operands read straight from storage (the register-kernel scheme).
//   reduce  — C[b, m, n] = epilogue(Σ_s P[b, s, m, n]), s ascending.
// Determinism: fixed reduction order (k ascending inside a slice, slices ascending).
// Layout: as matmul.wgsl (row-major f32; TRANS_A: A is [K,M]; TRANS_B: B is [N,K]; a batch
//   stride of 0 broadcasts). P is [batch, slices, M, N].
// Workgroup 8x8 for partial (grid (ceil(N/32), ceil(M/32), batch·slices)); 64 for reduce
//   (grid over batch·M·N elements, 2-D when above the per-dimension cap: index =
//   (wg.y·gridX + wg.x)·64 + lane).
// Bindings: 0 uniform Params, then partial: 1 A, 2 B, 3 P (read_write);
//   reduce: 1 P (read), 2 bias (a dummy when !HAS_BIAS), 3 C: at most 3 storage buffers.

#import "uniforms/matmul_splitk.json"
@group(0) @binding(1) var<storage, read> src0: array<f32>;
@group(0) @binding(2) var<storage, read> src1: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

#import "prelude/matmul_overrides.wgsl"

fn a_at(base: u32, m: u32, k: u32) -> f32 {
  if (TRANS_A) {
    return src0[base + k * p.M + m];
  }
  return src0[base + m * p.K + k];
}

fn b_at(base: u32, k: u32, n: u32) -> f32 {
  if (TRANS_B) {
    return src1[base + n * p.K + k];
  }
  return src1[base + k * p.N + n];
}

@compute @workgroup_size(8, 8, 1)
fn partial(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.z / p.slices;
  let s = wg.z % p.slices;
  let aBase = b * p.strideA;
  let bBase = b * p.strideB;
  let m0 = (wg.y * 8u + lid.y) * 4u;
  let n0 = (wg.x * 8u + lid.x) * 4u;
  if (m0 >= p.M || n0 >= p.N) {
    return;
  }
  let mLast = p.M - 1u;
  let nLast = p.N - 1u;
  let r0 = m0;
  let r1 = min(m0 + 1u, mLast);
  let r2 = min(m0 + 2u, mLast);
  let r3 = min(m0 + 3u, mLast);
  let c0 = n0;
  let c1 = min(n0 + 1u, nLast);
  let c2 = min(n0 + 2u, nLast);
  let c3 = min(n0 + 3u, nLast);
  let kBegin = s * p.kChunk;
  let kEnd = min(p.K, kBegin + p.kChunk);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = kBegin; k < kEnd; k++) {
    let bv = vec4<f32>(b_at(bBase, k, c0), b_at(bBase, k, c1), b_at(bBase, k, c2), b_at(bBase, k, c3));
    acc0 = fma(vec4<f32>(a_at(aBase, r0, k)), bv, acc0);
    acc1 = fma(vec4<f32>(a_at(aBase, r1, k)), bv, acc1);
    acc2 = fma(vec4<f32>(a_at(aBase, r2, k)), bv, acc2);
    acc3 = fma(vec4<f32>(a_at(aBase, r3, k)), bv, acc3);
  }
  let pBase = (b * p.slices + s) * p.M * p.N;
  let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m < p.M) {
      for (var j = 0u; j < 4u; j++) {
        if (n0 + j < p.N) {
          dst[pBase + m * p.N + n0 + j] = rows[i][j];
        }
      }
    }
  }
}

@compute @workgroup_size(64, 1, 1)
fn reduce(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let idx = (wg.y * p.gridX + wg.x) * 64u + lid.x;
  let mn = p.M * p.N;
  if (idx >= p.batch * mn) {
    return;
  }
  let b = idx / mn;
  let e = idx % mn;
  var sum = 0.0;
  for (var s = 0u; s < p.slices; s++) {
    sum = sum + src0[(b * p.slices + s) * mn + e];
  }
  if (HAS_BIAS) {
    sum = sum + src1[e % p.N];
  }
  if (ACT == 1u) {
    sum = max(sum, 0.0);
  }
  if (ACCUMULATE) {
    sum = sum + dst[idx];
  }
  dst[idx] = sum;
}
