// conv2d.wgsl — 2-D convolution (cross-correlation, as in PyTorch), forward and backward.
// Layout NCHW, row-major f32: x [B, Cin, H, W], w [Cout, Cin, kh, kw], bias [Cout],
// y [B, Cout, Ho, Wo] with Ho = (H + 2·pad − kh)/stride + 1 (floor), same for Wo.
// Zero padding, dilation 1, groups 1.
//
// Bindings (at most 4 storage buffers): 0 uniform Params, 1 out (read_write), then the
// inputs in1, in2, in3 (read) at 2, 3, 4. The output comes first so that every entry binds
// a contiguous prefix 1..n (the runtime binds regions in order) whatever its input count.
//
// GEMM view. Forward: M = B·Ho·Wo output pixels, N = Cout, K = Cin·kh·kw, with
// A[m, k] = x at the input position that pixel m sees through tap k (0 in the padding)
// and B[k, n] = w[n, k]. Nothing is materialized: A's indices are computed on the fly.
//
// Entry points:
//   fwd_implicit    y = A·B (+ bias).  in1 x, in2 w, in3 bias (dummy unless HAS_BIAS), out y.
//                   Workgroup 8x8, each invocation a 4x4 block (4 pixels x 4 channels) held
//                   in registers (like matmul.wgsl's main_register).
//                   Grid (ceil(Cout/32), mTiles folded into y·z), mTiles = ceil(M/32).
//   dgrad_implicit  dx as implicit GEMMs over dy and the transposed, flipped kernel: input
//                   pixel (ih, iw) takes dy[oh, ow] through tap (ky, kx) when
//                   ih + pad − ky = oh·stride (same for w). Split by stride phase so that no
//                   iteration is wasted: phase (ry, rx) is a GEMM with M = its input pixels,
//                   N = Cin, K = Cout·(taps ky ≡ ry, kx ≡ rx mod stride).
//                   in1 dy, in2 w, out dx. Workgroup 8x8, 4x4 blocks; grid (ceil(Cin/32),
//                   mTiles, stride²·zFold) with z = phase + stride²·(fold of the M tiles).
//   wgrad_partial   split-K weight gradient: dW[co, k] = Σ_r dy[r, co]·A[r, k] over
//                   r = (b, oh, ow), the R = B·Ho·Wo rows cut into `splits` chunks of
//                   `chunk` rows; split s writes its partial sum to out[s·Cout·K + co·K + k].
//                   in1 x, in2 dy, out partial (or dW itself when splits = 1). Workgroup 8x8,
//                   each invocation 4 output channels x 4 taps; grid (ceil(K/32), ceil(Cout/32), splits).
//   wgrad_reduce    dW[i] = Σ_s partial[s·Cout·K + i], s ascending (fixed order, no atomics).
//                   in1 partial, out dW. Workgroup 256, 1-D over Cout·K.
//   bias_grad       db[co] = Σ over (b, oh, ow) of dy; one workgroup of 256 per channel,
//                   strided partial sums then a pairwise tree. in1 dy, out db. Grid Cout (x·y folded).
//   add_bias        y[b, co, :, :] += bias[co] in place (after im2col+matmul). in1 bias, out y.
//   im2col          cols[b, k, p] = A[(b, p), k] for p = oh·Wo + ow, laid out [B, K, Ho·Wo] so
//                   that w·cols[b] is y[b] directly. in1 x, out cols. Workgroup 256, 1-D.
//   gather_1x1      im2col of a 1x1 kernel (any stride and padding): cols [B, Cin, Ho·Wo], four
//                   pixels of one row per invocation. in1 x, out cols. Workgroup 64; grid
//                   (ceil(Ho·ceil(Wo/4) / 64), B·Cin planes folded into y·z).
//   gather_1x1_s2   the same for stride 2, no padding, even H, W % 8 == 0, through vec4 views
//                   (aliases of bindings 1 and 2). Workgroup 256, 1-D over B·Cin·Ho·Wo/4.
//   fwd_1x1_s2      forward of a 1x1 stride-2 unpadded kernel with Cin % 4 == 0, W % 16 == 0:
//                   the gather fused into a register-blocked GEMM (8 channels x 8 pixels per
//                   invocation) through vec4 views of x, w and y. in1 x, in2 w, in3 bias, out y.
//                   Workgroup 8x4; grid (ceil(Ho·Wo/64), ceil(Cout/32), B).
//   col2im          dx[b, ci, ih, iw] = Σ_{taps} dcols[b, k, p], the adjoint of im2col
//                   (a gather: no atomics). in1 dcols, out dx. Workgroup 256, 1-D.
//   fwd_direct      one invocation per output element looping over Cin·kh·kw (reference and
//                   benchmark baseline). in1 x, in2 w, in3 bias, out y. Workgroup 256, 1-D.
//   dgrad_direct    one invocation per input element looping over Cout·kh·kw. in1 dy, in2 w, out dx.
//   wgrad_direct    one invocation per weight looping over B·Ho·Wo. in1 x, in2 dy, out dW.
// 1-D entries use index = gid.x + gid.y·256·num_workgroups.x (grids past 65535 fold into y).

