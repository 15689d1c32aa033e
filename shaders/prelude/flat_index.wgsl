// prelude/flat_index.wgsl — the 1-D index of an invocation of a 256-wide workgroup in a grid
// that folds past the per-dimension cap into y: gid.x + gid.y · 256 · num_workgroups.x.

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * 256u;
}
