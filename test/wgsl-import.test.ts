// The #import line of shaders/ (scripts/wgsl-import.mjs): resolved against the importing file,
// then shaders/; each file once per shader; a missing file is an error naming it. The kernels
// the engine registers are the assembled texts, and a kernel's autotune version hashes them,
// so editing a prelude invalidates the tuned entries of every kernel that imports it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { assembleWgslFile, assembleWgslSource } from '../scripts/wgsl-import.mjs';
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
});
