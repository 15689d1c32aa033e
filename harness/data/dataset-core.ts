// The platform-neutral part of a user dataset file: a safetensors file with tensor `x` of
// shape [N, D] (features) and `y` of shape [N] or [N, 1] (targets), any dtype the safetensors
// reader accepts, values as f32. dataset-file.ts reads it from disk in Node; the browser page
// passes fetched or user-picked bytes.
import { DataError } from '../../src/errors.js';
import { parseSafetensors } from '../../src/io/safetensors.js';

export interface DatasetFile {
  x: Float32Array;
  y: Float32Array;
  n: number;
  d: number;
}

export const DATASET_FORMAT_HINT = 'A dataset file is a safetensors file with tensors "x" of shape [N, D] and "y" of shape [N] or [N, 1].';

/** Parse and check a dataset file's bytes; `path` names it in messages. */
export function parseDatasetBytes(bytes: Uint8Array, path: string): DatasetFile {
  const { tensors } = parseSafetensors(bytes, path);
  const x = tensors.get('x');
  const y = tensors.get('y');
  if (x === undefined || y === undefined) {
    const missing = [x === undefined ? '"x"' : [], y === undefined ? '"y"' : []].flat().join(' and ');
    const present = [...tensors.keys()].map((k) => `"${k}"`).join(', ') || 'none';
    throw new DataError(`${path} has no tensor ${missing} (tensors present: ${present}). ${DATASET_FORMAT_HINT}`);
  }
  if (x.shape.length !== 2) {
    throw new DataError(`${path}: tensor "x" has shape [${x.shape.join(', ')}]; it must be 2-D [N, D]. ${DATASET_FORMAT_HINT}`);
  }
  const [n, d] = x.shape;
  const yOk = (y.shape.length === 1 && y.shape[0] === n) || (y.shape.length === 2 && y.shape[0] === n && y.shape[1] === 1);
  if (!yOk) {
    throw new DataError(`${path}: tensor "y" has shape [${y.shape.join(', ')}] but "x" has ${n} rows; "y" must be [${n}] or [${n}, 1]. ${DATASET_FORMAT_HINT}`);
  }
  if (n === 0 || d === 0) throw new DataError(`${path}: tensor "x" has shape [${n}, ${d}]; a dataset needs at least one sample and one feature.`);
  return { x: x.data, y: y.data, n, d };
}