#import "uniforms/conv2d.json"

#import "prelude/out_in3.wgsl"

override HAS_BIAS: bool = false;

#import "prelude/flat_index.wgsl"

// ------------------------------------------------------------------ implicit GEMMs

@compute @workgroup_size(8, 8, 1)
fn fwd_implicit(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let hw = p.h * p.w;
  let howo = p.ho * p.wo;
  let M = p.batch * howo;
  let N = p.cout;
  let K = p.cin * p.kh * p.kw;
  let m0 = ((wg.y + wg.z * nwg.y) * 8u + lid.y) * 4u;
  let n0 = (wg.x * 8u + lid.x) * 4u;
  if (m0 >= M || n0 >= N) {
    return;
  }
  // Per pixel row i: where its window starts in the input and where its outputs go.
  // Rows and columns past the edge are clamped for loading and skipped on store.
  var xBase: vec4<i32>;
  var ih0: vec4<i32>;
  var iw0: vec4<i32>;
  var yBase: vec4<u32>;
  for (var i = 0u; i < 4u; i++) {
    let m = min(m0 + i, M - 1u);
    let b = m / howo;
    let r = m % howo;
    let oh = r / p.wo;
    let ow = r % p.wo;
    xBase[i] = i32(b * p.cin * hw);
    ih0[i] = i32(oh * p.stride) - i32(p.pad);
    iw0[i] = i32(ow * p.stride) - i32(p.pad);
    yBase[i] = b * p.cout * howo + r;
  }
  let wRow = vec4<u32>(min(n0, N - 1u), min(n0 + 1u, N - 1u), min(n0 + 2u, N - 1u), min(n0 + 3u, N - 1u)) * K;
  let H = i32(p.h);
  let W = i32(p.w);
  var acc: array<vec4<f32>, 4>;
  var k = 0u;
  for (var ci = 0u; ci < p.cin; ci++) {
    let plane = xBase + vec4<i32>(i32(ci * hw));
    for (var ky = 0u; ky < p.kh; ky++) {
      let ih = ih0 + vec4<i32>(i32(ky));
      let rowOk = (ih >= vec4<i32>(0)) & (ih < vec4<i32>(H));
      let rowOff = plane + ih * W;
      for (var kx = 0u; kx < p.kw; kx++) {
        let iw = iw0 + vec4<i32>(i32(kx));
        let ok = rowOk & (iw >= vec4<i32>(0)) & (iw < vec4<i32>(W));
        let idx = vec4<u32>(select(vec4<i32>(0), rowOff + iw, ok));
        let a = select(vec4<f32>(0.0), vec4<f32>(in1[idx.x], in1[idx.y], in1[idx.z], in1[idx.w]), ok);
        let bv = vec4<f32>(in2[wRow.x + k], in2[wRow.y + k], in2[wRow.z + k], in2[wRow.w + k]);
        acc[0] = fma(vec4<f32>(a.x), bv, acc[0]);
        acc[1] = fma(vec4<f32>(a.y), bv, acc[1]);
        acc[2] = fma(vec4<f32>(a.z), bv, acc[2]);
        acc[3] = fma(vec4<f32>(a.w), bv, acc[3]);
        k++;
      }
    }
  }
  for (var i = 0u; i < 4u; i++) {
    if (m0 + i >= M) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n < N) {
        var v = acc[i][j];
        if (HAS_BIAS) {
          v = v + in3[n];
        }
        out[yBase[i] + n * howo] = v;
      }
    }
  }
}

