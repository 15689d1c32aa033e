// The autotuner's store in Node: one JSON file, $LPLR_CACHE_DIR/autotune.json or
// ~/.cache/lplr/autotune.json. Writes are atomic (temp file in the same folder, then
// rename) and merge with what is on disk at that moment, so concurrent tuners lose at
// most each other's entry for the same key, never the file.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AutotuneStore, parseAutotuneData } from './autotune.js';

export function defaultAutotunePath(): string {
  const base = process.env.LPLR_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'lplr');
  return path.join(base, 'autotune.json');
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export function fileAutotuneStore(file = defaultAutotunePath()): AutotuneStore {
  return {
    location: file,
    async read() {
      return parseAutotuneData(readText(file));
    },
    async update(mutate) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const data = parseAutotuneData(readText(file));
      mutate(data);
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      fs.writeFileSync(tmp, `${JSON.stringify(data, null, 1)}\n`);
      fs.renameSync(tmp, file);
    },
  };
}
