// The #import line of shaders/ (scripts/wgsl-import.mjs): resolved against the importing file,
// then shaders/; each file once per shader; a missing file is an error naming it. The kernels
// the engine registers are the assembled texts, and a kernel's autotune version hashes them,
// so editing a prelude invalidates the tuned entries of every kernel that imports it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { assembleWgslFile, assembleWgslSource, uniformStructWgsl } from '../scripts/wgsl-import.mjs';
import { shaderNames, shaderSource } from '../src/gpu/shaders.js';
import { fnv1a, kernelVersion } from '../src/kernels/chooser.js';
import { MATMUL_FAMILY } from '../src/kernels/matmul.js';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

describe('#import', () => {
  it('inlines files once, nested, relative to the importer or shaders/', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-wgsl-'));
    try {
      fs.mkdirSync(path.join(dir, 'lib'));
      fs.writeFileSync(path.join(dir, 'lib', 'a.wgsl'), '#import "b.wgsl"\nfn a() {}\n');
      fs.writeFileSync(path.join(dir, 'lib', 'b.wgsl'), 'fn b() {}\n');
      fs.writeFileSync(path.join(dir, 'main.wgsl'), '// header\n#import "lib/a.wgsl"\n#import "lib/b.wgsl"\n#import "prelude/flat_index.wgsl"\nfn main() {}\n');
      const { text, files } = assembleWgslFile(path.join(dir, 'main.wgsl'));
      expect(text.startsWith('// header\nfn b() {}\nfn a() {}\n// (lib/b.wgsl imported above)\n')).toBe(true);
      expect(text).toContain('fn flat_index(');
      expect(text).not.toMatch(/#import/);
      expect(files.map((f) => path.basename(f))).toEqual(['a.wgsl', 'b.wgsl', 'flat_index.wgsl']);
      expect(() => assembleWgslSource('#import "nowhere.wgsl"\n', path.join(dir, 'x.wgsl'))).toThrow(/#import "nowhere.wgsl" names no file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the registered kernels are assembled, and a matmul version hashes the prelude it imports', () => {
    for (const name of shaderNames()) expect(shaderSource(name), name).not.toMatch(/^\s*#import/m);
    const prelude = fs.readFileSync(path.join(REPO_ROOT, 'shaders', 'prelude', 'matmul_epilogue.wgsl'), 'utf8');
    const epilogue = prelude.slice(prelude.indexOf('fn epilogue('));
    for (const k of ['register', 'small']) {
      const [file] = MATMUL_FAMILY.variants.get(k)!.shaders;
      expect(shaderSource(file)).toContain(epilogue.trim());
      expect(kernelVersion(MATMUL_FAMILY, k)).toBe(fnv1a(shaderSource(file)));
    }
  });

  it('a .json import is a uniform schema: its struct Params and the binding of p, or an error naming the fix', () => {
    const text = uniformStructWgsl({ about: 'a test block', fields: ['n: u32 // how many', 'scale: f32', '_p0: u32', '_p1: u32', 'shape: array<vec4<u32>, 2>'] }, 'uniforms/t.json');
    expect(text).toBe(
      '// Params from uniforms/t.json: a test block\nstruct Params {\n  // how many\n  n: u32,\n  scale: f32,\n  _p0: u32,\n  _p1: u32,\n  shape: array<vec4<u32>, 2>,\n}\n\n@group(0) @binding(0) var<uniform> p: Params;',
    );
    expect(() => uniformStructWgsl({ fields: ['n: u32', 'shape: array<vec4<u32>, 2>'] }, 'x.json')).toThrow(/shape \(an array of vec4\) starts at byte 4; pad the fields before it/);
    expect(() => uniformStructWgsl({ fields: ['n: vec2<u32>'] }, 'x.json')).toThrow(/x.json: field "n: vec2<u32>" is not "name: type"/);
    expect(() => uniformStructWgsl({}, 'x.json')).toThrow(/needs a non-empty "fields" list/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-wgsl-'));
    try {
      fs.writeFileSync(path.join(dir, 'u.json'), JSON.stringify({ fields: ['n: u32', 'alpha: f32', '_p0: u32', '_p1: u32'] }));
      fs.writeFileSync(path.join(dir, 'k.wgsl'), '// k\n#import "u.json"\nfn main() {}\n');
      const { text: k, files } = assembleWgslFile(path.join(dir, 'k.wgsl'));
      expect(k).toContain('struct Params {\n  n: u32,\n  alpha: f32,');
      expect(k).toContain('@group(0) @binding(0) var<uniform> p: Params;\nfn main() {}');
      expect(files.map((f) => path.basename(f))).toEqual(['u.json']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
