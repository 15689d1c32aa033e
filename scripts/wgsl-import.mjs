// WGSL has no includes, so shaders/ uses one directive of its own, on a line by itself:
//   #import "prelude/matmul_epilogue.wgsl"
// which stands for that file's text (resolved against the importing file's folder, then
// against shaders/), each file at most once per shader. The esbuild step (build.mjs, the page
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
    const inner = assembleWgslSource(readFileSync(found, 'utf8'), found, seen);
    files.push(found, ...inner.files);
    return inner.text.replace(/\n$/, '');
  });
  return { text, files };
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
