// batchnorm.wgsl — 2-D batch normalization over NCHW f32 tensors, per channel c over
// the N = B·H·W values x[b, c, :, :]: y = (x − mean)·invstd·gamma + beta.
// Statistics are saved as `saved` [3C]: mean, invstd = 1/sqrt(var + eps) with the biased
// variance, and the unbiased variance (for the running estimate, as PyTorch does).
// Bindings (at most 4 storage; the output first so every entry binds a prefix 1..n):
//   0 uniform Params, 1 out (read_write), 2 in1, 3 in2, 4 in3 (read).
// Entry points:
//   stats       training statistics, one workgroup (256) per channel; two passes over x:
//               the mean, then Σ(x − mean)² (stable, no E[x²] − E[x]²); fixed-order trees.
//               out saved, in1 x. Grid C workgroups (x·y folded).
//   eval_stats  saved from the running estimates. out saved, in1 running_mean, in2 running_var.
//               Workgroup 256, one invocation per channel.
//   update      dst[i] = a·dst[i] + b·src[offset + i] + cc for i < total (running-stat
//               momentum updates and the num_batches_tracked increment). out dst, in1 src.
//   fold        coef [2C] = (gamma·invstd, beta). out coef, in1 saved, in2 gamma, in3 beta.
//   apply       y = (x − mean)·coef[c] + coef[C + c]. out y, in1 x, in2 saved, in3 coef.
//               Workgroup 256, 1-D over B·C·H·W.
//   bwd_reduce  per channel: red[c] = Σ dy (dbeta), red[C + c] = Σ dy·x̂ (dgamma),
//               x̂ = (x − mean)·invstd; one workgroup (256) per channel, fixed-order trees.
//               out red [2C], in1 x, in2 dy, in3 saved.
//   bwd_coef    per channel coefficients of dx = k·dy + u·(x − mean) + v, k = gamma·invstd;
//               training (batch statistics): u = −k·invstd·dgamma/N, v = −k·dbeta/N;
//               eval (running statistics are constants): u = v = 0. Stored as
//               coef [4C] = (k, u, v, mean). out coef, in1 saved, in2 gamma, in3 red.
//   bwd_apply   dx = k·dy + u·(x − mean) + v. out dx, in1 dy, in2 x, in3 coef. 1-D.
//   apply4, bwd_apply4  the same per element, four consecutive values (one channel, since
//               H·W % 4 == 0) per invocation through vec4 views of out, in1, in2: llvmpipe
//               runs every storage access per lane, so the per-channel coefficients are
//               loaded and the channel index divided out once per four values. 1-D over
//               B·C·H·W/4. Bit-identical to apply / bwd_apply.
// 1-D entries use index = gid.x + gid.y·256·num_workgroups.x.
// stats and bwd_reduce walk each channel's values r = t, t + 256, … with the image b and
// the in-plane offset carried from one step to the next rather than divided out per value
// (per-lane integer division is slow on llvmpipe); the order of the sums is unchanged.

#import "uniforms/batchnorm.json"

#import "prelude/out_in3.wgsl"

override TRAINING: bool = true;

const WG: u32 = 256u;
var<workgroup> sumA: array<f32, 256>;
var<workgroup> sumB: array<f32, 256>;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// Pairwise tree over sumA (and sumB when both); every invocation of the workgroup calls it.
fn tree_a(t: u32) {
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) {
      sumA[t] = sumA[t] + sumA[t + s];
    }
    workgroupBarrier();
  }
}

fn tree_ab(t: u32) {
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) {
      sumA[t] = sumA[t] + sumA[t + s];
      sumB[t] = sumB[t] + sumB[t + s];
    }
    workgroupBarrier();
  }
}

// The values of channel c in the order r = t, t + WG, t + 2·WG, … (r < B·H·W): value r is
// x[b, c, q] with b = r / hw, q = r % hw; `index` is its flat index. Each step adds WG to r,
// that is `images` whole images and `values` values with one carry: the two divisions happen
// once per walk (walk_start), none per value.
struct ChannelWalk {
  index: u32,
  q: u32,
  left: u32, // values of the channel still to visit, counting this one
  images: u32, // WG / hw
  values: u32, // WG % hw
}

fn walk_start(c: u32, t: u32) -> ChannelWalk {
  let n = p.batch * p.hw;
  let images = WG / p.hw;
  let values = WG % p.hw;
  if (t >= n) {
    return ChannelWalk(0u, 0u, 0u, images, values);
  }
  let b = t / p.hw;
  let q = t % p.hw;
  return ChannelWalk((b * p.c + c) * p.hw + q, q, (n - t + WG - 1u) / WG, images, values);
}

fn walk_next(w: ChannelWalk) -> ChannelWalk {
  let plane = p.c * p.hw; // from one image's channel c to the next image's
  var q = w.q + w.values;
  var index = w.index + w.images * plane + w.values;
  if (q >= p.hw) {
    q -= p.hw;
    index += plane - p.hw;
  }
  return ChannelWalk(index, q, w.left - 1u, w.images, w.values);
}

