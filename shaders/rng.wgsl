// rng.wgsl — Philox4x32-10 counter-based random numbers (Salmon et al., SC'11).
// Word i of a stream is word (i mod 4) of Philox(counter = (c0 + i/4, c1, 0, 0), key),
// with (c0, c1) a 64-bit counter: the low word carries into c1, as in src/rng.ts.
// The 32x32 -> 64 bit products use 16-bit halves: only exact integer ops, so every
// adapter produces the same bits as the TypeScript reference in src/rng.ts.
// Entry points (workgroup 64x1x1, 4 words per invocation, index folded over (x, y)):
//   bits     out[i] = word i (u32)
//   uniform  out[i] = (word i >> 8) * 2^-24 in [0, 1), as f32
// Bindings: 0 uniform, 1 out: 1 storage.

#import "uniforms/rng.json"
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let al = a & 0xffffu;
  let ah = a >> 16u;
  let bl = b & 0xffffu;
  let bh = b >> 16u;
  let ll = al * bl;
  let lh = al * bh;
  let hl = ah * bl;
  let hh = ah * bh;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, a * b);
}

fn philox(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = ctr;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    if (r > 0u) {
      k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    let p0 = mulhilo(0xD2511F53u, c.x);
    let p1 = mulhilo(0xCD9E8D57u, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
  }
  return c;
}

override AS_UNIFORM: bool = false;

fn emit(i: u32, w: u32) {
  if (i < p.n) {
    if (AS_UNIFORM) {
      out[i] = bitcast<u32>(f32(w >> 8u) * (1.0 / 16777216.0));
    } else {
      out[i] = w;
    }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let block = gid.x + gid.y * nwg.x * 64u;
  let i = block * 4u;
  if (i >= p.n) {
    return;
  }
  let lo = p.c0 + block;
  let hi = p.c1 + select(0u, 1u, lo < p.c0);
  let w = philox(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(p.k0, p.k1));
  emit(i, w.x);
  emit(i + 1u, w.y);
  emit(i + 2u, w.z);
  emit(i + 3u, w.w);
}
