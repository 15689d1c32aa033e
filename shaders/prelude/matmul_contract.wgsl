// prelude/matmul_contract.wgsl — what matmul.wgsl, matmul_register.wgsl and matmul_small.wgsl
// share: the Params block (packed by src/kernels/matmul.ts from this struct) and the transpose
// and epilogue overrides. Each kernel adds its own A and B bindings (f32 or vec4 views);
// prelude/matmul_epilogue.wgsl has the bias and C bindings and the epilogue.

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

#import "prelude/matmul_overrides.wgsl"
