// CIFAR-10 binary records for tests: a label byte and 3,072 pseudo-random pixel bytes each
// (a linear congruential stream from `seed`), the layout of data_batch_N.bin and test_batch.bin.
import * as fs from 'node:fs';

export function cifarRecords(labels: readonly number[], seed: number): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  let x = seed;
  labels.forEach((label, i) => {
    out[i * 3073] = label;
    for (let p = 1; p < 3073; p++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      out[i * 3073 + p] = (x >>> 16) & 255;
    }
  });
  return out;
}

export function writeCifarRecords(file: string, labels: readonly number[], seed: number): void {
  fs.writeFileSync(file, cifarRecords(labels, seed));
}
