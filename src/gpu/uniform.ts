// Little-endian packing of uniform structs in WGSL declaration order (4-byte fields;
// the caller keeps vec4 arrays 16-byte aligned, as the shader headers lay them out).
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

type FieldType = 'u32' | 'i32' | 'f32';

/**
 * A uniform struct's layout read from the WGSL that declares it, so the struct is written once
 * (in the shader or its prelude) and the TypeScript side packs by field name. Fields are
 * scalars of 4 bytes (u32, i32, f32), as every Params block in shaders/ is.
 */
export class UniformLayout {
  private constructor(
    readonly struct: string,
    readonly fields: readonly { name: string; type: FieldType }[],
  ) {}

  /** Parse `struct NAME { ... }` from a (assembled) WGSL source. */
  static fromWgsl(source: string, struct = 'Params'): UniformLayout {
    const m = new RegExp(`struct\\s+${struct}\\s*\\{([^}]*)\\}`).exec(source);
    if (!m) throw new Error(`uniformLayout: the WGSL declares no struct ${struct}`);
    const body = m[1].replace(/\/\/[^\n]*/g, '');
    const fields = [...body.matchAll(/(\w+)\s*:\s*([\w<>, ]+?)\s*(?:,|$)/g)].map(([, name, type]) => {
      if (type !== 'u32' && type !== 'i32' && type !== 'f32') throw new Error(`uniformLayout: field ${struct}.${name} has type ${type}; only u32, i32 and f32 are packed`);
      return { name, type: type as FieldType };
    });
    return new UniformLayout(struct, fields);
  }

  /** The block's bytes; fields named with a leading '_' are padding and default to 0. */
  pack(values: Readonly<Record<string, number>>): Uint8Array {
    const w = uniform();
    for (const f of this.fields) {
      const v = values[f.name];
      if (v === undefined && !f.name.startsWith('_')) throw new Error(`uniformLayout: no value for ${this.struct}.${f.name}`);
      if (f.type === 'f32') w.f32(v ?? 0);
      else w.u32(v ?? 0);
    }
    for (const k of Object.keys(values)) {
      if (!this.fields.some((f) => f.name === k)) throw new Error(`uniformLayout: ${this.struct} has no field '${k}'`);
    }
    return w.bytes();
  }
}
