// The autotuner's persistent side: the data format of stored winners, the store interface
// (memory, Web Storage; autotune-store-node.ts has the JSON file) and the adapter key that
// entries are filed under. Device-level: it knows nothing of the kernels it stores winners for.
import type { Runtime } from './runtime.js';

export const AUTOTUNE_FORMAT = 1;

export interface CandidateTiming {
  /** Milliseconds per call (best trial), or why the candidate was dropped. */
  ms?: number;
  rejected?: 'wrong-result' | 'failed' | 'too-slow';
  detail?: string;
}

export interface AutotuneEntry {
  /** The winning kernel (a matmul kernel name). */
  kernel: string;
  /** Checksum of the candidate set the winner was picked from. */
  checksum: string;
  /** The shape that was timed (a member of the class). */
  shape: { M: number; N: number; K: number; batch: number; transA: boolean; transB: boolean };
  ms: number;
  gflops: number;
  timings: Record<string, CandidateTiming>;
  timer: 'timestamp' | 'wall';
  at: string;
}

export interface AutotuneData {
  format: number;
  /** Keyed by `${adapterKey}|${shapeClass}`. */
  entries: Record<string, AutotuneEntry>;
}

/** Where winners live. `update` must be safe against other writers (read, merge, replace). */
export interface AutotuneStore {
  read(): Promise<AutotuneData>;
  update(mutate: (data: AutotuneData) => void): Promise<void>;
  /** Where it is, for messages. */
  readonly location: string;
}

export function emptyAutotuneData(): AutotuneData {
  return { format: AUTOTUNE_FORMAT, entries: {} };
}

/** Parse stored JSON; anything unreadable or of another format counts as empty. */
export function parseAutotuneData(text: string | null | undefined): AutotuneData {
  if (!text) return emptyAutotuneData();
  try {
    const data = JSON.parse(text) as Partial<AutotuneData>;
    if (data.format !== AUTOTUNE_FORMAT || typeof data.entries !== 'object' || data.entries === null) return emptyAutotuneData();
    return { format: AUTOTUNE_FORMAT, entries: data.entries };
  } catch {
    return emptyAutotuneData();
  }
}

export function memoryAutotuneStore(initial: AutotuneData = emptyAutotuneData()): AutotuneStore {
  let text = JSON.stringify(initial);
  return {
    location: 'memory',
    async read() {
      return parseAutotuneData(text);
    },
    async update(mutate) {
      const data = parseAutotuneData(text);
      mutate(data);
      text = JSON.stringify(data);
    },
  };
}

/** Browser storage (localStorage or anything with the same two methods). */
export function webStorageAutotuneStore(storage: Pick<Storage, 'getItem' | 'setItem'>, key = 'lplr-autotune'): AutotuneStore {
  return {
    location: `web storage '${key}'`,
    async read() {
      return parseAutotuneData(storage.getItem(key));
    },
    async update(mutate) {
      const data = parseAutotuneData(storage.getItem(key));
      mutate(data);
      storage.setItem(key, JSON.stringify(data));
    },
  };
}

/** Identifies the adapter and driver path whose timings an entry holds. */
export function adapterKey(rt: Runtime): string {
  const i = rt.ctx.info;
  return [i.vendor, i.architecture, i.device, i.description, i.backend, i.featureLevel].map((s) => s.replace(/\|/g, '/')).join(':');
}

