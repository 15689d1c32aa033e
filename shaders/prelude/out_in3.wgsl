// prelude/out_in3.wgsl — the storage bindings of conv2d.wgsl and batchnorm.wgsl (their Params
// at 0 come from their uniform schema): one output (read_write) at 1 and up to three inputs at
// 2..4, named by role per entry point in the file's header.

@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read> in2: array<f32>;
@group(0) @binding(4) var<storage, read> in3: array<f32>;
