// prelude/matmul_contract.wgsl — what matmul.wgsl, matmul_register.wgsl and matmul_small.wgsl
// share: the Params block (packed by src/kernels/matmul.ts from this struct), the bias and C
// bindings, the transpose and epilogue overrides, and the epilogue itself. Each kernel adds
// its own A and B bindings (f32 or vec4 views).

struct Params {
  M: u32,
  N: u32,
  K: u32,
  batch: u32,
  strideA: u32,
  strideB: u32,
  strideC: u32,
  // matmul_small: rows of the grid (gridY); unused by the others.
  aux: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

#import "prelude/matmul_overrides.wgsl"

// C[idx] (column n) = v (+ bias[n]) (ReLU) (+ the old C[idx]).
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
