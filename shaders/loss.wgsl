// loss.wgsl — per-sample losses and their gradients; the mean is taken by reduce.wgsl.
// Layout: predictions/targets flat [n]; logits and probabilities [n, C] row-major;
// class labels as f32 integers. g is the upstream gradient of the (scalar) mean loss,
// read from the GPU so that backward never waits on the CPU. scale = 1/n.
// Entry points (workgroup 256x1x1, 1-D index folded over (x, y) like elementwise.wgsl):
//   mse_backward   d[i] = (pred[i] - y[i]) * g * scale     bindings 1 pred, 2 y, 3 g, 4 d (4 storage)
//   bce_forward    l[i] = max(z,0) - z*y + log(1 + e^-|z|)   bindings 1 z, 2 y, 3 l       (3 storage)
//   bce_backward   d[i] = (sigmoid(z) - y) * g * scale       bindings 1 z, 2 y, 3 g, 4 d  (4 storage)
//   ce_forward     one invocation per row: l = logsumexp(row) - row[label], max-subtracted;
//                  also writes softmax probabilities          bindings 1 logits, 2 labels, 3 l, 4 probs
//   ce_backward    d = (probs - onehot(label)) * g * scale    bindings 1 probs, 2 labels, 3 g, 4 d
// (MSE's forward is ½·mean(r²): a subtraction and a sum-of-squares reduction.)

#import "uniforms/loss.json"
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read> in2: array<f32>;
// Backward entries: g at 3, d at 4; forward entries: l at 3 (and probabilities at 4).
@group(0) @binding(3) var<storage, read> gIn: array<f32>;
@group(0) @binding(4) var<storage, read_write> dOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> lossOut: array<f32>;
@group(0) @binding(4) var<storage, read_write> probsOut: array<f32>;

#import "prelude/flat_index.wgsl"
#import "prelude/logistic.wgsl"

@compute @workgroup_size(256)
fn mse_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) {
    return;
  }
  dOut[i] = (in1[i] - in2[i]) * (gIn[0] * p.scale);
}

@compute @workgroup_size(256)
fn bce_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) {
    return;
  }
  dOut[i] = (sigmoid(in1[i]) - in2[i]) * (gIn[0] * p.scale);
}

@compute @workgroup_size(256)
fn ce_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.n * p.classes) {
    return;
  }
  let row = i / p.classes;
  let c = i % p.classes;
  let tgt = select(0.0, 1.0, u32(in2[row]) == c);
  dOut[i] = (in1[i] - tgt) * (gIn[0] * p.scale);
}

@compute @workgroup_size(256)
fn bce_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) {
    return;
  }
  let z = in1[i];
  lossOut[i] = max(z, 0.0) - z * in2[i] + log1p_unit(exp(-abs(z)));
}

@compute @workgroup_size(256)
fn ce_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = flat_index(gid, nwg);
  if (row >= p.n) {
    return;
  }
  let base = row * p.classes;
  var m = in1[base];
  for (var c = 1u; c < p.classes; c++) {
    m = max(m, in1[base + c]);
  }
  var s = 0.0;
  for (var c = 0u; c < p.classes; c++) {
    s += exp(in1[base + c] - m);
  }
  let lse = m + log(s);
  lossOut[row] = lse - in1[base + u32(in2[row])];
  for (var c = 0u; c < p.classes; c++) {
    probsOut[base + c] = exp(in1[base + c] - lse);
  }
}
