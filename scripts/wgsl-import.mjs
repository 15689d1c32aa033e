// WGSL has no includes, so shaders/ uses one directive of its own, on a line by itself:
//   #import "prelude/matmul_epilogue.wgsl"
// which stands for that file's text (resolved against the importing file's folder, then
// against shaders/), each file at most once per shader. A .json file is a uniform schema
// (shaders/uniforms/): it stands for the `struct Params` it declares and the binding of that
// block at @group(0) @binding(0) as `p`, so the layout is written once; the TypeScript side
// packs it by field name from the same struct (src/gpu/uniform.ts UniformLayout). The esbuild step (build.mjs, the page
// bundle, test bundles) and vitest's loader (vitest.config.ts) both assemble through this
// module, so nothing generated is checked in; bench/user-kernel.ts assembles a user's kernel
// the same way, so it can import the preludes too. Plain JavaScript: build.mjs loads it as is.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's shaders/ folder: the second place an import is looked up. */
export const SHADERS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'shaders');

const IMPORT_LINE = /^[ \t]*#import[ \t]+"([^"]+)"[ \t]*;?[ \t]*$/gm;

/**
 * `source` (of the file `file`, or of no file) with every #import line replaced by the
 * imported file's assembled text. Returns the text and the files it read.
 */
export function assembleWgslSource(source, file, seen = new Set()) {
  const files = [];
  const text = source.replace(IMPORT_LINE, (_line, name) => {
    const candidates = [...(file ? [resolve(dirname(file), name)] : []), join(SHADERS_DIR, name)];
    const found = candidates.find((p) => existsSync(p));
    if (!found) throw new Error(`${file ?? 'WGSL source'}: #import "${name}" names no file (looked in ${candidates.join(', ')}).`);
    if (seen.has(found)) return `// (${name} imported above)`;
    seen.add(found);
    if (found.endsWith('.json')) {
      files.push(found);
      return uniformStructWgsl(JSON.parse(readFileSync(found, 'utf8')), found.startsWith(SHADERS_DIR) ? found.slice(SHADERS_DIR.length + 1) : found);
    }
    const inner = assembleWgslSource(readFileSync(found, 'utf8'), found, seen);
    files.push(found, ...inner.files);
    return inner.text.replace(/\n$/, '');
  });
  return { text, files };
}

const FIELD = /^([A-Za-z_]\w*)\s*:\s*(u32|i32|f32|array<vec4<(?:u32|i32|f32)>,\s*(\d+)>)\s*(?:\/\/\s*(.*))?$/;

/**
 * The WGSL of a uniform schema `{ "about": "...", "fields": ["name: type // note", ...] }`:
 * its struct Params (fields in order; types u32, i32, f32 or array<vec4<T>, N>, the arrays
 * 16-byte aligned) and the block's binding, `p` at @group(0) @binding(0).
 */
export function uniformStructWgsl(schema, file = 'uniform schema') {
  const fields = schema?.fields;
  if (!Array.isArray(fields) || fields.length === 0) throw new Error(`${file}: a uniform schema needs a non-empty "fields" list of "name: type" strings.`);
  const lines = [];
  let offset = 0;
  for (const f of fields) {
    const m = typeof f === 'string' ? FIELD.exec(f.trim()) : null;
    if (!m) throw new Error(`${file}: field ${JSON.stringify(f)} is not "name: type" with type u32, i32, f32 or array<vec4<u32|i32|f32>, N>.`);
    const [, name, type, count, note] = m;
    if (count !== undefined && offset % 16 !== 0) throw new Error(`${file}: ${name} (an array of vec4) starts at byte ${offset}; pad the fields before it to a multiple of 16 bytes.`);
    if (note) lines.push(`  // ${note}`);
    lines.push(`  ${name}: ${type},`);
    offset += count === undefined ? 4 : 16 * Number(count);
  }
  const about = `// Params from ${file}${schema.about ? `: ${schema.about}` : ''}\n`;
  return `${about}struct Params {\n${lines.join('\n')}\n}\n\n@group(0) @binding(0) var<uniform> p: Params;`;
}

/** The assembled text of a .wgsl file. */
export function assembleWgslFile(file) {
  return assembleWgslSource(readFileSync(file, 'utf8'), file);
}

/** esbuild plugin: .wgsl files import as their assembled text (in place of the `text` loader). */
export function wgslPlugin() {
  return {
    name: 'lplr-wgsl',
    setup(build) {
      build.onLoad({ filter: /\.wgsl$/ }, (args) => {
        const { text, files } = assembleWgslFile(args.path);
        return { contents: text, loader: 'text', watchFiles: files };
      });
    },
  };
}
