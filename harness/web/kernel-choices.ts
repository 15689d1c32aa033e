// Kernel choices (e.g. the matmul kernel, runtime-wide and per shape class) that a run records
// in rt.kernelChoices, made explicit and transferable: Node records its choices, the browser
// page pins Node's, so both run the same WGSL entry points. Platform neutral.
import { ConfigError } from '../../src/errors.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { defaultMatmulVariant, MATMUL_VARIANTS, setMatmulVariant, type MatmulVariant } from '../../src/ops/matmul.js';

interface KernelChoice {
  values: readonly string[];
  /** The setting the runtime uses now. */
  current(rt: Runtime): string;
  apply(rt: Runtime, value: string): void;
}

/** Runtime-wide choices with a setter; a new choosable kernel family adds itself here. */
const SETTINGS: Record<string, KernelChoice> = {
  matmul: {
    values: MATMUL_VARIANTS,
    current: (rt) => defaultMatmulVariant(rt),
    apply: (rt, v) => setMatmulVariant(rt, v as MatmulVariant),
  },
};

/**
 * Choices an op records per shape class as `family@class` on first use and reads back as a
 * pin afterwards (matmul@64x64x1024:nn = register, ...): the family's concrete kernels.
 */
const PER_CLASS: Record<string, readonly string[]> = {
  matmul: (MATMUL_VARIANTS as readonly string[]).filter((v) => v !== 'auto'),
};

/** Pin every runtime-wide setting to what the runtime uses now, and return all recorded choices. */
export function recordKernelChoices(rt: Runtime): Record<string, string> {
  for (const [name, choice] of Object.entries(SETTINGS)) {
    if (!rt.kernelChoices.has(name)) choice.apply(rt, choice.current(rt));
  }
  return Object.fromEntries(rt.kernelChoices);
}

/** Use the given choices (e.g. a Node run's rt.kernelChoices) on this runtime. Unknown names or values are a ConfigError. */
export function applyKernelChoices(rt: Runtime, choices: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(choices)) {
    const at = name.indexOf('@');
    const family = at < 0 ? name : name.slice(0, at);
    const values = at < 0 ? SETTINGS[family]?.values : PER_CLASS[family];
    if (!values) throw new ConfigError(`Unknown kernel choice '${name}'. Known: ${Object.keys(SETTINGS).join(', ')} and per-class ${Object.keys(PER_CLASS).map((f) => `${f}@…`).join(', ')}.`);
    if (!values.includes(value)) throw new ConfigError(`Kernel choice ${name}=${value} is not a variant; use one of ${values.join(', ')}.`);
    if (at < 0) SETTINGS[family].apply(rt, value);
    else rt.kernelChoices.set(name, value);
  }
}