@compute @workgroup_size(8, 8, 1)
fn dgrad_implicit(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = p.stride;
  let hw = p.h * p.w;
  let howo = p.ho * p.wo;
  let khkw = p.kh * p.kw;
  // Phase (ry, rx): the input pixels with (ih + pad) ≡ ry and (iw + pad) ≡ rx (mod stride).
  // Only taps ky ≡ ry, kx ≡ rx reach them, each from output (ih + pad − ky)/stride, so every
  // iteration below is useful work and needs no division.
  let phase = wg.z % (s * s);
  let ry = phase / s;
  let rx = phase % s;
  let ih0 = (ry + s - p.pad % s) % s; // first input row of the phase
  let iw0 = (rx + s - p.pad % s) % s;
  let hp = select(0u, (p.h - ih0 + s - 1u) / s, ih0 < p.h);
  let wp = select(0u, (p.w - iw0 + s - 1u) / s, iw0 < p.w);
  let M = p.batch * hp * wp;
  let N = p.cin;
  let m0 = ((wg.y + (wg.z / (s * s)) * nwg.y) * 8u + lid.y) * 4u;
  let n0 = (wg.x * 8u + lid.x) * 4u;
  if (m0 >= M || n0 >= N) {
    return;
  }
  var dyBase: vec4<i32>;
  var ohTop: vec4<i32>;
  var owTop: vec4<i32>;
  var dxBase: vec4<u32>;
  for (var i = 0u; i < 4u; i++) {
    let m = min(m0 + i, M - 1u);
    let b = m / (hp * wp);
    let t = m % (hp * wp);
    let ih = ih0 + (t / wp) * s;
    let iw = iw0 + (t % wp) * s;
    dyBase[i] = i32(b * p.cout * howo);
    // The output row/column reached through tap ry (rx); tap ry + j·stride reaches ohTop − j.
    ohTop[i] = i32((ih + p.pad - ry) / s);
    owTop[i] = i32((iw + p.pad - rx) / s);
    dxBase[i] = b * p.cin * hw + ih * p.w + iw;
  }
  // Column j reads w[co, n_j, ky, kx]: the kernel transposed over (Cout, Cin).
  let wCol = vec4<u32>(min(n0, N - 1u), min(n0 + 1u, N - 1u), min(n0 + 2u, N - 1u), min(n0 + 3u, N - 1u)) * khkw;
  let Ho = vec4<i32>(i32(p.ho));
  let Wo = vec4<i32>(i32(p.wo));
  let zero = vec4<i32>(0);
  var acc: array<vec4<f32>, 4>;
  for (var co = 0u; co < p.cout; co++) {
    let plane = dyBase + vec4<i32>(i32(co * howo));
    let wCo = co * p.cin * khkw;
    var oh = ohTop;
    for (var ky = ry; ky < p.kh; ky += s) {
      let rowOk = (oh >= zero) & (oh < Ho);
      let rowOff = plane + oh * Wo;
      var ow = owTop;
      for (var kx = rx; kx < p.kw; kx += s) {
        let ok = rowOk & (ow >= zero) & (ow < Wo);
        let idx = vec4<u32>(select(zero, rowOff + ow, ok));
        let a = select(vec4<f32>(0.0), vec4<f32>(in1[idx.x], in1[idx.y], in1[idx.z], in1[idx.w]), ok);
        let t = wCo + ky * p.kw + kx;
        let bv = vec4<f32>(in2[wCol.x + t], in2[wCol.y + t], in2[wCol.z + t], in2[wCol.w + t]);
        acc[0] = fma(vec4<f32>(a.x), bv, acc[0]);
        acc[1] = fma(vec4<f32>(a.y), bv, acc[1]);
        acc[2] = fma(vec4<f32>(a.z), bv, acc[2]);
        acc[3] = fma(vec4<f32>(a.w), bv, acc[3]);
        ow = ow - vec4<i32>(1);
      }
      oh = oh - vec4<i32>(1);
    }
  }
  for (var i = 0u; i < 4u; i++) {
    if (m0 + i >= M) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n < N) {
        out[dxBase[i] + n * hw] = acc[i][j];
      }
    }
  }
}

