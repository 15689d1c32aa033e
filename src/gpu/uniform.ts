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
