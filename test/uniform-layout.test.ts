// Uniform blocks are declared once, as WGSL structs; UniformLayout reads a struct and packs by
// field name. Its bytes equal a hand-written packing in declaration order, and it refuses
// missing, unknown and unpackable fields.
import { describe, expect, it } from 'vitest';
import { shaderSource } from '../src/gpu/shaders.js';
import { UniformLayout, uniform } from '../src/gpu/uniform.js';

describe('UniformLayout', () => {
  it('packs matmul and conv2d Params as their declaration order says', () => {
    const mm = UniformLayout.fromWgsl(shaderSource('matmul'));
    expect(mm.fields.map((f) => f.name)).toEqual(['M', 'N', 'K', 'batch', 'strideA', 'strideB', 'strideC', 'aux']);
    const vals = { M: 7, N: 5, K: 3, batch: 2, strideA: 21, strideB: 0, strideC: 35, aux: 9 };
    expect([...mm.pack(vals)]).toEqual([...uniform().u32(7).u32(5).u32(3).u32(2).u32(21).u32(0).u32(35).u32(9).bytes()]);
    const conv = UniformLayout.fromWgsl(shaderSource('conv2d'));
    expect(conv.fields).toHaveLength(16);
    expect(conv.fields.at(-1)?.name.startsWith('_')).toBe(true);
  });

  it('writes f32 and negative i32 fields as their bits', () => {
    const l = UniformLayout.fromWgsl('struct Q {\n  a: f32,\n  // a comment\n  b: i32,\n  _p: u32,\n}', 'Q');
    const bytes = l.pack({ a: 0.5, b: -3 });
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(bytes.byteLength).toBe(16);
    expect(view.getFloat32(0, true)).toBe(0.5);
    expect(view.getInt32(4, true)).toBe(-3);
    expect(view.getUint32(8, true)).toBe(0);
  });

  it('names what is missing, unknown or not a scalar', () => {
    const l = UniformLayout.fromWgsl(shaderSource('matmul'));
    expect(() => l.pack({ M: 1 })).toThrow(/no value for Params\.N/);
    expect(() => l.pack({ M: 1, N: 1, K: 1, batch: 1, strideA: 0, strideB: 0, strideC: 1, aux: 0, extra: 1 })).toThrow(/no field 'extra'/);
    expect(() => UniformLayout.fromWgsl('struct Params { v: vec4<u32>, }')).toThrow(/only u32, i32 and f32/);
    expect(() => UniformLayout.fromWgsl('fn main() {}')).toThrow(/no struct Params/);
  });
});
