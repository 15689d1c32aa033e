// prelude/out_in3.wgsl — the binding set of conv2d.wgsl and batchnorm.wgsl: the file's Params
// at 0, one output (read_write) at 1 and up to three inputs at 2..4, named by role per entry
// point in the file's header.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read> in2: array<f32>;
@group(0) @binding(4) var<storage, read> in3: array<f32>;
