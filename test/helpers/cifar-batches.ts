// Small CIFAR-10 binary batch files for browser tests: the official record layout (one label
// byte, then 3072 pixel bytes: R, G, B planes of 32×32), with pixels from a fixed integer
// hash of (file seed, record, pixel) plus a class-dependent offset, so that training has
// something to learn and every file differs.
import * as fs from 'node:fs';
import * as path from 'node:path';

const PIXELS = 3072;

/** The bytes of a batch file holding one record per label. */
export function cifarRecords(labels: readonly number[], seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(labels.length * (PIXELS + 1));
  labels.forEach((label, i) => {
    const at = i * (PIXELS + 1);
    out[at] = label;
    for (let p = 0; p < PIXELS; p++) {
      const h = Math.imul(seed * 7919 + i * 104729 + p, 2654435761) >>> 24;
      out[at + 1 + p] = (h + 29 * label) & 255;
    }
  });
  return out;
}

/** Training records: classes 0..4 (the presets' classes) and some 5..9, which must be left out. */
export const TRAIN_LABELS: readonly number[] = [0, 1, 2, 3, 4, 8, 0, 1, 2, 3, 4, 6, 0, 1, 2, 3, 4, 0, 1, 2];
/** Test records: 7 of classes 0..4, one of class 9. */
export const TEST_LABELS: readonly number[] = [4, 3, 2, 1, 0, 9, 0, 1];

/** Write data_batch_1.bin and test_batch.bin into `dir`; returns their paths. */
export function writeCifarBatches(dir: string): string[] {
  const files = [path.join(dir, 'data_batch_1.bin'), path.join(dir, 'test_batch.bin')];
  fs.writeFileSync(files[0], cifarRecords(TRAIN_LABELS, 11));
  fs.writeFileSync(files[1], cifarRecords(TEST_LABELS, 12));
  return files;
}
