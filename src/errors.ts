// Error classes whose messages name the problem and the fix. The CLI maps every
// LplrError to exit code 2 and a single line.

export class LplrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor's shape does not fit the operation. */
export class ShapeError extends LplrError {}

/** A user-supplied option, flag or config value is wrong. */
export class ConfigError extends LplrError {}

/** A data file is missing, truncated, corrupt or of the wrong format. */
export class DataError extends LplrError {}

/** No WebGPU adapter could be obtained, or the adapter cannot do what was asked. */
export class AdapterError extends LplrError {}

/** A buffer or dispatch exceeds a limit of the adapter in use. */
export class LimitError extends LplrError {}

/** WebGPU reported a validation/out-of-memory/internal error or lost the device. */
export class GpuError extends LplrError {}

/** Training produced NaN or Inf; `epoch` is where, when the trainer knows it. */
export class DivergenceError extends LplrError {
  constructor(
    message: string,
    readonly epoch?: number,
  ) {
    super(message);
  }
}

export function assertShape(cond: boolean, message: string): asserts cond {
  if (!cond) throw new ShapeError(message);
}

/** Closest candidate by edit distance, for "did you mean" hints. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best !== undefined && bestDist <= Math.max(2, Math.floor(name.length / 2)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}
