// select.wgsl — z = c != 0 ? a : b with NumPy broadcasting (where/select).
// Layout: flat row-major f32; output shape `shape` (rank <= 8); per-operand strides over
// the output's axes, 0 where the operand broadcasts.
// Entry point main: workgroup 256x1x1, 1-D index = gid.x + gid.y * 256 * num_workgroups.x.
// Bindings: 0 uniform, 1 c, 2 a, 3 b, 4 z (4 storage).

#import "prelude/broadcast_params.wgsl"
@group(0) @binding(1) var<storage, read> cond: array<f32>;
@group(0) @binding(2) var<storage, read> xa: array<f32>;
@group(0) @binding(3) var<storage, read> xb: array<f32>;
@group(0) @binding(4) var<storage, read_write> z: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) {
    return;
  }
  var rem = i;
  var oc = 0u;
  var oa = 0u;
  var ob = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let du = u32(d);
    let extent = pick(p.shape, du);
    let c = rem % extent;
    rem = rem / extent;
    oc += c * pick(p.strideC, du);
    oa += c * pick(p.strideA, du);
    ob += c * pick(p.strideB, du);
  }
  z[i] = select(xb[ob], xa[oa], cond[oc] != 0.0);
}
