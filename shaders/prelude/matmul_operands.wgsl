// prelude/matmul_operands.wgsl — A and B as f32 arrays at bindings 1 and 2 and their readers
// through the transposes: a_at = op(A)[m, k], b_at = op(B)[k, n] of the batch at `base`.
// Shared by matmul.wgsl, matmul_small.wgsl and matmul_splitk.wgsl's partial pass; needs a
// Params p with M, N, K and the TRANS_ overrides (prelude/matmul_overrides.wgsl).

@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;

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
