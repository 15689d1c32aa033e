// The GPU-check bundle: packed into a temporary folder it stays within the 60 MiB that a
// lent machine's carry allows, and holds what bench/gpu-check.sh unpacks. Compressed
// members are cached by content hash, so only the first run pays for xz.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const hasXz = spawnSync('xz', ['--version']).status === 0;
const LIMIT = 60 * 1024 * 1024;

describe.skipIf(!hasXz)('bench/pack-gpu-bundle.mjs', () => {
  it('packs Node, Dawn, the CLI and the data into one tar of at most 60 MiB', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-bundle-'));
    try {
      const r = spawnSync(process.execPath, [path.join(root, 'bench', 'pack-gpu-bundle.mjs'), '--out', out, '--level', '0'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 280_000,
      });
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.status).toBe(0);
      const bundle = path.join(out, 'lplr-gpu-bundle.tar');
      const bytes = fs.statSync(bundle).size;
      expect(bytes).toBeLessThanOrEqual(LIMIT);
      // The members gpu-check.sh expects.
      const list = spawnSync('tar', ['-tf', bundle], { encoding: 'utf8' }).stdout.split('\n');
      for (const m of ['node.xz', 'dawn.node.xz', 'app.tar.xz', 'MANIFEST.json']) expect(list).toContain(m);
      const manifest = JSON.parse(spawnSync('tar', ['-xOf', bundle, 'MANIFEST.json'], { encoding: 'utf8', maxBuffer: 1 << 20 }).stdout);
      expect(manifest.platform).toBe('linux-x64');
      const node = manifest.files.find((f: { path: string }) => f.path === 'node.xz');
      // Compressed, yet a real binary's worth of bytes.
      expect(node.bytes).toBeGreaterThan(5 << 20);
      expect(node.bytes).toBeLessThan(fs.statSync(process.execPath).size);
      const app = spawnSync('sh', ['-c', `tar -xOf '${bundle}' app.tar.xz | xz -dc | tar -t`], { encoding: 'utf8' }).stdout;
      for (const f of ['./dist/cli.js', './bin/lplr.mjs', './package.json', './node_modules/webgpu/index.js']) expect(app).toContain(f);
      expect(r.stdout).toMatch(/lplr-gpu-bundle\.tar: [\d.]+ MiB \(limit 60 MiB\)/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);
});
