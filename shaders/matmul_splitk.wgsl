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
#import "prelude/matmul_overrides.wgsl"
// partial: A and B at 1 and 2 (with a_at / b_at).
#import "prelude/matmul_operands.wgsl"
// partial writes P here, reduce C.
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
// reduce: P and bias at 1 and 2 (aliases of A and B; no entry uses both names).
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;

@compute @workgroup_size(8, 8, 1)
fn partial(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = (wg.y * 8u + lid.y) * 4u;
  let n0 = (wg.x * 8u + lid.x) * 4u;
  if (m0 >= p.M || n0 >= p.N) {
    return;
  }
  let b = wg.z / p.slices;
  let s = wg.z % p.slices;
  let aBase = b * p.strideA;
  let bBase = b * p.strideB;
  // The block's rows and columns, clamped to the matrix (results past the edge are dropped).
  let r = min(vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.M - 1u));
  let c = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.N - 1u));
  let kBegin = s * p.kChunk;
  let kEnd = min(p.K, kBegin + p.kChunk);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = kBegin; k < kEnd; k++) {
    let bv = vec4<f32>(b_at(bBase, k, c.x), b_at(bBase, k, c.y), b_at(bBase, k, c.z), b_at(bBase, k, c.w));
    acc0 = fma(vec4<f32>(a_at(aBase, r.x, k)), bv, acc0);
    acc1 = fma(vec4<f32>(a_at(aBase, r.y, k)), bv, acc1);
    acc2 = fma(vec4<f32>(a_at(aBase, r.z, k)), bv, acc2);
    acc3 = fma(vec4<f32>(a_at(aBase, r.w, k)), bv, acc3);
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
    sum = sum + P[(b * p.slices + s) * mn + e];
  }
  if (HAS_BIAS) {
    sum = sum + bias[e % p.N];
  }
  if (ACT == 1u) {
    sum = max(sum, 0.0);
  }
  if (ACCUMULATE) {
    sum = sum + dst[idx];
  }
  dst[idx] = sum;
}