@compute @workgroup_size(8, 8, 1)
fn wgrad_partial(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let hw = p.h * p.w;
  let howo = p.ho * p.wo;
  let khkw = p.kh * p.kw;
  let K = p.cin * khkw;
  let R = p.batch * howo;
  let co0 = (wg.y * 8u + lid.y) * 4u;
  let k0 = (wg.x * 8u + lid.x) * 4u;
  let split = wg.z;
  let r0 = split * p.chunk;
  if (co0 >= p.cout || k0 >= K || r0 >= R) {
    return;
  }
  let r1 = min(R, r0 + p.chunk);
  // Each invocation's 4 taps are fixed: decode them once.
  var tapPlane: vec4<i32>;
  var tapY: vec4<i32>;
  var tapX: vec4<i32>;
  for (var j = 0u; j < 4u; j++) {
    let k = min(k0 + j, K - 1u);
    let ci = k / khkw;
    let t = k % khkw;
    tapPlane[j] = i32(ci * hw);
    tapY[j] = i32(t / p.kw) - i32(p.pad);
    tapX[j] = i32(t % p.kw) - i32(p.pad);
  }
  let coOff = vec4<u32>(min(co0, p.cout - 1u), min(co0 + 1u, p.cout - 1u), min(co0 + 2u, p.cout - 1u), min(co0 + 3u, p.cout - 1u)) * howo;
  let H = vec4<i32>(i32(p.h));
  let W = vec4<i32>(i32(p.w));
  let zero = vec4<i32>(0);
  // Walk the rows (b, oh, ow) of this split in order, carrying the position.
  var b = r0 / howo;
  var oh = (r0 % howo) / p.wo;
  var ow = r0 % p.wo;
  var acc: array<vec4<f32>, 4>;
  for (var r = r0; r < r1; r++) {
    let dyIdx = b * p.cout * howo + oh * p.wo + ow;
    let a = vec4<f32>(in2[dyIdx + coOff.x], in2[dyIdx + coOff.y], in2[dyIdx + coOff.z], in2[dyIdx + coOff.w]);
    let ih = tapY + vec4<i32>(i32(oh * p.stride));
    let iw = tapX + vec4<i32>(i32(ow * p.stride));
    let ok = (ih >= zero) & (ih < H) & (iw >= zero) & (iw < W);
    let idx = vec4<u32>(select(zero, vec4<i32>(i32(b * p.cin * hw)) + tapPlane + ih * W + iw, ok));
    let bv = select(vec4<f32>(0.0), vec4<f32>(in1[idx.x], in1[idx.y], in1[idx.z], in1[idx.w]), ok);
    acc[0] = fma(vec4<f32>(a.x), bv, acc[0]);
    acc[1] = fma(vec4<f32>(a.y), bv, acc[1]);
    acc[2] = fma(vec4<f32>(a.z), bv, acc[2]);
    acc[3] = fma(vec4<f32>(a.w), bv, acc[3]);
    ow++;
    if (ow == p.wo) {
      ow = 0u;
      oh++;
      if (oh == p.ho) {
        oh = 0u;
        b++;
      }
    }
  }
  let base = split * p.cout * K;
  for (var i = 0u; i < 4u; i++) {
    let co = co0 + i;
    if (co >= p.cout) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let k = k0 + j;
      if (k < K) {
        out[base + co * K + k] = acc[i][j];
      }
    }
  }
}

@compute @workgroup_size(256)
fn wgrad_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  var s = 0.0;
  for (var split = 0u; split < p.splits; split++) {
    s = s + in1[split * p.total + i];
  }
  out[i] = s;
}

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn bias_grad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let co = wg.x + wg.y * nwg.x;
  if (co >= p.cout) {
    return; // uniform per workgroup: the barriers below are never split
  }
  let howo = p.ho * p.wo;
  let R = p.batch * howo;
  var acc = 0.0;
  for (var r = t; r < R; r += 256u) {
    let b = r / howo;
    acc = acc + in1[(b * p.cout + co) * howo + r % howo];
  }
  partial[t] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (t < s) {
      partial[t] = partial[t] + partial[t + s];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    out[co] = partial[0];
  }
}

@compute @workgroup_size(256)
fn add_bias(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let co = (i / (p.ho * p.wo)) % p.cout;
  out[i] = out[i] + in1[co];
}

// ------------------------------------------------------------------ 1x1 gather

