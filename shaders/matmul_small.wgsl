// matmul_small.wgsl — matmul for small outputs with long rows (e.g. N = 1, the MLP's last
// layer [samples, W]·[W, 1], or a few columns): one workgroup per element of C, whose 64
// invocations share the K loop and combine by a fixed-shape tree in workgroup memory.
// Determinism: lane l sums k = l, l+64, l+128, ... ascending; the tree adds fixed pairs.
// Layout: as matmul.wgsl (row-major f32; TRANS_A: A is [K,M]; TRANS_B: B is [N,K]; a batch
//   stride of 0 broadcasts).
// Workgroup 64. Grid: (N, min(M, gridY), batch·ceil(M / gridY)) — element (m, n) of batch b
//   from wg.x = n, wg.y + gridY·(wg.z % mBlocks) = m, b = wg.z / mBlocks.
// Bindings: 0 uniform Params, 1 A, 2 B, 3 bias (a dummy when !HAS_BIAS), 4 C: 4 storage
//   (Params, bias, C and the epilogue: prelude/matmul_contract.wgsl).

#import "prelude/matmul_contract.wgsl"
#import "prelude/matmul_operands.wgsl"
#import "prelude/matmul_epilogue.wgsl"

var<workgroup> partials: array<f32, 64>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // Params.aux carries the grid's row count.
  let gridY = p.aux;
  let mBlocks = (p.M + gridY - 1u) / gridY;
  let b = wg.z / mBlocks;
  let m = wg.y + gridY * (wg.z % mBlocks);
  let n = wg.x;
  let inside = m < p.M;
  let mm = min(m, p.M - 1u);
  let aBase = b * p.strideA;
  let bBase = b * p.strideB;
  var s = 0.0;
  for (var k = lid.x; k < p.K; k += 64u) {
    s = fma(a_at(aBase, mm, k), b_at(bBase, k, n), s);
  }
  partials[lid.x] = s;
  workgroupBarrier();
  for (var width = 32u; width > 0u; width = width >> 1u) {
    if (lid.x < width) {
      partials[lid.x] = partials[lid.x] + partials[lid.x + width];
    }
    workgroupBarrier();
  }
  if (lid.x == 0u && inside) {
    epilogue(b * p.strideC + m * p.N + n, n, partials[0]);
  }
}
