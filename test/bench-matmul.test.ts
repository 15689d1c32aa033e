// `lplr bench matmul` on tiny sizes: well-formed JSON whose GFLOP/s follow from the
// shapes and times, every variant present, peers reported; the user-kernel check passes
// a correct kernel, rejects a wrong one shape by shape and a contract violation outright.
// Speed is measured by the bench, never asserted here.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MATMUL_VARIANTS } from '../src/ops/matmul.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const FAST = ['--min-trial-ms', '0'];

function lplr(args: string[], timeout = 120_000) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Cell {
  impl: string;
  status: string;
  value: number | null;
  medianMs: number | null;
  trialsMs?: number[];
}
interface Case {
  case: string;
  params: Record<string, number | boolean | string>;
  cells: Cell[];
  ratios: Record<string, number | null>;
}

const torchImports = spawnSync('python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

describe('lplr bench matmul', () => {
  it('emits a report with every variant, GFLOP/s = 2·M·N·K / time, peers and ratios', () => {
    const r = lplr(['bench', 'matmul', '--sizes', '33', '--mlp-n', '5', '--width', '8', '--json', ...FAST]);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.adapter.backend).toBeTruthy();
    expect(typeof report.timestampQuery).toBe('boolean');
    const [bench] = report.benches;
    expect(bench).toMatchObject({ bench: 'matmul', unit: 'GFLOP/s' });
    const cases = bench.cases as Case[];
    expect(cases.map((c) => c.case)).toEqual([
      'square 33',
      'N=5 fwd x·W1ᵀ 5x784·784x8',
      'N=5 fwd h·Wᵀ 5x8·8x8',
      'N=5 dgrad dY·W 5x8·8x8',
      'N=5 wgrad dYᵀ·h 8x5·5x8',
      'N=5 wgrad dYᵀ·x 8x5·5x784',
    ]);
    expect(cases[0].params).toMatchObject({ M: 33, N: 33, K: 33, flops: 2 * 33 ** 3 });
    expect(cases[1].params).toMatchObject({ M: 5, N: 8, K: 784, transB: true, flops: 2 * 5 * 8 * 784 });
    for (const c of cases) {
      for (const v of MATMUL_VARIANTS) expect(c.cells.map((x) => x.impl)).toContain(v);
      for (const cell of c.cells.filter((x) => x.status === 'ok')) {
        expect(cell.value!).toBeGreaterThan(0);
        expect(cell.value!).toBeCloseTo(Number(c.params.flops) / (cell.medianMs! * 1e6), 9);
        expect(cell.trialsMs).toHaveLength(5);
      }
      for (const v of ['auto', 'naive', 'register']) expect(c.cells.find((x) => x.impl === v)?.status).toBe('ok');
      expect(c.ratios['best/naive']).toBeGreaterThan(0);
    }
    const peers = Object.fromEntries(bench.peers.map((p: { name: string; status: string }) => [p.name, p.status]));
    expect(['ok', 'failed', 'unavailable']).toContain(peers['tfjs-webgpu']);
    if (peers['tfjs-webgpu'] === 'ok') for (const c of cases) expect(c.cells.find((x) => x.impl === 'tfjs')?.value).toBeGreaterThan(0);
    if (!torchImports) expect(peers['torch-cpu']).toBe('unavailable');
    // The table went to stderr, next to the JSON on stdout.
    expect(r.stderr).toMatch(/== matmul \(GFLOP\/s/);
    expect(r.stderr).toMatch(/square 33\s+\d/);
  });

  describe('--kernel', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-kernel-'));
    const builtin = fs.readFileSync(path.join(root, 'shaders', 'matmul.wgsl'), 'utf8');

    it('checks a correct kernel on odd shapes and times it beside the built-ins', () => {
      const file = path.join(tmp, 'copy.wgsl');
      fs.writeFileSync(file, builtin);
      const r = lplr(['bench', 'matmul', '--kernel', file, '--entry', 'main_naive', '--tile', '8x8', '--sizes', '16', '--mlp-n', '0', '--no-peers', '--json', ...FAST]);
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/61x67x129\s+\S+\s+\S+\s+ok/);
      expect(r.stderr).toMatch(/19x45x23 AᵀBᵀ\s+\S+\s+\S+\s+ok/);
      const c = JSON.parse(r.stdout).benches[0].cases[0] as Case;
      expect(c.cells.find((x) => x.impl === 'user')?.status).toBe('ok');
      expect(c.ratios['user/best']).toBeGreaterThan(0);
    });

    it('fails a kernel with a wrong index shape by shape, and does not time it', () => {
      const file = path.join(tmp, 'wrong.wgsl');
      // Off by one in the row-major A load.
      const wrong = builtin.replace('A[base + m * p.K + k]', 'A[base + m * p.K + k + 1u]');
      expect(wrong).not.toBe(builtin);
      fs.writeFileSync(file, wrong);
      const r = lplr(['bench', 'matmul', '--kernel', file, '--entry', 'main_naive', '--tile', '8x8', '--sizes', '16', '--mlp-n', '0', '--no-peers', ...FAST]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/7x13x5\s+\S+\s+\S+\s+FAIL/);
      // A transposed A takes the other load path, which is intact.
      expect(r.stdout).toMatch(/37x29x41 Aᵀ\s+\S+\s+\S+\s+ok/);
      expect(r.stdout).toContain('not timed');
      expect(r.stdout).not.toContain('== matmul');
    });

    it('rejects a kernel that breaks the binding contract, naming the contract', () => {
      const file = path.join(tmp, 'nobias.wgsl');
      const noBias = builtin.replace(/if \(HAS_BIAS\) \{\s*r = r \+ bias\[n\];\s*\}/, '');
      expect(noBias).not.toBe(builtin);
      fs.writeFileSync(file, noBias);
      const r = lplr(['bench', 'matmul', '--kernel', file, '--entry', 'main_naive', '--sizes', '16', '--mlp-n', '0', '--no-peers']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/not valid under the matmul contract: .*binding index 3.*docs\/kernel-contract\.md/s);
      const missing = lplr(['bench', 'matmul', '--kernel', file, '--entry', 'nope']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/no @compute entry point 'nope' \(it has: main_tiled, main_naive\)/);
    });
  });

  it.each([
    [['bench', 'all', '--sizes', '5'], /--sizes applies to one benchmark/],
    [['bench', 'matmol'], /Unknown benchmark 'matmol'\. Did you mean 'matmul'\?/],
    [['bench', 'matmul', '--trials', '3'], /--trials must be >= 5/],
    [['bench', 'conv', '--kernel', 'x.wgsl'], /--kernel checks a matmul kernel/],
  ])('rejects %j before touching the GPU', (args, message) => {
    const r = lplr(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