// cols[b, ci, oh, ow] = x[b, ci, oh·stride − pad, ow·stride − pad] (0 in the padding): the
// im2col of a 1x1 kernel, with one division per four pixels. Invocation (gid.x, plane) does
// PIXELS_PER_LANE adjacent pixels of one output row; gid.x runs over rows·ceil(Wo/PIXELS_PER_LANE)
// of a plane (b, ci), planes over y·z. Grid (ceil(Ho·quads / 64), planes folded into y·z).
const PIXELS_PER_LANE = 4u;

@compute @workgroup_size(64)
fn gather_1x1(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let quads = (p.wo + PIXELS_PER_LANE - 1u) / PIXELS_PER_LANE;
  let plane = gid.y + gid.z * nwg.y;
  if (gid.x >= p.ho * quads || plane >= p.batch * p.cin) {
    return;
  }
  let oh = gid.x / quads;
  let ow0 = (gid.x - oh * quads) * PIXELS_PER_LANE;
  let ih = i32(oh * p.stride) - i32(p.pad);
  let rowInside = ih >= 0 && ih < i32(p.h);
  let src = i32(plane * p.h * p.w) + ih * i32(p.w);
  let dst = (plane * p.ho + oh) * p.wo;
  for (var j = 0u; j < PIXELS_PER_LANE; j++) {
    let ow = ow0 + j;
    if (ow < p.wo) {
      let iw = i32(ow * p.stride) - i32(p.pad);
      var v = 0.0;
      if (rowInside && iw >= 0 && iw < i32(p.w)) {
        v = in1[u32(src + iw)];
      }
      out[dst + ow] = v;
    }
  }
}

// Vec4 views of out and in1 for gather_1x1_s2 and fwd_1x1_s2 (aliases: no entry uses both
// views of a binding).
@group(0) @binding(1) var<storage, read_write> out_4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> in1_4: array<vec4<f32>>;

// gather_1x1 for stride 2, no padding, H even and W % 8 == 0: four output pixels are the even
// lanes of two aligned input vec4s, so each invocation does two vec4 loads and one vec4 store
// (llvmpipe runs storage accesses per lane: a quarter as many as the scalar form). Output row
// r = plane·Ho + oh comes from input row 2r (H = 2·Ho), so one index runs over all
// quads of all rows: 1-D grid of p.total = B·Cin·Ho·Wo/4 invocations, workgroup 256.
@compute @workgroup_size(256)
fn gather_1x1_s2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let quads = p.wo / 4u;
  let r = i / quads;
  let src = r * (p.w / 2u) + 2u * (i - r * quads);
  let lo = in1_4[src];
  let hi = in1_4[src + 1u];
  out_4[i] = vec4<f32>(lo.x, lo.z, hi.x, hi.z);
}

// Vec4 view of in2 for fwd_1x1_s2 (the weight, Cin % 4 == 0).
@group(0) @binding(3) var<storage, read> in2_4: array<vec4<f32>>;

// Eight pixels of one output row, one input channel (a Pair): the even lanes of four aligned vec4s.
#import "prelude/fma_chain.wgsl"

fn pixel_row(at: u32) -> Pair {
  let v0 = in1_4[at];
  let v1 = in1_4[at + 1u];
  let v2 = in1_4[at + 2u];
  let v3 = in1_4[at + 3u];
  return Pair(vec4<f32>(v0.x, v0.z, v1.x, v1.z), vec4<f32>(v2.x, v2.z, v3.x, v3.z));
}

fn store_pixels(co: u32, b: u32, n0: u32, r: Pair) {
  if (co >= p.cout) {
    return;
  }
  var lo = r.lo;
  var hi = r.hi;
  if (HAS_BIAS) {
    lo += vec4<f32>(in3[co]);
    hi += vec4<f32>(in3[co]);
  }
  let at = ((b * p.cout + co) * p.ho * p.wo + n0) / 4u;
  out_4[at] = lo;
  out_4[at + 1u] = hi;
}

