// Compatibility limits: every entry point of every shader, in every specialization the
// ops use, makes a pipeline under the adapter's limits (rt.checkPipeline) and binds at
// most 4 storage buffers (WebGPU compatibility mode's default per stage). The storage
// bindings an entry uses are found by parsing the WGSL (declarations, functions, calls),
// and cross-checked by building the bind group that rt.dispatch would build.
import { describe, expect, it } from 'vitest';
import type { KernelSpec } from '../src/entry-node.js';
import { shaderNames, shaderSource } from '../src/gpu/shaders.js';
import { useGpu } from './helpers/gpu.js';

const COMPAT_STORAGE_BUFFERS = 4;

interface WgslGlobal {
  name: string;
  binding: number;
  kind: 'storage' | 'uniform' | 'texture';
}

interface WgslFunction {
  name: string;
  body: string;
  /** Parameters and local let/var/const names (they shadow globals). */
  locals: Set<string>;
  isEntry: boolean;
}

interface WgslOverride {
  name: string;
  type: string;
}

interface ParsedShader {
  globals: Map<string, WgslGlobal>;
  functions: Map<string, WgslFunction>;
  overrides: Map<string, WgslOverride>;
}

function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
}

/** A small WGSL reader: module-scope bindings, overrides, and function bodies. */
function parseWgsl(source: string): ParsedShader {
  const src = stripComments(source);
  const globals = new Map<string, WgslGlobal>();
  for (const m of src.matchAll(/@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var<\s*(storage|uniform)[^>]*>\s*(\w+)/g)) {
    globals.set(m[3], { name: m[3], binding: Number(m[1]), kind: m[2] as 'storage' | 'uniform' });
  }
  // Texture-sourced variants (sampled and storage textures) bind outside rt.dispatch's contract.
  for (const m of src.matchAll(/@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s+(\w+)\s*:\s*texture_/g)) {
    globals.set(m[2], { name: m[2], binding: Number(m[1]), kind: 'texture' });
  }
  const overrides = new Map<string, WgslOverride>();
  for (const m of src.matchAll(/override\s+(\w+)\s*:\s*(\w+)/g)) overrides.set(m[1], { name: m[1], type: m[2] });
  const functions = new Map<string, WgslFunction>();
  for (const m of src.matchAll(/(@compute[^;{]*?)?\bfn\s+(\w+)\s*\(/g)) {
    const name = m[2];
    const open = src.indexOf('{', m.index! + m[0].length);
    const signature = src.slice(m.index! + m[0].length, open);
    let depth = 0;
    let end = open;
    for (; end < src.length; end++) {
      if (src[end] === '{') depth++;
      else if (src[end] === '}' && --depth === 0) break;
    }
    const body = src.slice(open, end + 1);
    const locals = new Set<string>();
    for (const p of signature.matchAll(/(\w+)\s*:/g)) locals.add(p[1]);
    for (const l of body.matchAll(/\b(?:let|var|const)\s+(\w+)/g)) locals.add(l[1]);
    functions.set(name, { name, body, locals, isEntry: Boolean(m[1]) });
  }
  return { globals, functions, overrides };
}

/** Globals and overrides an entry point reaches through its call graph. */
function reachable(shader: ParsedShader, entry: string): { globals: WgslGlobal[]; overrides: WgslOverride[] } {
  const seen = new Set<string>();
  const usedGlobals = new Map<string, WgslGlobal>();
  const usedOverrides = new Map<string, WgslOverride>();
  const stack = [entry];
  while (stack.length) {
    const fname = stack.pop()!;
    if (seen.has(fname)) continue;
    seen.add(fname);
    const fn = shader.functions.get(fname)!;
    // Identifiers, not member accesses (gid.y is not the storage buffer y).
    for (const m of fn.body.matchAll(/(?<![.\w])([A-Za-z_]\w*)\b/g)) {
      const id = m[1];
      if (fn.locals.has(id)) continue;
      if (shader.functions.has(id)) stack.push(id);
      const g = shader.globals.get(id);
      if (g) usedGlobals.set(id, g);
      const o = shader.overrides.get(id);
      if (o) usedOverrides.set(id, o);
    }
  }
  return { globals: [...usedGlobals.values()], overrides: [...usedOverrides.values()] };
}

// Values of u32 override constants that the ops pass (src/ops/*); other u32 overrides
// keep their defaults, booleans take both values.
const U32_OVERRIDE_VALUES: Record<string, Record<string, number[]>> = {
  elementwise: { OP: [0, 1, 2, 3, 4, 5, 6, 7] },
  broadcast: { OP: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100] },
  activation: { ACT: [0, 1, 2, 3, 4, 5] },
  reduce: { OP: [0, 1, 2, 3] },
  matmul: { ACT: [0, 1] },
};

function specializations(shader: string, entry: string, overrides: WgslOverride[]): KernelSpec[] {
  let combos: Record<string, number>[] = [{}];
  for (const o of overrides) {
    const values = o.type === 'bool' ? [0, 1] : U32_OVERRIDE_VALUES[shader]?.[o.name];
    if (!values) continue; // default value
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [o.name]: v })));
  }
  return combos.map((c) => ({ shader, entry, overrides: c }));
}

