// The matmul autotuner: only correct candidates can win (a fast wrong one is injected),
// winners persist in the JSON store and reload, and a changed candidate set invalidates them.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as E from '../src/entry-node.js';
import {
  type MatmulCandidate,
  adapterKey,
  candidateChecksum,
  kernelCandidate,
  loadMatmulTuning,
  memoryAutotuneStore,
  tuneMatmulShape,
  verifyShape,
} from '../src/kernels/autotune.js';
import { fileAutotuneStore } from '../src/gpu/autotune-store-node.js';
import { useGpu } from './helpers/gpu.js';

// Fast and wrong: writes nothing at all.
const skipsWork: MatmulCandidate = { id: 'skips-work@1', kernel: 'tiled', encode: () => {} };
// Runs a real kernel but adds the product twice (a plausible epilogue bug).
const addsTwice: MatmulCandidate = {
  id: 'adds-twice@1',
  kernel: 'small',
  encode: (out, a, b, s) => {
    E.matmulInto(out, a, b, { transA: s.transA, transB: s.transB, variant: 'register' });
    E.matmulInto(out, a, b, { transA: s.transA, transB: s.transB, variant: 'register', accumulate: true });
  },
};

describe('matmul autotuner', () => {
  const gpu = useGpu();
  const shape: E.MatmulShape = { M: 40, N: 24, K: 36, batch: 1, transA: false, transB: true };

  it('never picks a candidate whose result differs from the naive kernel', async () => {
    const rt = gpu.rt();
    const store = memoryAutotuneStore();
    const candidates = () => [skipsWork, addsTwice, kernelCandidate('register'), kernelCandidate('naive')];
    const { entry, cached } = await tuneMatmulShape(rt, shape, { store, candidates, budgetMs: 200, wallClock: true });
    expect(cached).toBe(false);
    expect(['register', 'naive']).toContain(entry.kernel);
    expect(entry.timings['skips-work@1'].rejected).toBe('wrong-result');
    expect(entry.timings['adds-twice@1'].rejected).toBe('wrong-result');
    expect(entry.ms).toBeGreaterThan(0);
    const stored = (await store.read()).entries[`${adapterKey(rt)}|${E.matmulShapeClass(shape)}`];
    expect(stored.kernel).toBe(entry.kernel);
  });

  it('persists winners in a JSON file, reloads them, and drops them when the candidate set changes', async () => {
    const rt = gpu.rt();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-autotune-'));
    const file = path.join(dir, 'autotune.json');
    const setA = () => [kernelCandidate('naive'), kernelCandidate('register')];
    const setB = () => [kernelCandidate('naive'), kernelCandidate('register'), kernelCandidate('tiled')];
    const first = await tuneMatmulShape(rt, shape, { store: fileAutotuneStore(file), candidates: setA, budgetMs: 100 });
    expect(first.cached).toBe(false);
    // Written atomically: the file parses and no temp files are left behind.
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).entries).toBeTypeOf('object');
    expect(fs.readdirSync(dir)).toEqual(['autotune.json']);

    // A fresh store object on the same file (a new process) reuses the entry...
    const again = await tuneMatmulShape(rt, shape, { store: fileAutotuneStore(file), candidates: setA });
    expect(again.cached).toBe(true);
    expect(again.entry.kernel).toBe(first.entry.kernel);
    expect(again.entry.checksum).toBe(candidateChecksum(setA()));
    // ...and hands it to a runtime for classes it has not used yet.
    expect(await loadMatmulTuning(rt, fileAutotuneStore(file), setA)).toBe(1);
    const cls = E.matmulShapeClass(shape);
    expect(E.matmulChoices(rt)[cls]).toBeUndefined();
    expect(E.resolveMatmulKernel(rt, shape)).toBe(first.entry.kernel);

    // Another candidate set (a new kernel or version) invalidates the stored entry.
    expect(await loadMatmulTuning(rt, fileAutotuneStore(file), setB)).toBe(0);
    const retuned = await tuneMatmulShape(rt, shape, { store: fileAutotuneStore(file), candidates: setB, budgetMs: 100 });
    expect(retuned.cached).toBe(false);
    expect(retuned.entry.checksum).toBe(candidateChecksum(setB()));
    E.setMatmulTuning(rt, new Map());
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tolerates a damaged cache file and keeps other writers\u2019 entries', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-autotune-'));
    const file = path.join(dir, 'autotune.json');
    fs.writeFileSync(file, '{"format": 1, "entries": {"x|y": ');
    const store = fileAutotuneStore(file);
    expect((await store.read()).entries).toEqual({});
    // Two writers (separate store objects, as in two processes): each merges with the file on disk.
    const other = fileAutotuneStore(file);
    await store.update((d) => {
      d.entries['a|1x1x1:nn'] = { kernel: 'naive' } as never;
    });
    await other.update((d) => {
      d.entries['b|1x1x1:nn'] = { kernel: 'register' } as never;
    });
    expect(Object.keys((await store.read()).entries).sort()).toEqual(['a|1x1x1:nn', 'b|1x1x1:nn']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('checks correctness on a smaller shape of the same class with the same remainders', () => {
    const big: E.MatmulShape = { M: 12665, N: 2048, K: 784, batch: 1, transA: false, transB: true };
    const small = verifyShape(big);
    expect(E.matmulShapeClass({ ...small, M: big.M, N: big.N, K: big.K })).toBe(E.matmulShapeClass(big));
    expect([small.M % 64, small.N % 64, small.K % 64]).toEqual([big.M % 64, big.N % 64, big.K % 64]);
    expect(small.M * small.N * small.K).toBeLessThan(128 * 192 * 320 + 1);
  });
});
