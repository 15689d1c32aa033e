// Platform-neutral public API. entry-node.ts and entry-browser.ts add `init()` with the
// platform's adapter source.
import { createGpuContext, type AdapterSource } from './gpu/device.js';
import { Runtime } from './gpu/runtime.js';
import { setRuntime } from './tensor.js';

export * from './errors.js';
export * from './tensor.js';
export { noGrad, isGradEnabled } from './autograd/tape.js';
export { backward } from './ops/backward.js';
export * as ops from './ops/index.js';
export * from './ops/index.js';
export { Runtime, type MemoryStats, type DispatchStats, type KernelSpec, type BufferRegion } from './gpu/runtime.js';
export { type GpuContext, type AdapterDescription, type AdapterSource, createGpuContext } from './gpu/device.js';
export { Rng, philox4x32, deriveKey, type RngState } from './rng.js';

/** Create a runtime from an adapter source and make it the default for new tensors. */
export async function initWithSource(source: AdapterSource): Promise<Runtime> {
  const ctx = await createGpuContext(source);
  const rt = new Runtime(ctx);
  setRuntime(rt);
  return rt;
}

export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export { parseSafetensors, serializeSafetensors } from './io/safetensors.js';
// Generic curve fits; the paper's summary and verdicts are the lab's (harness/analysis/).
export { fitLogGap, fitLogLog, fitOffsetModels, linearFit, spearman } from './metrics/fit.js';
export { arenaSumSquares, arenaDistanceSq, readScalars } from './metrics/norms.js';
