// Kernel choices (e.g. the matmul kernel, runtime-wide and per shape class; conv forms per
// pass and geometry) that a run records in rt.kernelChoices, made explicit and transferable:
// Node records its choices, the browser page pins Node's, so both run the same WGSL entry
// points. The families and their variants come from the kernel layer (src/kernels), so a new
// variant or family is known here without an edit. Platform neutral.
import { ConfigError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { forcedKernel, kernelFamilies, setForcedKernel, variantNames } from '../../src/kernels/index.js';

/** Pin every recorded runtime-wide setting to what the runtime uses now, and return all recorded choices. */
export function recordKernelChoices(rt: Runtime): Record<string, string> {
  for (const family of kernelFamilies()) {
    if (family.recordsSetting && !rt.kernelChoices.has(family.name)) setForcedKernel(rt, family, forcedKernel(rt, family));
  }
  return Object.fromEntries(rt.kernelChoices);
}

/** Use the given choices (e.g. a Node run's rt.kernelChoices) on this runtime. Unknown names or values are a ConfigError. */
export function applyKernelChoices(rt: Runtime, choices: Readonly<Record<string, string>>): void {
  const families = kernelFamilies();
  for (const [name, value] of Object.entries(choices)) {
    const at = name.indexOf('@');
    const family = families.find((f) => f.name === (at < 0 ? name : name.slice(0, at)));
    if (!family) {
      const names = families.map((f) => f.name);
      throw new ConfigError(`Unknown kernel choice '${name}'. Known: ${names.join(', ')} and per-class ${names.map((f) => `${f}@…`).join(', ')}.`);
    }
    // Runtime-wide settings take 'auto' too; a per-class pin names a concrete kernel.
    const values = at < 0 ? ['auto', ...variantNames(family)] : variantNames(family);
    if (!values.includes(value)) throw new ConfigError(`Kernel choice ${name}=${value} is not a variant; use one of ${values.join(', ')}.`);
    if (at < 0) setForcedKernel(rt, family, value);
    else rt.kernelChoices.set(name, value);
  }
}