@compute @workgroup_size(256)
fn stats(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let c = wg.x + wg.y * nwg.x;
  if (c >= p.c) {
    return; // uniform per workgroup: the barriers below are never split
  }
  let n = p.batch * p.hw;
  let start = walk_start(c, t);
  var acc = 0.0;
  for (var w = start; w.left > 0u; w = walk_next(w)) {
    acc = acc + in1[w.index];
  }
  sumA[t] = acc;
  tree_a(t);
  let mean = sumA[0] / f32(n);
  workgroupBarrier(); // everyone has read sumA[0] before it is overwritten
  var sq = 0.0;
  for (var w = start; w.left > 0u; w = walk_next(w)) {
    let d = in1[w.index] - mean;
    sq = fma(d, d, sq);
  }
  sumA[t] = sq;
  tree_a(t);
  if (t == 0u) {
    let ss = sumA[0];
    out[c] = mean;
    out[p.c + c] = inverseSqrt(ss / f32(n) + p.eps);
    out[2u * p.c + c] = ss / f32(max(n, 2u) - 1u);
  }
}

@compute @workgroup_size(256)
fn eval_stats(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = flat_index(gid, nwg);
  if (c >= p.c) {
    return;
  }
  out[c] = in1[c];
  out[p.c + c] = inverseSqrt(in2[c] + p.eps);
  out[2u * p.c + c] = in2[c];
}

@compute @workgroup_size(256)
fn update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  out[i] = p.a * out[i] + p.b * in1[p.offset + i] + p.cc;
}

@compute @workgroup_size(256)
fn fold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = flat_index(gid, nwg);
  if (c >= p.c) {
    return;
  }
  out[c] = in2[c] * in1[p.c + c];
  out[p.c + c] = in3[c];
}

@compute @workgroup_size(256)
fn apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let c = (i / p.hw) % p.c;
  out[i] = fma(in1[i] - in2[c], in3[c], in3[p.c + c]);
}

@compute @workgroup_size(256)
fn bwd_reduce(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let c = wg.x + wg.y * nwg.x;
  if (c >= p.c) {
    return; // uniform per workgroup
  }
  let mean = in3[c];
  let invstd = in3[p.c + c];
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var w = walk_start(c, t); w.left > 0u; w = walk_next(w)) {
    let i = w.index;
    let g = in2[i];
    sdy = sdy + g;
    sdyx = fma(g, (in1[i] - mean) * invstd, sdyx);
  }
  sumA[t] = sdy;
  sumB[t] = sdyx;
  tree_ab(t);
  if (t == 0u) {
    out[c] = sumA[0];
    out[p.c + c] = sumB[0];
  }
}

@compute @workgroup_size(256)
fn bwd_coef(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = flat_index(gid, nwg);
  if (c >= p.c) {
    return;
  }
  let mean = in1[c];
  let invstd = in1[p.c + c];
  let k = in2[c] * invstd;
  var u = 0.0;
  var v = 0.0;
  if (TRAINING) {
    let n = f32(p.batch * p.hw);
    u = -k * invstd * in3[p.c + c] / n;
    v = -k * in3[c] / n;
  }
  out[c] = k;
  out[p.c + c] = u;
  out[2u * p.c + c] = v;
  out[3u * p.c + c] = mean;
}

@compute @workgroup_size(256)
fn bwd_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let c = (i / p.hw) % p.c;
  out[i] = in3[c] * in1[i] + in3[p.c + c] * (in2[i] - in3[3u * p.c + c]) + in3[2u * p.c + c];
}

// Vec4 views for apply4 / bwd_apply4 (aliases of bindings 1..3; H·W % 4 == 0).
@group(0) @binding(1) var<storage, read_write> out_4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> in1_4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> in2_4: array<vec4<f32>>;

// The channel of vec4 number i (H·W % 4 == 0, so a vec4 never straddles two planes).
fn quad_channel(i: u32) -> u32 {
  return (i / (p.hw / 4u)) % p.c;
}

@compute @workgroup_size(256)
fn apply4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total / 4u) {
    return;
  }
  let c = quad_channel(i);
  let mean = vec4<f32>(in2[c]);
  let scale = vec4<f32>(in3[c]);
  let shift = vec4<f32>(in3[p.c + c]);
  out_4[i] = fma(in1_4[i] - mean, scale, shift);
}

@compute @workgroup_size(256)
fn bwd_apply4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total / 4u) {
    return;
  }
  let c = quad_channel(i);
  let k = in3[c];
  let u = in3[p.c + c];
  let v = in3[2u * p.c + c];
  let mean = in3[3u * p.c + c];
  out_4[i] = vec4<f32>(k) * in1_4[i] + vec4<f32>(u) * (in2_4[i] - vec4<f32>(mean)) + vec4<f32>(v);
}
