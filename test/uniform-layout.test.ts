// Uniform blocks are declared once, as WGSL structs; UniformLayout reads a struct and packs by
// field name. Its bytes equal a hand-written packing in declaration order, and it refuses
// missing, unknown and unpackable fields.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { shaderNames, shaderSource } from '../src/gpu/shaders.js';
import { UniformLayout, paramsLayout, uniform } from '../src/gpu/uniform.js';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

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

  it('packs arrays of vec4 from a list padded with zeros, and words() matches the bytes', () => {
    const b = paramsLayout('broadcast');
    const bytes = b.pack({ n: 12, rank: 2, shape: [3, 4], strideA: [4, 1], strideB: [0, 1], strideC: [] });
    const hand = uniform().u32(12).u32(2).u32(0).u32(0).u32s([3, 4], 8).u32s([4, 1], 8).u32s([0, 1], 8).u32s([], 8).bytes();
    expect([...bytes]).toEqual([...hand]);
    expect(() => b.pack({ n: 1, rank: 1, shape: [1, 2, 3, 4, 5, 6, 7, 8, 9], strideA: [], strideB: [], strideC: [] })).toThrow(/shape holds 8 values, got 9/);
    const t = paramsLayout('conv2d_texture');
    const vals = Object.fromEntries(t.fields.filter((f) => !f.name.startsWith('_')).map((f, i) => [f.name, f.name === 'tapStepY' ? -3 : i + 1]));
    const words = t.words(vals);
    const packed = t.pack(vals);
    expect(words).toEqual([...new Int32Array(packed.buffer, packed.byteOffset, packed.byteLength / 4)]);
    expect(words[12]).toBe(-3);
  });

  it('every kernel with a uniform block takes its Params from one schema in shaders/uniforms', () => {
    const schemas = fs.readdirSync(path.join(REPO_ROOT, 'shaders', 'uniforms'));
    for (const name of shaderNames()) {
      const files = [path.join(REPO_ROOT, 'shaders', `${name}.wgsl`)];
      const src = shaderSource(name);
      if (!/var<uniform>/.test(src)) continue;
      // The struct is generated: no .wgsl file in shaders/ spells out a Params block.
      expect(fs.readFileSync(files[0], 'utf8'), name).not.toMatch(/struct\s+Params\b/);
      const from = /\/\/ Params from uniforms\/(\w+)\.json/.exec(src);
      expect(from, name).not.toBeNull();
      expect(schemas).toContain(`${from![1]}.json`);
      expect(paramsLayout(name).fields.length, name).toBeGreaterThan(0);
    }
    for (const f of fs.readdirSync(path.join(REPO_ROOT, 'shaders', 'prelude'))) {
      expect(fs.readFileSync(path.join(REPO_ROOT, 'shaders', 'prelude', f), 'utf8'), f).not.toMatch(/struct\s+Params\b/);
    }
  });
});
