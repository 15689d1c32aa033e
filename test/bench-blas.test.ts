// Which BLAS the PyTorch peer of `lplr bench` ran on (bench/blas-kind.ts), decided from the
// libraries its process had mapped and what they report about themselves: Debian's torch on
// OpenBLAS (reached through the libblas.so.3 alternatives symlink, BLAS_INFO=generic) is a valid
// baseline; only the reference (netlib) BLAS is not.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyBlas } from '../bench/blas-kind.js';
import { judgeTorchPeer, runTorchPeer } from '../bench/peer-torch.js';

const LIB = '/usr/lib/x86_64-linux-gnu';
const OPENBLAS_CONFIG = 'OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64';

describe('classifyBlas', () => {
  it("Debian's OpenBLAS behind libblas.so.3 (torch says BLAS_INFO=generic) is OpenBLAS, valid, with version and core", () => {
    const v = classifyBlas([{ path: `${LIB}/openblas-pthread/libblas.so.3`, openblasConfig: OPENBLAS_CONFIG, openblasCore: 'Haswell' }], 'generic');
    expect(v).toEqual({ kind: 'openblas', valid: true, description: `OpenBLAS 0.3.21 (core Haswell) at ${LIB}/openblas-pthread/libblas.so.3` });
  });

  it('a library that reports an OpenBLAS config is OpenBLAS whatever its file is called', () => {
    expect(classifyBlas([{ path: '/opt/x/libblas.so.3', openblasConfig: OPENBLAS_CONFIG }]).kind).toBe('openblas');
  });

  it('without version symbols the resolved path decides: OpenBLAS, BLIS, ATLAS, MKL, a wheel-bundled OpenBLAS', () => {
    const kind = (p: string, realpath?: string) => classifyBlas([{ path: p, realpath }]);
    expect(kind(`${LIB}/openblas-openmp/libblas.so.3`)).toMatchObject({ kind: 'openblas', valid: true });
    expect(kind(`${LIB}/blis-pthread/libblas.so.3`)).toMatchObject({ kind: 'blis', valid: true });
    expect(kind(`${LIB}/atlas/libblas.so.3`)).toMatchObject({ kind: 'atlas', valid: true });
    expect(kind(`${LIB}/libmkl_rt.so`)).toMatchObject({ kind: 'mkl', valid: true });
    expect(kind('/usr/lib/python3/dist-packages/torch.libs/libopenblasp-r0-2eadb500.3.29.so')).toMatchObject({ kind: 'openblas', valid: true });
    // The mapped name is what the alternatives symlink resolved to; realpath when given wins.
    expect(kind(`${LIB}/libblas.so.3`, `${LIB}/openblas-pthread/libblas.so.3`)).toMatchObject({ kind: 'openblas', valid: true });
  });

  it("the reference BLAS (Debian's libblas3, a FlexiBLAS netlib backend) is the one invalid baseline", () => {
    expect(classifyBlas([{ path: `${LIB}/blas/libblas.so.3.11.0` }], 'generic')).toEqual({
      kind: 'reference',
      valid: false,
      description: `reference BLAS (netlib) at ${LIB}/blas/libblas.so.3.11.0`,
    });
    expect(classifyBlas([{ path: `${LIB}/libflexiblas.so.3.3` }, { path: `${LIB}/flexiblas/libflexiblas_netlib.so` }])).toMatchObject({ kind: 'reference', valid: false });
    expect(classifyBlas([{ path: `${LIB}/libflexiblas.so.3.3` }, { path: `${LIB}/flexiblas/libflexiblas_openblas-pthread.so` }])).toMatchObject({ kind: 'openblas', valid: true });
  });

  it('a tuned library mapped beside a reference libblas is the one that counts', () => {
    expect(classifyBlas([{ path: `${LIB}/blas/libblas.so.3.11.0` }, { path: `${LIB}/openblas-pthread/libopenblas.so.0` }]).kind).toBe('openblas');
  });

  it('nothing mapped: BLAS_INFO names a BLAS compiled into libtorch; "generic" alone is unknown, not invalid', () => {
    expect(classifyBlas([], 'mkl')).toEqual({ kind: 'mkl', valid: true, description: 'MKL (compiled into libtorch, BLAS_INFO=mkl)' });
    expect(classifyBlas([], 'generic')).toEqual({ kind: 'unknown', valid: true, description: 'BLAS not identified (BLAS_INFO=generic, no BLAS library mapped)' });
  });
});

