// The page's files for `lplr serve` and the browser checks: built in memory with esbuild from
// harness/web (the same options as `npm run build:web`), or read from a prebuilt dist/web/
// when esbuild is not installed (a published package without dev dependencies).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { packageRoot, packageVersion } from '../run/run-dir.js';
import { WEB_STATIC_FILES, webBuildOptions } from './bundle-options.mjs';

/** File name (flat, e.g. 'app.js') → contents. */
export type WebBundle = Map<string, Uint8Array>;

/** The files a page needs at least. */
export const REQUIRED_PAGE_FILES = ['index.html', 'app.js', 'app.css', 'style.css'];

export async function buildWebBundle(root: string = packageRoot()): Promise<WebBundle> {
  const { build } = await import('esbuild');
  const outdir = path.join(root, 'dist', 'web');
  const result = await build({ ...webBuildOptions(root, packageVersion()), outdir, write: false });
  const files: WebBundle = new Map();
  for (const f of result.outputFiles ?? []) files.set(path.basename(f.path), f.contents);
  for (const f of WEB_STATIC_FILES) files.set(path.basename(f), fs.readFileSync(path.join(root, f)));
  return files;
}

/** Every plain file of a folder built by `npm run build:web`. */
export function readWebBundle(dir: string): WebBundle {
  const files: WebBundle = new Map();
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) files.set(entry.name, fs.readFileSync(path.join(dir, entry.name)));
  }
  const missing = REQUIRED_PAGE_FILES.filter((f) => !files.has(f));
  if (missing.length > 0) throw new ConfigError(`${dir} lacks ${missing.join(', ')}; rebuild it with 'npm run build:web'.`);
  return files;
}

/** Build from the sources when esbuild is there, else use dist/web. */
export async function loadWebBundle(root: string = packageRoot()): Promise<{ files: WebBundle; origin: string }> {
  try {
    return { files: await buildWebBundle(root), origin: 'built from harness/web' };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw e;
    const dist = path.join(root, 'dist', 'web');
    if (!fs.existsSync(dist)) {
      throw new ConfigError("The page is not built and esbuild is missing to build it: run 'npm install' and 'npm run build:web' in the lplr folder.");
    }
    return { files: readWebBundle(dist), origin: dist };
  }
}
