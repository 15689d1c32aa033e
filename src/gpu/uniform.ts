// Little-endian packing of uniform structs in WGSL declaration order (4-byte fields;
// the caller keeps vec4 arrays 16-byte aligned, as the shader headers lay them out).
import { shaderSource } from './shaders.js';
export class UniformWriter {
  private view = new DataView(new ArrayBuffer(256));
  private offset = 0;

  u32(value: number): this {
    this.view.setUint32(this.offset, value >>> 0, true);
    this.offset += 4;
    return this;
  }

  f32(value: number): this {
    this.view.setFloat32(this.offset, value, true);
    this.offset += 4;
    return this;
  }

  /** `count` u32 values padded with `fill` (e.g. an array<vec4<u32>, 2> of rank-8 shape data). */
  u32s(values: readonly number[], count: number, fill = 0): this {
    for (let i = 0; i < count; i++) this.u32(i < values.length ? values[i] : fill);
    return this;
  }

  bytes(): Uint8Array {
    // Uniform structs are padded to 16 bytes.
    return new Uint8Array(this.view.buffer, 0, Math.max(16, Math.ceil(this.offset / 16) * 16));
  }
}

export function uniform(): UniformWriter {
  return new UniformWriter();
}

type Scalar = 'u32' | 'i32' | 'f32';
type Field = { name: string; type: Scalar; count: number };

/**
 * A uniform struct's layout read from the WGSL that declares it, so the struct is written once
 * (a schema in shaders/uniforms/, which the #import line turns into the struct, or the
 * shader's own text) and the TypeScript side packs by field name. Fields are 4-byte scalars
 * (u32, i32, f32) or arrays of vec4 of them (array<vec4<u32>, N>, packed from up to 4·N
 * numbers, the rest 0), as every Params block in shaders/ is.
 */
export class UniformLayout {
  private constructor(
    readonly struct: string,
    readonly fields: readonly Field[],
  ) {}

  /** Parse `struct NAME { ... }` from a (assembled) WGSL source. */
  static fromWgsl(source: string, struct = 'Params'): UniformLayout {
    const m = new RegExp(`struct\\s+${struct}\\s*\\{([^}]*)\\}`).exec(source);
    if (!m) throw new Error(`uniformLayout: the WGSL declares no struct ${struct}`);
    const body = m[1].replace(/\/\/[^\n]*/g, '');
    const fields = [...body.matchAll(/(\w+)\s*:\s*((?:array<[^>]*>[^>]*>)|[\w<>]+)\s*(?:,|$)/g)].map(([, name, type]): Field => {
      const arr = /^array<vec4<(u32|i32|f32)>,\s*(\d+)>$/.exec(type.replace(/\s+/g, ' '));
      if (arr) return { name, type: arr[1] as Scalar, count: 4 * Number(arr[2]) };
      if (type !== 'u32' && type !== 'i32' && type !== 'f32') throw new Error(`uniformLayout: field ${struct}.${name} has type ${type}; only u32, i32 and f32 (or arrays of vec4 of them) are packed`);
      return { name, type, count: 0 };
    });
    return new UniformLayout(struct, fields);
  }

  /** The block's bytes; fields named with a leading '_' are padding and default to 0. */
  pack(values: Readonly<Record<string, number | readonly number[]>>): Uint8Array {
    const w = uniform();
    for (const f of this.fields) {
      const v = values[f.name];
      if (v === undefined && !f.name.startsWith('_')) throw new Error(`uniformLayout: no value for ${this.struct}.${f.name}`);
      if (f.count > 0) {
        const list = typeof v === 'number' ? [v] : (v ?? []);
        if (list.length > f.count) throw new Error(`uniformLayout: ${this.struct}.${f.name} holds ${f.count} values, got ${list.length}`);
        for (let i = 0; i < f.count; i++) this.put(w, f.type, i < list.length ? list[i] : 0);
      } else {
        if (typeof v === 'object') throw new Error(`uniformLayout: ${this.struct}.${f.name} is a scalar, got a list`);
        this.put(w, f.type, v ?? 0);
      }
    }
    for (const k of Object.keys(values)) {
      if (!this.fields.some((f) => f.name === k)) throw new Error(`uniformLayout: ${this.struct} has no field '${k}'`);
    }
    return w.bytes();
  }

  /** The packed block as 32-bit signed words (the staging caches key and fill their uniform buffers by these). */
  words(values: Readonly<Record<string, number | readonly number[]>>): number[] {
    const bytes = this.pack(values);
    return [...new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)];
  }

  private put(w: UniformWriter, type: Scalar, v: number): void {
    if (type === 'f32') w.f32(v);
    else w.u32(v);
  }
}

const layouts = new Map<string, UniformLayout>();

/** The Params layout of a registered shader (declared by its schema in shaders/uniforms/), read once. */
export function paramsLayout(shader: string): UniformLayout {
  let l = layouts.get(shader);
  if (!l) {
    l = UniformLayout.fromWgsl(shaderSource(shader));
    layouts.set(shader, l);
  }
  return l;
}
