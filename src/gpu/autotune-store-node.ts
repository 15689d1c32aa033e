// The autotuner's store in Node: one JSON file, $LPLR_CACHE_DIR/autotune.json or
// ~/.cache/lplr/autotune.json. An update holds a lock file (`<file>.lock`, created with
// O_EXCL) while it reads the file, applies its change and replaces the file, so concurrent
// tuners (processes or store objects) never lose each other's entries. The new contents
// are fsynced before the rename, so a crash leaves the old file or the new one, never a
// torn or empty one. A lock whose owner died (pid gone on this host) or that is older than
// LOCK_STALE_MS (an update takes milliseconds) is broken.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AutotuneStore, parseAutotuneData } from './autotune-store.js';

export function defaultAutotunePath(): string {
  const base = process.env.LPLR_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'lplr');
  return path.join(base, 'autotune.json');
}

/** A lock older than this is taken to be left behind by a crashed or hung writer. */
export const LOCK_STALE_MS = 10_000;

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

interface LockOwner {
  pid: number;
  host: string;
  token: string;
}

function ownerAlive(owner: LockOwner | undefined): boolean {
  if (!owner || owner.host !== os.hostname()) return true; // cannot tell: rely on the age
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseOwner(text: string | undefined): LockOwner | undefined {
  try {
    const o = JSON.parse(text ?? '') as Partial<LockOwner>;
    return typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.token === 'string' ? (o as LockOwner) : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Take `<file>.lock`; resolves with the token that proves ownership at release. */
async function acquireLock(lock: string): Promise<string> {
  const token = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), token };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(lock, 'wx');
      try {
        fs.writeSync(fd, JSON.stringify(owner));
      } finally {
        fs.closeSync(fd);
      }
      return token;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    breakIfStale(lock);
    // Short, jittered waits: holders keep the lock for milliseconds.
    await sleep(Math.min(50, 2 + attempt) * (0.5 + Math.random()));
  }
}

/**
 * Remove a lock left by a dead owner or held too long. It is first renamed to a private
 * name (only one breaker can win that), then checked to still be the file judged stale
 * (same inode); if a live writer's fresh lock was caught instead, it is linked back.
 */
function breakIfStale(lock: string): void {
  let stat: fs.Stats;
  let text: string | undefined;
  try {
    stat = fs.statSync(lock);
    text = readText(lock);
  } catch {
    return;
  }
  const owner = parseOwner(text);
  // A lock with no owner yet may be mid-creation: judge it by its age only.
  const stale = Date.now() - stat.mtimeMs > LOCK_STALE_MS || (owner !== undefined && !ownerAlive(owner));
  if (!stale) return;
  const aside = `${lock}.${process.pid}.${Math.random().toString(36).slice(2)}.stale`;
  try {
    fs.renameSync(lock, aside);
  } catch {
    return; // someone else broke or released it
  }
  let caughtIno: number | undefined;
  try {
    caughtIno = fs.statSync(aside).ino;
  } catch {
    caughtIno = undefined;
  }
  if (caughtIno !== stat.ino) {
    try {
      fs.linkSync(aside, lock);
    } catch {
      // A newer lock exists already; the caught owner's release will not remove it (token check).
    }
  }
  fs.rmSync(aside, { force: true });
}

function releaseLock(lock: string, token: string): void {
  // Only remove our own lock: it may have been broken as stale and taken by someone else.
  if (parseOwner(readText(lock))?.token === token) fs.rmSync(lock, { force: true });
}

/** Write `text` to `file` via a temp file in the same folder, fsynced, then renamed over it. */
function writeDurably(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  // Make the rename itself durable; not possible on every platform (Windows), hence best effort.
  try {
    const dirFd = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  } catch {
    // best effort
  }
}

export function fileAutotuneStore(file = defaultAutotunePath()): AutotuneStore {
  const lock = `${file}.lock`;
  return {
    location: file,
    async read() {
      return parseAutotuneData(readText(file));
    },
    async update(mutate) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const token = await acquireLock(lock);
      try {
        const data = parseAutotuneData(readText(file));
        mutate(data);
        writeDurably(file, `${JSON.stringify(data, null, 1)}\n`);
      } finally {
        releaseLock(lock, token);
      }
    },
  };
}
