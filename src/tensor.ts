// Tensor: a shape and a region of a GPU buffer (f32, row-major, contiguous), plus the
// autograd fields. Lifetimes are explicit: `dispose()`, or `tidy(fn)` which frees every
// tensor created inside except what fn returns. Reading to the CPU is `await t.read()`.
import { LplrError, ShapeError } from './errors.js';
import type { BufferRegion, Runtime } from './gpu/runtime.js';

let currentRuntime: Runtime | undefined;

export function setRuntime(rt: Runtime | undefined): void {
  currentRuntime = rt;
}

export function runtime(): Runtime {
  if (!currentRuntime || currentRuntime.isDestroyed) {
    throw new LplrError("No GPU runtime: call 'await init()' from 'lplr' before creating tensors.");
  }
  return currentRuntime;
}

/** Shared GPU storage; views (reshape, arena slices) hold references to it. */
export class Storage {
  refs = 1;
  constructor(
    readonly rt: Runtime,
    readonly buffer: GPUBuffer,
    readonly byteOffset: number,
    readonly byteSize: number,
    /** Pooled storages return their buffer to the runtime's pool when the last ref goes. */
    readonly pooled: boolean,
  ) {}

  release(): void {
    if (--this.refs === 0 && this.pooled) this.rt.release(this.buffer);
  }
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(shape: readonly number[], what = 'shape'): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`Invalid ${what} [${shape.join(', ')}]: dimensions must be non-negative integers.`);
  }
}

let nextId = 1;

// ------------------------------------------------------------------ scopes

type Scope = Set<Tensor>;
const scopes: Scope[] = [];

function track(t: Tensor): void {
  scopes[scopes.length - 1]?.add(t);
}

function collectTensors(value: unknown, out: Set<Tensor>): void {
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, out);
  else if (value && typeof value === 'object' && !(ArrayBuffer.isView(value))) {
    for (const v of Object.values(value as Record<string, unknown>)) collectTensors(v, out);
  }
}

function endScope(scope: Scope, result: unknown): void {
  const keep = new Set<Tensor>();
  collectTensors(result, keep);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    // keep()'d tensors leave scope management entirely; returned ones move up a level.
    if (t.kept) continue;
    if (keep.has(t)) parent?.add(t);
    else t.dispose();
  }
}

/** Run fn; dispose every tensor it created except those it returns (arrays/objects searched) or `keep()`s. */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = new Set();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) throw new LplrError('tidy() got an async function; use tidyAsync().');
  endScope(scope, result);
  return result;
}

/** Like tidy for async functions. Do not run two tidyAsync scopes concurrently. */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope: Scope = new Set();
  scopes.push(scope);
  let result: T;
  try {
    result = await fn();
  } finally {
    const idx = scopes.lastIndexOf(scope);
    if (idx >= 0) scopes.splice(idx, 1);
  }
  endScope(scope, result);
  return result;
}

// ------------------------------------------------------------------ tensor

/** A recorded op's backward rule: the gradients of its inputs from the gradient of its output. */
export type BackwardRule = (gradOutput: Tensor) => (Tensor | null | undefined)[];

/** What the autograd tape (src/autograd/tape.ts) records on an op's output. */
export interface TapeNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  readonly backward: BackwardRule;
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  readonly storage: Storage;
  requiresGrad = false;
  grad: Tensor | undefined;
  /** The tape node that produced this tensor (absent for leaves). */
  node: TapeNode | undefined;
  /** Never disposed by any tidy() (the owner disposes it). */
  kept = false;
  name: string | undefined;
  private disposed = false;

  constructor(shape: readonly number[], storage: Storage) {
    checkShape(shape);
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    if (this.size * 4 > storage.byteSize) throw new ShapeError(`Tensor of shape [${shape}] does not fit its storage`);
    this.storage = storage;
    track(this);
  }

  get rt(): Runtime {
    return this.storage.rt;
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The bytes this tensor occupies, for binding. */
  region(): BufferRegion {
    this.assertAlive();
    return { buffer: this.storage.buffer, offset: this.storage.byteOffset, size: Math.max(4, this.size * 4) };
  }

  assertAlive(): void {
    if (this.disposed) throw new LplrError(`Tensor #${this.id} [${this.shape}] was used after dispose()`);
  }

  /** Read the values back to the CPU (waits for the GPU). */
  async read(): Promise<Float32Array> {
    this.assertAlive();
    if (this.size === 0) return new Float32Array(0);
    const { buffer, offset } = this.region();
    return new Float32Array(await this.rt.readRegion({ buffer, offset, size: this.size * 4 }));
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new ShapeError(`item() needs a one-element tensor, got shape [${this.shape}]`);
    return (await this.read())[0];
  }

  keep(): this {
    this.kept = true;
    return this;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.storage.release();
    this.node = undefined;
  }

  /** A view with another shape over the same storage (no copy). */
  reshape(shape: readonly number[]): Tensor {
    const resolved = resolveReshape(this.shape, shape);
    return viewOp(this, resolved);
  }

  toString(): string {
    return `Tensor#${this.id}[${this.shape.join('x')}]`;
  }
}

// Filled in by the tape module (keeps this module free of an import cycle at load time).
let viewOp: (t: Tensor, shape: readonly number[]) => Tensor = () => {
  throw new Error('autograd not loaded');
};
export function installViewOp(fn: typeof viewOp): void {
  viewOp = fn;
}

export function resolveReshape(from: readonly number[], to: readonly number[]): number[] {
  const n = sizeOf(from);
  const minus = to.filter((d) => d === -1).length;
  if (minus > 1) throw new ShapeError(`reshape to [${to}]: at most one dimension may be -1`);
  const known = to.reduce((a, d) => (d === -1 ? a : a * d), 1);
  const out = to.map((d) => (d === -1 ? (known === 0 ? 0 : n / known) : d));
  if (sizeOf(out) !== n || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(`Cannot reshape [${from}] (${n} elements) to [${to}]`);
  }
  return out;
}

/** A new tensor that shares `base`'s storage (reshape views, arena slices). */
export function viewOf(base: Tensor, shape: readonly number[]): Tensor {
  base.storage.refs++;
  return new Tensor(shape, base.storage);
}

// ------------------------------------------------------------------ creation

export function empty(shape: readonly number[], rt: Runtime = runtime()): Tensor {
  checkShape(shape);
  const bytes = Math.max(4, sizeOf(shape) * 4);
  const buffer = rt.acquire(bytes);
  return new Tensor(shape, new Storage(rt, buffer, 0, buffer.size, true));
}

export function fromData(data: ArrayLike<number> | Float32Array, shape?: readonly number[], rt: Runtime = runtime()): Tensor {
  const arr = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
  const s = shape ?? [arr.length];
  if (sizeOf(s) !== arr.length) throw new ShapeError(`fromData: ${arr.length} values do not fill shape [${s}] (${sizeOf(s)} elements)`);
  const t = empty(s, rt);
  if (arr.length > 0) rt.write(t.storage.buffer, t.storage.byteOffset, arr);
  return t;
}

export function scalar(value: number, rt: Runtime = runtime()): Tensor {
  return fromData([value], [], rt);
}
