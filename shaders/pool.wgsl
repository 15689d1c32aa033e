// pool.wgsl — 2-D pooling over NCHW f32 tensors, forward and backward.
// x [B, C, H, W] → y [B, C, Ho, Wo], Ho = (H + 2·pad − kh)/stride + 1 (floor, PyTorch's
// ceil_mode=False); padded positions never win a max and count toward an average only
// when COUNT_PAD (PyTorch's count_include_pad, default True).
// Bindings (at most 3 storage; the output first so every entry binds a prefix 1..n):
//   0 uniform Params, 1 out (read_write f32), 2 src (read f32), 3 argmax (read_write u32).
// Entry points (workgroup 256, 1-D index = gid.x + gid.y·256·num_workgroups.x):
//   maxpool_fwd   one invocation per output: y = window max, argmax[o] = ih·W + iw of the
//                 first maximal entry (NaN wins, like PyTorch). out y, src x, argmax written.
//   maxpool_bwd   one invocation per input element: Σ dy over the windows covering it
//                 whose argmax is this element (a gather in fixed order: no atomics).
//                 out dx, src dy, argmax read.
//   avgpool_fwd   one invocation per output: window mean. out y, src x.
//   avgpool_bwd   one invocation per input element: Σ dy/divisor over covering windows. out dx, src dy.
//   gap_bwd       global average pool backward: dx[b, c, :, :] = dy[b, c]/(H·W). out dx, src dy.
//   gap_fwd       global average pool: one workgroup (64) per (b, c) plane, strided sums
//                 then a pairwise tree. out y [B·C], src x. Grid B·C workgroups (x·y folded).

#import "uniforms/pool.json"
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;

override COUNT_PAD: bool = true;

#import "prelude/flat_index.wgsl"

// The output rows (or columns) whose window covers input row i: [lo, hi], empty when lo > hi.
fn covering(i: u32, k: u32, n: u32) -> vec2<i32> {
  let num = i32(i + p.pad);
  let s = i32(p.stride);
  // ceil((num − k + 1)/s) for a possibly negative numerator, clamped at 0.
  let loNum = num - i32(k) + 1;
  var lo = 0;
  if (loNum > 0) {
    lo = (loNum + s - 1) / s;
  }
  let hi = min(num / s, i32(n) - 1);
  return vec2<i32>(lo, hi);
}

fn divisor(oh: u32, ow: u32) -> f32 {
  if (COUNT_PAD) {
    return f32(p.kh * p.kw);
  }
  let h0 = i32(oh * p.stride) - i32(p.pad);
  let w0 = i32(ow * p.stride) - i32(p.pad);
  let rows = min(h0 + i32(p.kh), i32(p.h)) - max(h0, 0);
  let cols = min(w0 + i32(p.kw), i32(p.w)) - max(w0, 0);
  return f32(rows * cols);
}

@compute @workgroup_size(256)
fn maxpool_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = flat_index(gid, nwg);
  if (o >= p.total) {
    return;
  }
  let ow = o % p.wo;
  let oh = (o / p.wo) % p.ho;
  let plane = (o / (p.wo * p.ho)) * p.h * p.w;
  var best = 0.0;
  var bestIdx = 0xffffffffu;
  for (var ky = 0u; ky < p.kh; ky++) {
    let ih = i32(oh * p.stride + ky) - i32(p.pad);
    if (ih < 0 || ih >= i32(p.h)) {
      continue;
    }
    for (var kx = 0u; kx < p.kw; kx++) {
      let iw = i32(ow * p.stride + kx) - i32(p.pad);
      if (iw < 0 || iw >= i32(p.w)) {
        continue;
      }
      let at = u32(ih) * p.w + u32(iw);
      let v = src[plane + at];
      let bestIsNan = best != best;
      if (bestIdx == 0xffffffffu || (!bestIsNan && (v > best || v != v))) {
        best = v;
        bestIdx = at;
      }
    }
  }
  out[o] = best;
  argmax[o] = bestIdx;
}

@compute @workgroup_size(256)
fn maxpool_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let iw = i % p.w;
  let ih = (i / p.w) % p.h;
  let planeOut = (i / (p.w * p.h)) * p.ho * p.wo;
  let at = ih * p.w + iw;
  let rows = covering(ih, p.kh, p.ho);
  let cols = covering(iw, p.kw, p.wo);
  var s = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh++) {
    for (var ow = cols.x; ow <= cols.y; ow++) {
      let o = planeOut + u32(oh) * p.wo + u32(ow);
      if (argmax[o] == at) {
        s = s + src[o];
      }
    }
  }
  out[i] = s;
}

@compute @workgroup_size(256)
fn avgpool_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = flat_index(gid, nwg);
  if (o >= p.total) {
    return;
  }
  let ow = o % p.wo;
  let oh = (o / p.wo) % p.ho;
  let plane = (o / (p.wo * p.ho)) * p.h * p.w;
  var s = 0.0;
  for (var ky = 0u; ky < p.kh; ky++) {
    let ih = i32(oh * p.stride + ky) - i32(p.pad);
    if (ih < 0 || ih >= i32(p.h)) {
      continue;
    }
    for (var kx = 0u; kx < p.kw; kx++) {
      let iw = i32(ow * p.stride + kx) - i32(p.pad);
      if (iw >= 0 && iw < i32(p.w)) {
        s = s + src[plane + u32(ih) * p.w + u32(iw)];
      }
    }
  }
  out[o] = s / divisor(oh, ow);
}

@compute @workgroup_size(256)
fn avgpool_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let iw = i % p.w;
  let ih = (i / p.w) % p.h;
  let planeOut = (i / (p.w * p.h)) * p.ho * p.wo;
  let rows = covering(ih, p.kh, p.ho);
  let cols = covering(iw, p.kw, p.wo);
  var s = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh++) {
    for (var ow = cols.x; ow <= cols.y; ow++) {
      s = s + src[planeOut + u32(oh) * p.wo + u32(ow)] / divisor(u32(oh), u32(ow));
    }
  }
  out[i] = s;
}

@compute @workgroup_size(256)
fn gap_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let hw = p.h * p.w;
  out[i] = src[i / hw] / f32(hw);
}

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn gap_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let plane = wg.x + wg.y * nwg.x;
  if (plane >= p.batch * p.c) {
    return; // uniform per workgroup: the barriers below are never split
  }
  let hw = p.h * p.w;
  var acc = 0.0;
  for (var i = t; i < hw; i += 64u) {
    acc = acc + src[plane * hw + i];
  }
  partial[t] = acc;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (t < s) {
      partial[t] = partial[t] + partial[t + s];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    out[plane] = partial[0] / f32(hw);
  }
}
