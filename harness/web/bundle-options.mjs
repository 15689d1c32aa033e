// esbuild options of the browser page, shared by `node build.mjs --web` (dist/web/) and
// `lplr serve` (built in memory). Plain JavaScript so build.mjs can import it without a
// TypeScript step; bundle-options.d.mts types it for the TypeScript side.

import { wgslPlugin } from '../../scripts/wgsl-import.mjs';

/** Files copied next to the bundle, as they are. */
export const WEB_STATIC_FILES = ['harness/web/index.html', 'harness/web/style.css'];

/** esbuild options for the page's script (app.js) and stylesheet (app.css, uPlot's CSS). */
export function webBuildOptions(root, version) {
  return {
    absWorkingDir: root,
    entryPoints: { app: 'harness/web/app.ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    plugins: [wgslPlugin()],
    sourcemap: true,
    define: { __LPLR_VERSION__: JSON.stringify(version) },
    logLevel: 'warning',
  };
}
