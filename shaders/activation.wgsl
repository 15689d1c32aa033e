// activation.wgsl — activation functions and their derivatives, pointwise on flat f32.
// Entry points (workgroup 256x1x1; 1-D index = gid.x + gid.y * 256 * num_workgroups.x):
//   forward   y = act(x)                 bindings 1 x, 2 y            (2 storage)
//   backward  dx = dy * act'(x)          bindings 1 x, 2 dy, 3 dx     (3 storage)
// ACT: 0 relu, 1 leaky_relu (slope p.alpha), 2 tanh, 3 sigmoid, 4 gelu (erf form, as
// PyTorch's default), 5 softplus (log(1 + e^x), overflow-safe).

#import "uniforms/activation.json"
@group(0) @binding(1) var<storage, read> x: array<f32>;
// forward: y at 2; backward: dy at 2, dx at 3.
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

override ACT: u32 = 0u;

const INV_SQRT2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): WGSL has no erf builtin.
fn erf_approx(x: f32) -> f32 {
  let s = sign(x);
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return s * y;
}

#import "prelude/logistic.wgsl"

// tanh accurate to a few ulp everywhere. Backends may evaluate the builtin as
// (e^2x − 1)/(e^2x + 1), which loses relative accuracy near 0 (Mesa: 1.7e-5 at x = 1e-3,
// worse below): use the odd Taylor series up to x^9 there (error < 1e-8 for |x| < 0.25).
fn tanh_accurate(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.25) {
    let x2 = x * x;
    return x * (1.0 + x2 * (-0.3333333333 + x2 * (0.1333333333 + x2 * (-0.0539682540 + x2 * 0.0218694885))));
  }
  if (a > 10.0) {
    return sign(x);
  }
  return sign(x) * (1.0 - 2.0 / (exp(2.0 * a) + 1.0));
}

fn act(x: f32) -> f32 {
  switch ACT {
    case 0u: { return max(x, 0.0); }
    case 1u: { return select(p.alpha * x, x, x > 0.0); }
    case 2u: { return tanh_accurate(x); }
    case 3u: { return sigmoid(x); }
    case 4u: { return 0.5 * x * (1.0 + erf_approx(x * INV_SQRT2)); }
    case 5u: { return max(x, 0.0) + log1p_unit(exp(-abs(x))); }
    default: { return x; }
  }
}

fn act_grad(x: f32) -> f32 {
  switch ACT {
    case 0u: { return select(0.0, 1.0, x > 0.0); }
    case 1u: { return select(p.alpha, 1.0, x > 0.0); }
    case 2u: { let t = tanh_accurate(x); return 1.0 - t * t; }
    case 3u: { let s = sigmoid(x); return s * (1.0 - s); }
    case 4u: { return 0.5 * (1.0 + erf_approx(x * INV_SQRT2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x); }
    case 5u: { return sigmoid(x); }
    default: { return 1.0; }
  }
}

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) {
    return;
  }
  y[i] = act(x[i]);
}

@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) {
    return;
  }
  dx[i] = dy[i] * act_grad(x[i]);
}
