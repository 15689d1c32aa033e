// Modules: a tree of layers whose parameters carry PyTorch's names (so that safetensors
// files interchange with torch state_dicts). Parameters are declared by the layers and
// materialized together by `build()` into one parameter arena and one gradient arena.
import { ConfigError, ShapeError } from '../errors.js';
import type { Runtime } from '../gpu/runtime.js';
import { Rng } from '../rng.js';
import { type Tensor, fromData, runtime } from '../tensor.js';
import { Arena, planArena } from './arena.js';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { initValues, type InitOptions, type ParamRole } from './init.js';

export interface ParamDecl {
  shape: number[];
  role: ParamRole;
  fanIn: number;
  fanOut: number;
  /** The live tensor once the model is built (a view into the parameter arena). */
  tensor?: Tensor;
}

/** Non-trainable state saved with the parameters (e.g. batch-norm running statistics). */
export interface BufferDecl {
  shape: number[];
  initial: number;
  tensor?: Tensor;
}

export abstract class Module {
  training = true;
  private readonly ownParams: [string, ParamDecl][] = [];
  private readonly ownBuffers: [string, BufferDecl][] = [];
  private readonly children: [string, Module][] = [];

  protected param(name: string, shape: number[], role: ParamRole, fanIn: number, fanOut: number): ParamDecl {
    const decl: ParamDecl = { shape, role, fanIn, fanOut };
    this.ownParams.push([name, decl]);
    return decl;
  }

  protected buffer(name: string, shape: number[], initial: number): BufferDecl {
    const decl: BufferDecl = { shape, initial };
    this.ownBuffers.push([name, decl]);
    return decl;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.push([name, m]);
    return m;
  }

  abstract forward(x: Tensor): Tensor;

