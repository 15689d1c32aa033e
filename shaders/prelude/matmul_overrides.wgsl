// prelude/matmul_overrides.wgsl — the matmul family's override constants: operand transposes and
// the epilogue (bias, activation, accumulation into C).

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
// 0 none, 1 relu
override ACT: u32 = 0u;
// Add the product to the existing C (gradient accumulation).
override ACCUMULATE: bool = false;
