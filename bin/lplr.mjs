#!/usr/bin/env node
// Entry point of the `lplr` command: runs the esbuild bundle, building it first when it is
// missing or older than the sources (a fresh checkout, or after editing shaders/ or src/).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'cli.js');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (/\.(ts|wgsl|html|css)$/.test(entry.name)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const sourceDirs = ['src', 'harness', 'shaders', 'bench'].map((d) => join(root, d)).filter(existsSync);
const stale = !existsSync(bundle) || (sourceDirs.length > 0 && Math.max(...sourceDirs.map(newestSource)) > statSync(bundle).mtimeMs);
if (stale && existsSync(join(root, 'build.mjs'))) {
  const r = spawnSync(process.execPath, [join(root, 'build.mjs')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write('lplr: building the bundle failed (is esbuild installed? run npm install)\n');
    process.exit(1);
  }
}
await import(pathToFileURL(bundle).href);
