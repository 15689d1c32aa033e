// prelude/matmul_contract.wgsl — what matmul.wgsl, matmul_register.wgsl and matmul_small.wgsl
// share: the Params block (packed by src/kernels/matmul.ts from this struct) and the transpose
// and epilogue overrides. Each kernel adds its own A and B bindings (f32 or vec4 views);
// prelude/matmul_epilogue.wgsl has the bias and C bindings and the epilogue.

#import "uniforms/matmul.json"

#import "prelude/matmul_overrides.wgsl"
