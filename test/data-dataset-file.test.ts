import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../src/errors.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { loadDatasetFile, saveDatasetFile } from '../harness/data/dataset-file.js';

const dir = mkdtempSync(join(tmpdir(), 'lplr-dsfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const HINT = 'A dataset file is a safetensors file with tensors "x" of shape [N, D] and "y" of shape [N] or [N, 1].';

function write(name: string, tensors: { name: string; shape: number[]; data?: Float32Array }[]): string {
  const path = join(dir, name);
  const full = tensors.map((t) => ({ ...t, data: t.data ?? new Float32Array(t.shape.reduce((a, b) => a * b, 1)) }));
  writeFileSync(path, serializeSafetensors(full));
  return path;
}

describe('dataset files', () => {
  it('loads x [N, D] with y [N] or [N, 1]', () => {
    const x = new Float32Array([1, 2, 3, 4, 5, 6]);
    const y = new Float32Array([0, 1, 1]);
    for (const yShape of [[3], [3, 1]]) {
      const p = write(`ok-${yShape.length}.safetensors`, [
        { name: 'y', shape: yShape, data: y },
        { name: 'x', shape: [3, 2], data: x },
      ]);
      expect(loadDatasetFile(p)).toEqual({ x, y, n: 3, d: 2 });
    }
  });

  it('round-trips through saveDatasetFile', () => {
    const p = join(dir, 'saved.safetensors');
    const data = { x: new Float32Array([0.5, -1, 2, 8]), y: new Float32Array([1, 0]), n: 2, d: 2 };
    saveDatasetFile(p, data, { source: 'test' });
    expect(loadDatasetFile(p)).toEqual(data);
  });

  it('explains missing tensors and shape mismatches', () => {
    const noY = write('noy.safetensors', [{ name: 'x', shape: [2, 2] }, { name: 'labels', shape: [2] }]);
    expect(() => loadDatasetFile(noY)).toThrow(new DataError(`${noY} has no tensor "y" (tensors present: "x", "labels"). ${HINT}`));
    const none = write('none.safetensors', []);
    expect(() => loadDatasetFile(none)).toThrow(new DataError(`${none} has no tensor "x" and "y" (tensors present: none). ${HINT}`));
    const x3d = write('x3d.safetensors', [{ name: 'x', shape: [2, 2, 1] }, { name: 'y', shape: [2] }]);
    expect(() => loadDatasetFile(x3d)).toThrow(new DataError(`${x3d}: tensor "x" has shape [2, 2, 1]; it must be 2-D [N, D]. ${HINT}`));
    const rows = write('rows.safetensors', [{ name: 'x', shape: [3, 2] }, { name: 'y', shape: [2] }]);
    expect(() => loadDatasetFile(rows)).toThrow(new DataError(`${rows}: tensor "y" has shape [2] but "x" has 3 rows; "y" must be [3] or [3, 1]. ${HINT}`));
    const wide = write('wide.safetensors', [{ name: 'x', shape: [2, 2] }, { name: 'y', shape: [2, 2] }]);
    expect(() => loadDatasetFile(wide)).toThrow(/tensor "y" has shape \[2, 2\] but "x" has 2 rows/);
    expect(() => loadDatasetFile(join(dir, 'absent.safetensors'))).toThrow(/^Cannot read dataset file .*absent\.safetensors: ENOENT/);
  });
});