  /** PyTorch order: own parameters first, then each child's, recursively. */
  namedParameters(prefix = ''): [string, ParamDecl][] {
    const out: [string, ParamDecl][] = this.ownParams.map(([n, d]) => [prefix + n, d]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  namedBuffers(prefix = ''): [string, BufferDecl][] {
    const out: [string, BufferDecl][] = this.ownBuffers.map(([n, d]) => [prefix + n, d]);
    for (const [n, c] of this.children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  modules(): Module[] {
    return [this, ...this.children.flatMap(([, c]) => c.modules())];
  }

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Number of weight layers (linear, conv): the D of the enhanced init. */
  weightLayerCount(): number {
    return this.namedParameters().filter(([, d]) => d.role === 'weight').length;
  }

  /** The tensor of a built parameter. */
  p(decl: ParamDecl): Tensor {
    if (!decl.tensor) throw new ConfigError('The model is not built: call build(model, { init, seed }) first.');
    return decl.tensor;
  }
}

export interface BuildOptions extends InitOptions {
  seed: number;
  rt?: Runtime;
}

/** A built model: its parameter and gradient arenas. */
export class ParameterSet {
  constructor(
    readonly model: Module,
    readonly params: Arena,
    readonly grads: Arena,
    readonly names: string[],
  ) {}

  get rt(): Runtime {
    return this.params.rt;
  }

  tensors(): Tensor[] {
    return this.names.map((n) => this.params.view(n));
  }

  count(): number {
    return this.params.totalFloats;
  }

  zeroGrad(): void {
    this.grads.zero();
  }

  dispose(): void {
    for (const [, d] of this.model.namedParameters()) d.tensor = undefined;
    for (const [, b] of this.model.namedBuffers()) {
      b.tensor?.dispose();
      b.tensor = undefined;
    }
    this.params.dispose();
    this.grads.dispose();
  }
}

/**
 * Allocate the model's parameters in one arena (gradients in a second one with the
 * same layout), fill them with the chosen initializer, and attach the tensors.
 */
export function build(model: Module, opts: BuildOptions): ParameterSet {
  const rt = opts.rt ?? runtime();
  const named = model.namedParameters();
  if (named.length === 0) throw new ConfigError('The model has no parameters.');
  const layout = planArena(named.map(([name, d]) => ({ name, shape: d.shape })), rt);
  const params = new Arena(rt, layout, 'params');
  const grads = new Arena(rt, layout, 'grads');
  const rng = new Rng(opts.seed, 'init');
  const layers = model.weightLayerCount();
  for (const [name, d] of named) {
    const size = d.shape.reduce((a, b) => a * b, 1);
    params.write(name, initValues({ role: d.role, size, fanIn: d.fanIn, fanOut: d.fanOut }, opts, layers, rng));
    const t = params.view(name);
    t.requiresGrad = true;
    t.grad = grads.view(name);
    d.tensor = t;
  }
  for (const [name, b] of model.namedBuffers()) {
    const size = b.shape.reduce((a, c) => a * c, 1);
    b.tensor = fromData(new Float32Array(size).fill(b.initial), b.shape, rt).keep();
    b.tensor.name = name;
  }
  return new ParameterSet(model, params, grads, named.map(([n]) => n));
}

/** Replace the parameter values of a built model (e.g. from a safetensors file). */
export function loadParameters(set: ParameterSet, values: Map<string, { shape: number[]; data: Float32Array }>, source: string): void {
  const expected = set.model.namedParameters();
  const buffers = set.model.namedBuffers();
  const known = new Set([...expected.map(([n]) => n), ...buffers.map(([n]) => n)]);
  const missing = expected.map(([n]) => n).filter((n) => !values.has(n));
  if (missing.length) {
    throw new ConfigError(
      `${source} lacks parameters ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}; ` +
        `expected PyTorch names like ${expected.slice(0, 3).map(([n]) => n).join(', ')} (nn.Sequential layout).`,
    );
  }
  const unknown = [...values.keys()].filter((n) => !known.has(n));
  if (unknown.length) {
    throw new ConfigError(`${source} has tensors this model does not: ${unknown.slice(0, 5).join(', ')}. Check --width/--depth against the file.`);
  }
  for (const [name, d] of expected) {
    const v = values.get(name)!;
    if (v.shape.length !== d.shape.length || v.shape.some((s, i) => s !== d.shape[i])) {
      throw new ShapeError(`${source}: '${name}' has shape [${v.shape}] but the model needs [${d.shape}]. Check --width/--depth.`);
    }
    set.params.write(name, v.data);
  }
  for (const [name, b] of buffers) {
    const v = values.get(name);
    if (!v || !b.tensor) continue;
    if (v.data.length !== b.tensor.size) throw new ShapeError(`${source}: buffer '${name}' has ${v.data.length} values, the model needs ${b.tensor.size}`);
    set.rt.write(b.tensor.storage.buffer, b.tensor.storage.byteOffset, v.data);
  }
}

/** All parameters and buffers as name → values (for export and checkpoints). */
export async function readState(set: ParameterSet): Promise<{ name: string; shape: number[]; data: Float32Array }[]> {
  const values = await set.params.readAll();
  const out = set.model.namedParameters().map(([name, d]) => ({ name, shape: d.shape, data: values.get(name)! }));
  for (const [name, b] of set.model.namedBuffers()) {
    if (b.tensor) out.push({ name, shape: b.shape, data: await b.tensor.read() });
  }
  return out;
}


/**
 * The model's parameters and buffers as a safetensors file with PyTorch's names; `rename` maps
 * each name to another convention (e.g. a CIFAR ResNet's, toCifarResnetName).
 */
export async function exportSafetensors(set: ParameterSet, metadata?: Record<string, string>, rename: (name: string) => string = (n) => n): Promise<Uint8Array> {
  return serializeSafetensors((await readState(set)).map((t) => ({ ...t, name: rename(t.name) })), metadata);
}

/** Load a safetensors file (PyTorch names, e.g. from torch's save_file(model.state_dict())) into a built model. */
export function importSafetensors(set: ParameterSet, bytes: Uint8Array, source = 'safetensors file'): void {
  const { tensors } = parseSafetensors(bytes, source);
  loadParameters(set, new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }])), source);
}
