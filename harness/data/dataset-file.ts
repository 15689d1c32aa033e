// A user dataset as a safetensors file: tensor `x` of shape [N, D] (features) and `y` of shape
// [N] or [N, 1] (targets). Any dtype the safetensors reader accepts; values become f32.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { DataError } from '../../src/errors.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';

export interface DatasetFile {
  x: Float32Array;
  y: Float32Array;
  n: number;
  d: number;
}

const FORMAT_HINT = 'A dataset file is a safetensors file with tensors "x" of shape [N, D] and "y" of shape [N] or [N, 1].';

export function loadDatasetFile(path: string): DatasetFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(`Cannot read dataset file ${path}: ${(e as Error).message}. ${FORMAT_HINT}`);
  }
  const { tensors } = parseSafetensors(bytes, path);
  const x = tensors.get('x');
  const y = tensors.get('y');
  if (x === undefined || y === undefined) {
    const missing = [x === undefined ? '"x"' : [], y === undefined ? '"y"' : []].flat().join(' and ');
    const present = [...tensors.keys()].map((k) => `"${k}"`).join(', ') || 'none';
    throw new DataError(`${path} has no tensor ${missing} (tensors present: ${present}). ${FORMAT_HINT}`);
  }
  if (x.shape.length !== 2) {
    throw new DataError(`${path}: tensor "x" has shape [${x.shape.join(', ')}]; it must be 2-D [N, D]. ${FORMAT_HINT}`);
  }
  const [n, d] = x.shape;
  const yOk = (y.shape.length === 1 && y.shape[0] === n) || (y.shape.length === 2 && y.shape[0] === n && y.shape[1] === 1);
  if (!yOk) {
    throw new DataError(`${path}: tensor "y" has shape [${y.shape.join(', ')}] but "x" has ${n} rows; "y" must be [${n}] or [${n}, 1]. ${FORMAT_HINT}`);
  }
  if (n === 0 || d === 0) throw new DataError(`${path}: tensor "x" has shape [${n}, ${d}]; a dataset needs at least one sample and one feature.`);
  return { x: x.data, y: y.data, n, d };
}

/** Write a dataset file (f32), via a temporary name so a crash never leaves half a file. */
export function saveDatasetFile(path: string, data: DatasetFile, metadata?: Record<string, string>): void {
  const bytes = serializeSafetensors(
    [
      { name: 'x', shape: [data.n, data.d], data: data.x },
      { name: 'y', shape: [data.n], data: data.y },
    ],
    metadata,
  );
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
