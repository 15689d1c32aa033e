// Browser adapter source: navigator.gpu. Core feature level first, then compatibility
// (e.g. Chromium with --use-webgpu-adapter=opengles).
import { AdapterError } from '../errors.js';
import type { AcquiredAdapter, AdapterSource, FeatureLevel } from './device.js';

export interface BrowserAdapterOptions {
  featureLevel?: FeatureLevel;
  powerPreference?: GPUPowerPreference;
}

export function browserAdapterSource(options: BrowserAdapterOptions = {}): AdapterSource {
  return async (): Promise<AcquiredAdapter> => {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) {
      throw new AdapterError(
        'This browser exposes no WebGPU (navigator.gpu is missing). Use a recent Chrome/Edge, ' +
          'or enable WebGPU (chrome://flags/#enable-unsafe-webgpu, Firefox Nightly dom.webgpu.enabled), over https or localhost.',
      );
    }
    const levels: FeatureLevel[] = options.featureLevel ? [options.featureLevel] : ['core', 'compatibility'];
    for (const featureLevel of levels) {
      const adapter = await gpu.requestAdapter({
        featureLevel,
        powerPreference: options.powerPreference ?? 'high-performance',
      } as GPURequestAdapterOptions);
      if (adapter) {
        const level = (adapter as { featureLevel?: string }).featureLevel === 'compatibility' ? 'compatibility' : featureLevel;
        return { adapter, backend: 'browser', featureLevel: level };
      }
    }
    throw new AdapterError('navigator.gpu returned no adapter. Check that WebGPU is enabled and a GPU driver (or SwiftShader) is available.');
  };
}