describe('every pipeline fits compatibility-mode limits', () => {
  const gpu = useGpu();

  it('the WGSL reader finds what the headers document (sanity check of the parser)', () => {
    const matmul = parseWgsl(shaderSource('matmul'));
    const reg = reachable(matmul, 'main_tiled');
    expect(reg.globals.filter((g) => g.kind === 'storage').map((g) => g.binding).sort()).toEqual([1, 2, 3, 4]);
    expect(reg.overrides.map((o) => o.name).sort()).toEqual(['ACCUMULATE', 'ACT', 'HAS_BIAS', 'TRANS_A', 'TRANS_B']);
    const act = parseWgsl(shaderSource('activation'));
    // forward binds x, y; backward x, dy, dx (y and dy share binding 2).
    expect(reachable(act, 'forward').globals.filter((g) => g.kind === 'storage').length).toBe(2);
    expect(reachable(act, 'backward').globals.filter((g) => g.kind === 'storage').map((g) => g.name).sort()).toEqual(['dx', 'dy', 'x']);
  });

  for (const shader of shaderNames()) {
    it(`${shader}.wgsl: every entry point and specialization`, async () => {
      const rt = gpu.rt();
      const parsed = parseWgsl(shaderSource(shader));
      const entries = [...parsed.functions.values()].filter((f) => f.isEntry);
      expect(entries.length, `${shader}.wgsl has no @compute entry point`).toBeGreaterThan(0);
      const made: GPUBuffer[] = [];
      const buffer = (usage: number): GPUBuffer => {
        const b = rt.device.createBuffer({ size: 4096, usage });
        made.push(b);
        return b;
      };
      try {
        for (const entry of entries) {
          const { globals, overrides } = reachable(parsed, entry.name);
          const storage = globals.filter((g) => g.kind === 'storage');
          const bindings = new Set(storage.map((g) => g.binding));
          const where = `${shader}.wgsl:${entry.name}`;
          expect(bindings.size, `${where} binds ${bindings.size} storage buffers`).toBeLessThanOrEqual(COMPAT_STORAGE_BUFFERS);
          expect(bindings.size).toBeLessThanOrEqual(rt.limits.maxStorageBuffersPerShaderStage);
          // rt.dispatch binds the uniform at 0 and storage at 1..n: check the entry uses
          // exactly that (the uniform, and storage bindings 1..n without holes).
          expect(globals.some((g) => g.kind === 'uniform' && g.binding === 0), `${where} must use the uniform at binding 0`).toBe(true);
          const textures = globals.filter((g) => g.kind === 'texture');
          if (textures.length > 0) {
            // Texture variants encode their own bind groups: check compilation and the limits only.
            expect(new Set([...bindings, ...textures.map((t) => t.binding)]).size, `${where} bindings are unique`).toBe(bindings.size + textures.length);
            for (const spec of specializations(shader, entry.name, overrides)) await rt.checkPipeline(spec);
            continue;
          }
          expect([...bindings].sort((a, b) => a - b), `${where} storage bindings`).toEqual([...Array(bindings.size).keys()].map((i) => i + 1));

          for (const spec of specializations(shader, entry.name, overrides)) {
            await rt.checkPipeline(spec);
            // The bind group rt.dispatch would create for this pipeline must validate.
            const layout = rt.pipeline(spec).getBindGroupLayout(0);
            rt.device.pushErrorScope('validation');
            rt.device.createBindGroup({
              layout,
              entries: [
                { binding: 0, resource: { buffer: buffer(0x0040 | 0x0008), size: 256 } },
                ...[...bindings].map((b) => ({ binding: b, resource: { buffer: buffer(0x0080) } })),
              ],
            });
            const err = await rt.device.popErrorScope();
            expect(err?.message, `${where} ${JSON.stringify(spec.overrides)}: bind group`).toBeUndefined();
            for (const b of made.splice(0)) b.destroy();
          }
        }
      } finally {
        for (const b of made) b.destroy();
      }
      expect(rt.ctx.takeError()).toBeUndefined();
    });
  }
});
