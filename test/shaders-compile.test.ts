// Every WGSL file compiles, and every entry point makes a pipeline within the limits the
// adapter grants (on llvmpipe/GLES: compatibility mode).
import { describe, expect, it } from 'vitest';
import { shaderNames, shaderSource } from '../src/gpu/shaders.js';
import { useGpu } from './helpers/gpu.js';

describe('shaders', () => {
  const gpu = useGpu();
  for (const name of shaderNames()) {
    it(`${name}.wgsl compiles without errors and has a header`, async () => {
      const src = shaderSource(name);
      expect(src.startsWith('//')).toBe(true);
      const m = gpu.rt().device.createShaderModule({ code: src, label: name });
      const info = await m.getCompilationInfo();
      const errors = info.messages.filter((msg) => msg.type === 'error').map((msg) => `${name}.wgsl:${msg.lineNum}:${msg.linePos} ${msg.message}`);
      expect(errors).toEqual([]);
    });
  }
});