// Forward of a 1x1 stride-2 unpadded convolution with Cin % 4 == 0 and W % 16 == 0, the
// gather fused into the GEMM's loads: y[b] = W [Cout, Cin] · X[b] [Cin, Ho·Wo] with
// X[b][ci, oh·Wo + ow] = x[b, ci, 2·oh, 2·ow]. Wo % 8 == 0, so the eight pixels of an
// invocation lie in one output row and are the even lanes of four aligned vec4s of x.
// Each invocation 8 output channels x 8 pixels in registers (as matmul_register.wgsl);
// ascending ci for every output. Workgroup 8x4 (x: pixels, y: channels), a tile of 64
// pixels x 32 channels; grid (ceil(Ho·Wo/64), ceil(Cout/32), B). in1 x, in2 w, in3 bias.
@compute @workgroup_size(8, 4, 1)
fn fwd_1x1_s2(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let P = p.ho * p.wo;
  let n0 = (wg.x * 8u + lid.x) * 8u;
  let co0 = (wg.y * 4u + lid.y) * 8u;
  if (n0 >= P || co0 >= p.cout) {
    return;
  }
  let b = wg.z;
  let oh = n0 / p.wo;
  let ow0 = n0 - oh * p.wo;
  // x[b, 0, 2·oh, 2·ow0] in vec4s, and the step between channels.
  let plane4 = p.h * p.w / 4u;
  let x0 = b * p.cin * plane4 + (2u * oh * p.w + 2u * ow0) / 4u;
  // Weight rows of the eight channels (clamped; results past Cout are not stored), in vec4s.
  let cin4 = p.cin / 4u;
  let last = p.cout - 1u;
  let w0 = co0 * cin4;
  let w1 = min(co0 + 1u, last) * cin4;
  let w2 = min(co0 + 2u, last) * cin4;
  let w3 = min(co0 + 3u, last) * cin4;
  let w4 = min(co0 + 4u, last) * cin4;
  let w5 = min(co0 + 5u, last) * cin4;
  let w6 = min(co0 + 6u, last) * cin4;
  let w7 = min(co0 + 7u, last) * cin4;
  // Channel i's eight pixels: indexed by constants only, so they stay in registers.
  var r: array<Pair, 8>;
  for (var k4 = 0u; k4 < cin4; k4++) {
    let xk = x0 + 4u * k4 * plane4;
    let c0 = pixel_row(xk);
    let c1 = pixel_row(xk + plane4);
    let c2 = pixel_row(xk + 2u * plane4);
    let c3 = pixel_row(xk + 3u * plane4);
    r[0] = pair_fma4(r[0], in2_4[w0 + k4], c0, c1, c2, c3);
    r[1] = pair_fma4(r[1], in2_4[w1 + k4], c0, c1, c2, c3);
    r[2] = pair_fma4(r[2], in2_4[w2 + k4], c0, c1, c2, c3);
    r[3] = pair_fma4(r[3], in2_4[w3 + k4], c0, c1, c2, c3);
    r[4] = pair_fma4(r[4], in2_4[w4 + k4], c0, c1, c2, c3);
    r[5] = pair_fma4(r[5], in2_4[w5 + k4], c0, c1, c2, c3);
    r[6] = pair_fma4(r[6], in2_4[w6 + k4], c0, c1, c2, c3);
    r[7] = pair_fma4(r[7], in2_4[w7 + k4], c0, c1, c2, c3);
  }
  store_pixels(co0, b, n0, r[0]);
  store_pixels(co0 + 1u, b, n0, r[1]);
  store_pixels(co0 + 2u, b, n0, r[2]);
  store_pixels(co0 + 3u, b, n0, r[3]);
  store_pixels(co0 + 4u, b, n0, r[4]);
  store_pixels(co0 + 5u, b, n0, r[5]);
  store_pixels(co0 + 6u, b, n0, r[6]);
  store_pixels(co0 + 7u, b, n0, r[7]);
}

// ------------------------------------------------------------------ explicit im2col

@compute @workgroup_size(256)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let howo = p.ho * p.wo;
  let khkw = p.kh * p.kw;
  let K = p.cin * khkw;
  let px = i % howo;
  let k = (i / howo) % K;
  let b = i / (howo * K);
  let ci = k / khkw;
  let ky = (k % khkw) / p.kw;
  let kx = k % p.kw;
  let ih = i32((px / p.wo) * p.stride + ky) - i32(p.pad);
  let iw = i32((px % p.wo) * p.stride + kx) - i32(p.pad);
  var v = 0.0;
  if (ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w)) {
    v = in1[((b * p.cin + ci) * p.h + u32(ih)) * p.w + u32(iw)];
  }
  out[i] = v;
}

