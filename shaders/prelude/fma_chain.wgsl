// prelude/fma_chain.wgsl — the inner step of the register-blocked kernels (matmul_register,
// matmul_texture, conv2d_texture, conv2d.wgsl fwd_1x1_s2), which all accumulate in ascending k,
// one fused multiply-add at a time: fma_chain4 adds a.x·k0, a.y·k1, a.z·k2, a.w·k3 to acc in
// that order; pair_fma4 does so for both halves of an eight-wide Pair.

fn fma_chain4(acc: vec4<f32>, a: vec4<f32>, k0: vec4<f32>, k1: vec4<f32>, k2: vec4<f32>, k3: vec4<f32>) -> vec4<f32> {
  var r = fma(vec4<f32>(a.x), k0, acc);
  r = fma(vec4<f32>(a.y), k1, r);
  r = fma(vec4<f32>(a.z), k2, r);
  return fma(vec4<f32>(a.w), k3, r);
}

// Eight values as two vec4: eight outputs of a row, or eight operand values of one k.
struct Pair {
  lo: vec4<f32>,
  hi: vec4<f32>,
}

fn pair_fma4(acc: Pair, a: vec4<f32>, b0: Pair, b1: Pair, b2: Pair, b3: Pair) -> Pair {
  return Pair(fma_chain4(acc.lo, a, b0.lo, b1.lo, b2.lo, b3.lo), fma_chain4(acc.hi, a, b0.hi, b1.hi, b2.hi, b3.hi));
}
