// prelude/logistic.wgsl — overflow-safe logistic helpers shared by activation.wgsl (sigmoid,
// softplus) and loss.wgsl (BCE with logits).

// log(1 + u) for u in [0, 1] with full relative accuracy for small u (WGSL has no log1p;
// log(1.0 + u) returns 0 once u < 2^-24): a series below 1/16 (error < 1e-8 relative).
fn log1p_unit(u: f32) -> f32 {
  if (u < 0.0625) {
    return u * (1.0 + u * (-0.5 + u * (0.3333333333 + u * (-0.25 + u * (0.2 + u * -0.1666666667)))));
  }
  return log(1.0 + u);
}

fn sigmoid(x: f32) -> f32 {
  // Never exp of a large positive number.
  if (x >= 0.0) {
    return 1.0 / (1.0 + exp(-x));
  }
  let e = exp(x);
  return e / (1.0 + e);
}
