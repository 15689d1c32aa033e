// Adapter selection in Node (src/gpu/node.ts): wrong or foreign backend names are config
// errors that say what to use instead, a backend without adapters gives the no-adapter error
// with what to install, and the native-backend probe runs once and is then read from its cache.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, AdapterError } from '../src/errors.js';
import { noAdapterError } from '../src/gpu/device.js';
import { backendsFor, nodeAdapterSource, probeBackend } from '../src/gpu/node.js';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

const CLI = path.join(REPO_ROOT, 'bin', 'lplr.mjs');

function lplr(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('backend names', () => {
  it('lists the platform backends: Linux has no Metal/D3D, macOS no D3D/GL, Windows no Metal', () => {
    expect(backendsFor('linux')).toEqual(['vulkan', 'opengl', 'opengles', 'swiftshader']);
    expect(backendsFor('darwin')).toEqual(['vulkan', 'metal']);
    expect(backendsFor('win32')).toEqual(['vulkan', 'd3d12', 'd3d11', 'opengl', 'opengles']);
  });

  it('an unknown name is a ConfigError with the closest name and the usable list', async () => {
    const err = await nodeAdapterSource({ backend: 'vulcan' })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      `Unknown backend 'vulcan'. Did you mean 'vulkan'? Use one of: ${backendsFor().join(', ')}, or leave it unset to pick one automatically.`,
    );
  });

  it('an unknown name in LPLR_BACKEND says where it came from', async () => {
    const saved = process.env.LPLR_BACKEND;
    process.env.LPLR_BACKEND = 'cuda';
    try {
      const err = await nodeAdapterSource()().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^Unknown backend 'cuda' \(from LPLR_BACKEND\)\./);
    } finally {
      if (saved === undefined) delete process.env.LPLR_BACKEND;
      else process.env.LPLR_BACKEND = saved;
    }
  });
});

describe.skipIf(process.platform !== 'linux')('the CLI on Linux', () => {
  it('`lplr info --backend d3d12` exits 2 naming Windows and the backends to use instead', async () => {
    const r = await lplr(['info', '--backend', 'd3d12']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("lplr: Backend 'd3d12' exists only on Windows; this machine runs linux. Use --backend vulkan|opengl|opengles|swiftshader");
    expect(r.stdout).toBe('');
  });

  it('a backend without any adapter (Vulkan with no driver) exits 2 with what to install and what else to try', async () => {
    const r = await lplr(['info', '--backend', 'vulkan'], { VK_ICD_FILENAMES: path.join(os.tmpdir(), 'lplr-no-such-icd.json'), VK_DRIVER_FILES: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("lplr: No WebGPU adapter is available (Dawn backend 'vulkan' offered none).");
    expect(r.stderr).toContain("apt-get install -y libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri");
    // The alternatives exclude the backend that just failed.
    expect(r.stderr).toContain('use --backend opengl|opengles|swiftshader or LPLR_BACKEND');
  });
});

describe('noAdapterError', () => {
  it('names the packages to install and the alternatives it is given', () => {
    const e = noAdapterError("Dawn backend 'metal' offered none", ['vulkan']);
    expect(e).toBeInstanceOf(AdapterError);
    expect(e.message).toBe(
      "No WebGPU adapter is available (Dawn backend 'metal' offered none). On Linux without a GPU install Mesa's software renderer: " +
        "'apt-get install -y libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri'. To choose another backend use --backend vulkan or LPLR_BACKEND, " +
        'or leave both unset to pick one automatically.',
    );
  });
});

describe('native backend probe', () => {
  let cacheDir = '';
  let savedCacheDir: string | undefined;
  beforeAll(() => {
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-probe-'));
    savedCacheDir = process.env.LPLR_CACHE_DIR;
    process.env.LPLR_CACHE_DIR = cacheDir;
  });
  afterAll(() => {
    if (savedCacheDir === undefined) delete process.env.LPLR_CACHE_DIR;
    else process.env.LPLR_CACHE_DIR = savedCacheDir;
    fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  it('probes in a child once, then answers from the cache file (no second probe); noCache probes again', () => {
    const cacheFile = path.join(cacheDir, 'adapter-probe.json');
    const first = probeBackend('vulkan');
    expect(typeof first.ok).toBe('boolean');
    const cache = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as Record<string, { ok: boolean; description?: string; at: number }>;
    const keys = Object.keys(cache);
    expect(keys).toHaveLength(1);
    // Plant a verdict no real probe can give: only a cache read can return it.
    cache[keys[0]] = { ok: true, description: 'planted by the test', software: false, at: Date.now() } as (typeof cache)[string];
    fs.writeFileSync(cacheFile, JSON.stringify(cache));
    expect(probeBackend('vulkan')).toMatchObject({ ok: true, description: 'planted by the test' });
    // A stale entry (over a day old) and noCache both run the child probe again.
    expect(probeBackend('vulkan', true).description).not.toBe('planted by the test');
    cache[keys[0]].at = Date.now() - 25 * 3600 * 1000;
    fs.writeFileSync(cacheFile, JSON.stringify(cache));
    expect(probeBackend('vulkan').description).not.toBe('planted by the test');
  });
});
