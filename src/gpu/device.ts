/// <reference types="@webgpu/types" preserve="true" />
// Device creation that works the same in Node (Dawn) and in a browser (navigator.gpu).
// The platform-specific part is only how a GPUAdapter is obtained (an AdapterSource);
// everything after that, limits, features, error surfacing, lives here.
import { AdapterError, GpuError } from '../errors.js';

export type FeatureLevel = 'core' | 'compatibility';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Dawn backend name in Node ('vulkan', 'opengles', ...) or 'browser'. */
  backend: string;
  featureLevel: FeatureLevel;
  isFallbackAdapter: boolean;
  /** True for CPU rasterizers (llvmpipe, SwiftShader, lavapipe, WARP). */
  isSoftware: boolean;
}

export interface AcquiredAdapter {
  adapter: GPUAdapter;
  backend: string;
  featureLevel: FeatureLevel;
  /** Called once when the engine is done with the GPU (lets Node exit). */
  release?: () => void;
}

/** How a platform hands us an adapter; see node.ts and browser.ts. */
export type AdapterSource = () => Promise<AcquiredAdapter>;

export interface GpuLimitsInUse {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupsPerDimension: number;
  minStorageBufferOffsetAlignment: number;
  minUniformBufferOffsetAlignment: number;
  maxUniformBufferBindingSize: number;
  maxSampledTexturesPerShaderStage: number;
  maxTextureDimension2D: number;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: AdapterDescription;
  limits: GpuLimitsInUse;
  features: string[];
  hasTimestamps: boolean;
  hasF16: boolean;
  /** First asynchronous WebGPU error not yet reported to the caller. */
  takeError(): GpuError | undefined;
  /** Queue an error found asynchronously (e.g. shader compilation messages). */
  reportError(err: GpuError): void;
  /** Set by the runtime: what ran last ('after kernels a:main, b:main'), for errors that arrive outside its error scopes and for device loss. */
  setWorkContext?(describe: () => string): void;
  destroy(): void;
}

const SOFTWARE_PATTERN = /llvmpipe|swiftshader|lavapipe|softpipe|warp|microsoft basic render/i;

export function describeAdapter(adapter: GPUAdapter, backend: string, featureLevel: FeatureLevel): AdapterDescription {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  const isFallbackAdapter = Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    backend,
    featureLevel,
    isFallbackAdapter,
    isSoftware: isFallbackAdapter || SOFTWARE_PATTERN.test(text),
  };
}

const WANTED_LIMITS: (keyof GpuLimitsInUse)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
  'maxUniformBufferBindingSize',
  'maxSampledTexturesPerShaderStage',
  'maxTextureDimension2D',
];

const OPTIONAL_FEATURES = ['timestamp-query', 'shader-f16'] as const;

/**
 * Create a device asking for the adapter's real limits (the defaults are far lower
 * than what most adapters grant) and the optional features we can use.
 */
export async function createGpuContext(source: AdapterSource): Promise<GpuContext> {
  const acquired = await source();
  const { adapter } = acquired;
  const info = describeAdapter(adapter, acquired.backend, acquired.featureLevel);

  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (err) {
    acquired.release?.();
    throw new AdapterError(
      `The adapter "${info.description || info.device}" refused to create a device (${String(err)}). ` +
        `Try another backend with --backend or LPLR_BACKEND.`,
    );
  }

  const pending: GpuError[] = [];
  let destroyed = false;
  let workContext: () => string = () => '';
  const context = () => {
    const text = workContext();
    return text ? ` ${text}` : '';
  };
  device.addEventListener('uncapturederror', (event) => {
    // Handled here (surfaced as a GpuError): without preventDefault Dawn also prints the
    // raw "validation: ..." text to stdout, where it would corrupt --json output.
    event.preventDefault();
    const e = (event as GPUUncapturedErrorEvent).error;
    pending.push(new GpuError(`WebGPU error${context()}: ${e.message}`));
  });
  device.lost.then((lost) => {
    if (destroyed) return;
    pending.push(
      new GpuError(
        `The GPU device was lost${context()} (${lost.reason}: ${lost.message}). ` +
          `Finished work is in the last checkpoint; resume with 'lplr resume RUN_DIR'.`,
      ),
    );
  });

  const limits = {} as GpuLimitsInUse;
  for (const name of WANTED_LIMITS) {
    limits[name] = (device.limits as unknown as Record<string, number>)[name] ?? 0;
  }
  const features = [...device.features].map(String).sort();

  return {
    device,
    adapter,
    info,
    limits,
    features,
    hasTimestamps: device.features.has('timestamp-query'),
    hasF16: device.features.has('shader-f16'),
    takeError: () => pending.shift(),
    reportError: (err) => {
      pending.unshift(err);
    },
    setWorkContext: (describe) => {
      workContext = describe;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      device.destroy();
      acquired.release?.();
    },
  };
}

/**
 * The error for "no adapter": what to install on a CPU-only Linux machine and which
 * backends to try instead (`alternatives`, without the one that just failed).
 */
export function noAdapterError(details: string, alternatives: readonly string[] = ['vulkan', 'opengles']): AdapterError {
  const pick = alternatives.length ? `--backend ${alternatives.join('|')}` : '--backend';
  return new AdapterError(
    `No WebGPU adapter is available (${details}). On Linux without a GPU install Mesa's software ` +
      `renderer: 'apt-get install -y libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri'. ` +
      `To choose another backend use ${pick} or LPLR_BACKEND, or leave both unset to pick one automatically.`,
  );
}
