// optim.wgsl — fused SGD update over a flat parameter arena (one dispatch per arena chunk).
// PyTorch's SGD semantics: g' = g + wd·θ; v = μ·v + (1 − dampening)·g' (v = g' on the
// first step); step = nesterov ? g' + μ·v : v (plain g' when μ = 0); θ -= lr·step.
// Layout: θ, g, v flat f32 of length n, same arena layout.
// Entry main: workgroup 256x1x1, 1-D index folded over (x, y).
// Bindings: 0 uniform, 1 θ (rw), 2 g, 3 v (rw): 3 storage.

#import "uniforms/optim.json"
@group(0) @binding(1) var<storage, read_write> theta: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> velocity: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) {
    return;
  }
  let th = theta[i];
  var g = grad[i];
  if (p.weightDecay != 0.0) {
    g = g + p.weightDecay * th;
  }
  var step = g;
  if (p.momentum != 0.0) {
    var v = g;
    if (p.firstStep == 0u) {
      v = p.momentum * velocity[i] + (1.0 - p.dampening) * g;
    }
    velocity[i] = v;
    if (p.nesterov != 0u) {
      step = g + p.momentum * v;
    } else {
      step = v;
    }
  }
  theta[i] = th - p.lr * step;
}