@compute @workgroup_size(256)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let hw = p.h * p.w;
  let howo = p.ho * p.wo;
  let khkw = p.kh * p.kw;
  let iw = i % p.w;
  let ih = (i / p.w) % p.h;
  let ci = (i / hw) % p.cin;
  let b = i / (hw * p.cin);
  let colBase = (b * p.cin + ci) * khkw * howo;
  var s = 0.0;
  for (var ky = 0u; ky < p.kh; ky++) {
    let ohNum = i32(ih + p.pad) - i32(ky);
    if (ohNum < 0 || u32(ohNum) % p.stride != 0u || u32(ohNum) / p.stride >= p.ho) {
      continue;
    }
    let oh = u32(ohNum) / p.stride;
    for (var kx = 0u; kx < p.kw; kx++) {
      let owNum = i32(iw + p.pad) - i32(kx);
      if (owNum < 0 || u32(owNum) % p.stride != 0u || u32(owNum) / p.stride >= p.wo) {
        continue;
      }
      let ow = u32(owNum) / p.stride;
      s = s + in1[colBase + (ky * p.kw + kx) * howo + oh * p.wo + ow];
    }
  }
  out[i] = s;
}

// ------------------------------------------------------------------ direct (reference)

@compute @workgroup_size(256)
fn fwd_direct(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let ow = i % p.wo;
  let oh = (i / p.wo) % p.ho;
  let co = (i / (p.wo * p.ho)) % p.cout;
  let b = i / (p.wo * p.ho * p.cout);
  var s = 0.0;
  for (var ci = 0u; ci < p.cin; ci++) {
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
        let xv = in1[((b * p.cin + ci) * p.h + u32(ih)) * p.w + u32(iw)];
        s = fma(xv, in2[((co * p.cin + ci) * p.kh + ky) * p.kw + kx], s);
      }
    }
  }
  if (HAS_BIAS) {
    s = s + in3[co];
  }
  out[i] = s;
}

@compute @workgroup_size(256)
fn dgrad_direct(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let iw = i % p.w;
  let ih = (i / p.w) % p.h;
  let ci = (i / (p.w * p.h)) % p.cin;
  let b = i / (p.w * p.h * p.cin);
  var s = 0.0;
  for (var co = 0u; co < p.cout; co++) {
    for (var ky = 0u; ky < p.kh; ky++) {
      let ohNum = i32(ih + p.pad) - i32(ky);
      if (ohNum < 0 || u32(ohNum) % p.stride != 0u || u32(ohNum) / p.stride >= p.ho) {
        continue;
      }
      let oh = u32(ohNum) / p.stride;
      for (var kx = 0u; kx < p.kw; kx++) {
        let owNum = i32(iw + p.pad) - i32(kx);
        if (owNum < 0 || u32(owNum) % p.stride != 0u || u32(owNum) / p.stride >= p.wo) {
          continue;
        }
        let ow = u32(owNum) / p.stride;
        let g = in1[((b * p.cout + co) * p.ho + oh) * p.wo + ow];
        s = fma(g, in2[((co * p.cin + ci) * p.kh + ky) * p.kw + kx], s);
      }
    }
  }
  out[i] = s;
}

@compute @workgroup_size(256)
fn wgrad_direct(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let kx = i % p.kw;
  let ky = (i / p.kw) % p.kh;
  let ci = (i / (p.kw * p.kh)) % p.cin;
  let co = i / (p.kw * p.kh * p.cin);
  var s = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    for (var oh = 0u; oh < p.ho; oh++) {
      let ih = i32(oh * p.stride + ky) - i32(p.pad);
      if (ih < 0 || ih >= i32(p.h)) {
        continue;
      }
      for (var ow = 0u; ow < p.wo; ow++) {
        let iw = i32(ow * p.stride + kx) - i32(p.pad);
        if (iw < 0 || iw >= i32(p.w)) {
          continue;
        }
        let xv = in1[((b * p.cin + ci) * p.h + u32(ih)) * p.w + u32(iw)];
        s = fma(xv, in2[((b * p.cout + co) * p.ho + oh) * p.wo + ow], s);
      }
    }
  }
  out[i] = s;
}
