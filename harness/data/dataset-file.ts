// A user dataset as a safetensors file in Node (reading and writing); the format and its
// checks are in dataset-core.ts, which the browser page uses too.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { DataError } from '../../src/errors.js';
import { serializeSafetensors } from '../../src/io/safetensors.js';
import { DATASET_FORMAT_HINT as FORMAT_HINT, parseDatasetBytes, type DatasetFile } from './dataset-core.js';

export { parseDatasetBytes, type DatasetFile } from './dataset-core.js';

export function loadDatasetFile(path: string): DatasetFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(`Cannot read dataset file ${path}: ${(e as Error).message}. ${FORMAT_HINT}`);
  }
  return parseDatasetBytes(bytes, path);
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
