// prelude/matmul_epilogue.wgsl — the matmul epilogue with its bias and C bindings, shared by
// matmul_register.wgsl and matmul_small.wgsl (matmul.wgsl, the reference a custom kernel is
// copied from, spells it out, as prelude/matmul_operands.wgsl's readers: `lplr bench --kernel`
// checks edits of that text). Needs prelude/matmul_contract.wgsl.

@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

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