describe('judgeTorchPeer', () => {
  const info = (lib: string, extra: Record<string, string> = {}) => ({ torch: '2.1.2', blasInfo: 'generic', blasLibraries: [{ path: lib, ...extra }], threads: 2, OPENBLAS_CORETYPE: null });

  it('OpenBLAS: status ok, the detail names it', () => {
    const peer = judgeTorchPeer({ name: 'torch-cpu', status: 'ok', detail: '', info: info(`${LIB}/openblas-pthread/libblas.so.3`, { openblasConfig: OPENBLAS_CONFIG, openblasCore: 'Haswell' }) });
    expect(peer.status).toBe('ok');
    expect(peer.detail).toBe(`torch 2.1.2, 2 threads, BLAS: OpenBLAS 0.3.21 (core Haswell) at ${LIB}/openblas-pthread/libblas.so.3, OPENBLAS_CORETYPE=(unset)`);
    expect(peer.info).toMatchObject({ blasKind: 'openblas', referenceBlas: false });
  });

  it('the reference BLAS: status invalid, and the detail says why', () => {
    const peer = judgeTorchPeer({ name: 'torch-cpu', status: 'ok', detail: '', info: info(`${LIB}/blas/libblas.so.3.11.0`) });
    expect(peer.status).toBe('invalid');
    expect(peer.detail).toMatch(/reference BLAS \(netlib\) at .*blas\/libblas\.so\.3\.11\.0.* - reference BLAS: not a valid baseline$/);
  });

  it('a failed or unavailable peer passes through unchanged', () => {
    const failed = { name: 'torch-cpu', status: 'unavailable' as const, detail: 'python3 cannot import torch' };
    expect(judgeTorchPeer(failed)).toBe(failed);
  });
});

// The peer's Python side end to end, with a stand-in `torch` (pure Python) that loads a BLAS
// library through a symlink, as Debian's libblas.so.3 alternatives do. Two such libraries are
// compiled here: one that reports an OpenBLAS configuration, one that reports nothing (as the
// reference BLAS). Needs python3 and a C compiler.
const hasPython = spawnSync('python3', ['--version']).status === 0;
const hasCc = spawnSync('cc', ['--version']).status === 0;

describe.skipIf(!hasPython || !hasCc || process.platform !== 'linux')('the PyTorch peer script, with a stand-in torch', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-blas-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const FAKE_TORCH = `
import ctypes, os, random
ctypes.CDLL(os.environ["LPLR_TEST_BLAS"])
__version__ = "0.0-standin"
class _Config:
    @staticmethod
    def show():
        return "  - BLAS_INFO=generic\\n"
__config__ = _Config()
_threads = [1]
def set_num_threads(n): _threads[0] = n
def get_num_threads(): return _threads[0]
class T:
    def __init__(self, rows): self.rows = rows
    def __matmul__(self, o): return matmul(self, o)
    def sum(self): return T([[sum(sum(r) for r in self.rows)]])
    def item(self): return self.rows[0][0]
    def t(self): return T([list(c) for c in zip(*self.rows)])
def rand(r, c): return T([[random.random() for _ in range(c)] for _ in range(r)])
randn = rand
def matmul(a, b): return T([[sum(x * y for x, y in zip(r, c)) for c in zip(*b.rows)] for r in a.rows])
`;

  function blasLibrary(dir: string, source: string): string {
    fs.mkdirSync(path.join(tmp, dir), { recursive: true });
    const c = path.join(tmp, dir, 'blas.c');
    fs.writeFileSync(c, source);
    const real = path.join(tmp, dir, 'libblas.so.3');
    const cc = spawnSync('cc', ['-shared', '-fPIC', '-o', real, c], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    // What the process opens is a symlink, like /usr/lib/<arch>/libblas.so.3 -> /etc/alternatives/...
    const link = path.join(tmp, `${dir}-libblas.so.3`);
    fs.symlinkSync(real, link);
    return link;
  }

  function runPeer(lib: string) {
    fs.mkdirSync(path.join(tmp, 'py', 'torch'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'py', 'torch', '__init__.py'), FAKE_TORCH);
    const saved = { PYTHONPATH: process.env.PYTHONPATH, LPLR_TEST_BLAS: process.env.LPLR_TEST_BLAS };
    process.env.PYTHONPATH = path.join(tmp, 'py');
    process.env.LPLR_TEST_BLAS = lib;
    try {
      return runTorchPeer({ cases: [{ name: 'mm', a: [5, 3], b: [3, 4], transA: false, transB: false }], warmup: 1, trials: 1, maxRunS: 5 });
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  it('a library that reports an OpenBLAS config, loaded through a symlink: valid, named with version and core', () => {
    const lib = blasLibrary(
      'impl-a',
      `const char *openblas_get_config(void) { return "${OPENBLAS_CONFIG}"; }\nconst char *openblas_get_corename(void) { return "Haswell"; }\nvoid dgemm_(void) {}\n`,
    );
    const out = runPeer(lib);
    expect(out.peer.status, out.peer.detail).toBe('ok');
    expect(out.peer.detail).toContain(`BLAS: OpenBLAS 0.3.21 (core Haswell) at ${path.join(tmp, 'impl-a', 'libblas.so.3')}`);
    expect(out.results[0].status).toBe('ok');
  });

  it('a plain libblas.so.3 that reports nothing (the reference BLAS): invalid', () => {
    const out = runPeer(blasLibrary('impl-b', 'void dgemm_(void) {}\n'));
    expect(out.peer.status, out.peer.detail).toBe('invalid');
    expect(out.peer.detail).toContain(`reference BLAS (netlib) at ${path.join(tmp, 'impl-b', 'libblas.so.3')}`);
  });
});
