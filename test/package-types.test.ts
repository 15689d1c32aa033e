// The package's `types` entry exists after `npm install` (prepare builds the declarations
// with tsconfig.types.json) and a consumer written against `import ... from 'lplr'`
// type-checks against the emitted .d.ts files alone, with full checking of those files
// (no skipLibCheck), while a misuse of the API is rejected.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  types: string;
  exports: { '.': { types: string } };
  scripts: Record<string, string>;
};
const typesConfig = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tsconfig.types.json'), 'utf8')) as { compilerOptions: { outDir: string } };
const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');

function runTsc(args: string[], cwd = REPO_ROOT) {
  return spawnSync(process.execPath, [tsc, ...args], { cwd, encoding: 'utf8', timeout: 240_000 });
}

const CONSUMER_OK = `
import { init, Tensor, fromData, matmul, nn, optim, GpuError, KNOWN_BACKENDS, type Runtime, type MemoryStats } from 'lplr';

export async function main(): Promise<number> {
  const rt: Runtime = await init({ quiet: true, backend: KNOWN_BACKENDS[0] });
  const a: Tensor = fromData([1, 2, 3, 4], [2, 2]);
  const b = matmul(a, a);
  const shape: readonly number[] = b.shape;
  const stats: MemoryStats = rt.memoryStats();
  void nn;
  void optim;
  rt.destroy();
  return shape.length + stats.liveBytes + (new GpuError('x') instanceof Error ? 0 : 1);
}
`;

// init() takes an options object, not a string; the declarations must say so.
const CONSUMER_BAD = `
import { init } from 'lplr';
export const r = init('opengles');
`;

describe('type declarations', () => {
  it('package.json points `types` at the declarations that prepare builds', () => {
    expect(pkg.exports['.'].types.replace(/^\.\//, '')).toBe(pkg.types);
    expect(pkg.types.startsWith(`${typesConfig.compilerOptions.outDir}/`)).toBe(true);
    // `npm install` runs prepare: it must build the declarations, not only the bundles.
    expect(pkg.scripts.prepare).toMatch(/tsconfig\.types\.json|build:types/);
  });

  it('a consumer importing lplr type-checks against the emitted .d.ts; a wrong call does not', () => {
    // The real build:types command (incremental: after prepare it only checks that nothing changed).
    const emit = runTsc(['-p', 'tsconfig.types.json']);
    expect(emit.status, `${emit.stdout}${emit.stderr}`).toBe(0);
    const entry = path.join(REPO_ROOT, pkg.types);
    expect(fs.existsSync(entry), `${entry} was not emitted`).toBe(true);

    // Under the repository's node_modules, so that the declarations' reference to
    // @webgpu/types resolves the way it does in a project that installed lplr.
    const consumer = fs.mkdtempSync(path.join(REPO_ROOT, 'node_modules', '.cache', 'lplr-types-consumer-'));
    try {
      fs.writeFileSync(path.join(consumer, 'ok.ts'), CONSUMER_OK);
      fs.writeFileSync(path.join(consumer, 'bad.ts'), CONSUMER_BAD);
      const config = (file: string) => ({
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          strict: true,
          noEmit: true,
          // Check the emitted declarations themselves too (not TypeScript's own lib files).
          skipLibCheck: false,
          skipDefaultLibCheck: true,
          lib: ['ES2022', 'DOM'],
          // The declarations must not need @types/node: browser bundlers consume them too.
          types: [],
          // 'lplr' resolves to the emitted declarations only; the sources are not visible.
          paths: { lplr: [entry] },
        },
        files: [file],
      });
      fs.writeFileSync(path.join(consumer, 'tsconfig.ok.json'), JSON.stringify(config('ok.ts')));
      fs.writeFileSync(path.join(consumer, 'tsconfig.bad.json'), JSON.stringify(config('bad.ts')));
      const ok = runTsc(['-p', 'tsconfig.ok.json'], consumer);
      expect(ok.status, `${ok.stdout}${ok.stderr}`).toBe(0);
      const bad = runTsc(['-p', 'tsconfig.bad.json'], consumer);
      expect(bad.status).not.toBe(0);
      expect(bad.stdout).toMatch(/bad\.ts\(3,\d+\): error TS2559|bad\.ts\(3,\d+\): error TS2345/);
    } finally {
      fs.rmSync(consumer, { recursive: true, force: true });
    }
  }, 300_000);
});
