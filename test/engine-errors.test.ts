// WebGPU errors name the kernel they came from: each batch of dispatches runs inside error
// scopes, and a failure is reported as a GpuError with the kernel whose label Dawn quotes
// (or the batch's kernels). The runtime stays usable afterwards, and Dawn's raw dump of the
// error ("validation: ...") no longer lands on stdout.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { add, fromData } from '../src/index.js';
import { GpuError } from '../src/errors.js';
import { kernelErrorMessage } from '../src/gpu/runtime.js';
import { useGpu } from './helpers/gpu.js';
import { REPO_ROOT, bundleLibrary } from './fixtures/lib-bundle.js';

const gpu = useGpu();

describe('kernel names in GPU errors', () => {
  it('a dispatch with a missing binding fails naming that kernel, not the others in its batch', async () => {
    const rt = gpu.rt();
    const x = fromData([1, 2, 3], [3], rt);
    const y = fromData([10, 20, 30], [3], rt);
    const good = add(x, y); // a different kernel in the same batch
    const region = (t: typeof x) => t.region();
    // select binds cond, a, b and out; leave out `out`.
    rt.dispatch({ shader: 'select' }, new Uint32Array(36), [region(x), region(y), region(good)], [1]);
    const err = await rt.sync().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GpuError);
    const message = (err as Error).message;
    expect(message).toMatch(/^Kernel select:main failed WebGPU validation: Number of entries \(4\) did not match/);
    expect(message).toContain('please report it');
    // The runtime goes on: the next batch is clean and computes correctly.
    await rt.sync();
    const again = add(x, y);
    expect(Array.from(await again.read())).toEqual([11, 22, 33]);
    for (const t of [x, y, good, again]) t.dispose();
  });

  it('an unlabelled error lists the batch; out-of-memory says what to change', () => {
    expect(kernelErrorMessage('validation', 'Invalid CommandBuffer.', ['matmul:main', 'relu:main'])).toBe(
      "A batch running kernels matmul:main, relu:main failed WebGPU validation: Invalid CommandBuffer. This is a bug in lplr or in a custom kernel's bindings; please report it with this message.",
    );
    const many = Array.from({ length: 9 }, (_, i) => `k${i}:main`);
    expect(kernelErrorMessage('validation', 'x', many)).toMatch(/^A batch running kernels k0:main, k1:main, k2:main, k3:main, k4:main, k5:main and 3 more failed/);
    expect(kernelErrorMessage('out-of-memory', 'Allocation failed.', ['conv2d:main'])).toBe(
      'A batch running kernels conv2d:main ran out of GPU memory: Allocation failed. Use a smaller width or batch, or a GPU with more memory.',
    );
    // A pipeline label ('shader.wgsl:entry') identifies the kernel as well.
    expect(kernelErrorMessage('validation', 'Invalid [ComputePipeline "matmul.wgsl:tiled"].', ['relu:main', 'matmul:tiled'])).toMatch(/^Kernel matmul:tiled failed/);
  });

  it('a failing dispatch in a child process prints nothing on stdout', async () => {
    const lib = await bundleLibrary();
    const script = path.join(path.dirname(lib), `gpu-error-${process.pid}.mjs`);
    fs.writeFileSync(
      script,
      `const { init, fromData } = await import(${JSON.stringify(lib)});\n` +
        `const rt = await init({ quiet: true });\n` +
        `const x = fromData([1, 2], [2], rt);\n` +
        `rt.dispatch({ shader: 'select' }, new Uint32Array(36), [x.region()], [1]);\n` +
        `try { await rt.sync(); process.stderr.write('NO ERROR\\n'); } catch (e) { process.stderr.write('CAUGHT ' + e.message.split('\\n')[0] + '\\n'); }\n` +
        `rt.destroy();\n`,
    );
    try {
      const r = spawnSync(process.execPath, [script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/CAUGHT Kernel select:main failed WebGPU validation/);
      expect(r.stdout).toBe('');
    } finally {
      fs.rmSync(script, { force: true });
    }
  });
});
