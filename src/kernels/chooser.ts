// The one kernel chooser. A kernel family (matmul, conv2d forms, ...) is described once by a
// KernelFamily: its variants (each with the WGSL it runs and when it can run), the default
// per shape and adapter, and how shapes group into classes. Every family decides the same
// way, in this order:
//   forced  by the call, or runtime-wide (setForcedKernel; kernelChoices[family])
//   pinned  per shape class in rt.kernelChoices (`family@class`), e.g. a resumed run's or
//           Node's choices handed to the browser page
//   tuned   the autotuner's winner for the class (setTunedKernels)
//   default the family's measured preference for the adapter
// The first automatic choice of a class is recorded as its pin, so a run never changes
// kernels midway and can pass its choices on. A forced or pinned kernel that cannot run the
// shape yields to the tuned/default choice; chooser events count which kernel really ran.
import { ConfigError } from '../errors.js';
import type { Runtime } from '../gpu/runtime.js';
import { shaderSource } from '../gpu/shaders.js';

/** One way to compute a family's result. */
export interface KernelVariant<S> {
  /** The WGSL files (names in shaders/) it runs; their assembled text is its version. */
  readonly shaders: readonly string[];
  /** Whether it can run this shape on this adapter (texture sizes, scratch, grid limits). */
  available(rt: Runtime, s: S): boolean;
}

export interface KernelFamily<S, V extends KernelVariant<S> = KernelVariant<S>> {
  /** Key in rt.kernelChoices: `name` for the runtime-wide setting, `name@class` for pins. */
  readonly name: string;
  /** The variants in a stable order (the first is the reference). Adding an entry adds a variant. */
  readonly variants: Map<string, V>;
  /** The shape class a choice is recorded under. */
  shapeClass(s: S): string;
  /** What runs when nothing is forced, pinned or tuned: the adapter's measured preference. */
  untuned(rt: Runtime, s: S): string;
  /** Whether the runtime-wide setting is recorded in rt.kernelChoices when set (matmul's is). */
  readonly recordsSetting?: boolean;
}

interface FamilyState {
  forced: string;
  tuned: Map<string, string>;
  /** How often each variant ran, and how often a forced or pinned one yielded. */
  ran: Map<string, number>;
  yielded: Map<string, number>;
}

const states = new WeakMap<Runtime, Map<string, FamilyState>>();

function state(rt: Runtime, family: string): FamilyState {
  let byFamily = states.get(rt);
  if (!byFamily) states.set(rt, (byFamily = new Map()));
  let s = byFamily.get(family);
  if (!s) byFamily.set(family, (s = { forced: 'auto', tuned: new Map(), ran: new Map(), yielded: new Map() }));
  return s;
}

/** The family's variant names, in order. */
export function variantNames(family: KernelFamily<never>): string[] {
  return [...family.variants.keys()];
}

function unknown(family: KernelFamily<never>, value: string): ConfigError {
  return new ConfigError(`Unknown ${family.name} variant '${value}'. Use one of: auto, ${variantNames(family).join(', ')}.`);
}

/** The runtime-wide setting: 'auto' unless one variant is forced for every shape. */
export function forcedKernel(rt: Runtime, family: KernelFamily<never>): string {
  return state(rt, family.name).forced;
}

/** Force one variant for every shape ('auto' restores the per-class choice). */
export function setForcedKernel<S>(rt: Runtime, family: KernelFamily<S>, value: string): void {
  if (value !== 'auto' && !family.variants.has(value)) throw unknown(family as KernelFamily<never>, value);
  state(rt, family.name).forced = value;
  if (family.recordsSetting) rt.kernelChoices.set(family.name, value);
}

/** Tuned winners by shape class (from the autotuner); used for classes not yet chosen. */
export function setTunedKernels<S>(rt: Runtime, family: KernelFamily<S>, winners: ReadonlyMap<string, string>): void {
  state(rt, family.name).tuned = new Map(winners);
}

/** Pin one class's variant (as a resumed run or the page does); an unknown variant is a ConfigError. */
export function pinKernel<S>(rt: Runtime, family: KernelFamily<S>, shapeClass: string, value: string): void {
  if (!family.variants.has(value)) {
    throw new ConfigError(`Kernel choice ${family.name}@${shapeClass}=${value} is not a ${family.name} kernel; use one of ${variantNames(family as KernelFamily<never>).join(', ')}.`);
  }
  rt.kernelChoices.set(`${family.name}@${shapeClass}`, value);
}

/** The per-class choices made (or pinned) so far on this runtime, by class. */
export function pinnedKernels(rt: Runtime, family: KernelFamily<never>): Record<string, string> {
  const prefix = `${family.name}@`;
  const out: Record<string, string> = {};
  for (const [k, v] of rt.kernelChoices) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

/** The variant a call runs: forced → pinned → tuned → default, as described above. */
export function chooseKernel<S>(rt: Runtime, family: KernelFamily<S>, s: S, requested = 'auto'): string {
  const st = state(rt, family.name);
  const can = (v: string) => family.variants.get(v)?.available(rt, s) ?? false;
  const want = requested !== 'auto' ? requested : st.forced;
  let chosen: string;
  if (want !== 'auto') {
    if (!family.variants.has(want)) throw unknown(family as KernelFamily<never>, want);
    if (can(want)) chosen = want;
    else {
      st.yielded.set(want, (st.yielded.get(want) ?? 0) + 1);
      chosen = automatic(rt, family, s, st, false);
    }
  } else {
    chosen = automatic(rt, family, s, st, true);
  }
  st.ran.set(chosen, (st.ran.get(chosen) ?? 0) + 1);
  return chosen;
}

function automatic<S>(rt: Runtime, family: KernelFamily<S>, s: S, st: FamilyState, usePins: boolean): string {
  const can = (v: string | undefined): v is string => v !== undefined && (family.variants.get(v)?.available(rt, s) ?? false);
  // A forced variant that cannot run yields to the default, without recording it.
  if (!usePins) return family.untuned(rt, s);
  const cls = family.shapeClass(s);
  const key = `${family.name}@${cls}`;
  const pinned = rt.kernelChoices.get(key);
  if (can(pinned)) return pinned;
  if (pinned !== undefined) st.yielded.set(pinned, (st.yielded.get(pinned) ?? 0) + 1);
  const tuned = st.tuned.get(cls);
  const chosen = can(tuned) ? tuned : family.untuned(rt, s);
  // First use of this class: record it, so the rest of the run keeps it.
  if (pinned === undefined) rt.kernelChoices.set(key, chosen);
  return chosen;
}

/**
 * Which variants ran on this runtime (counts by name), and which forced or pinned ones had to
 * yield because they could not run the shape: tests assert on these instead of trusting that
 * a forced kernel ran.
 */
export function kernelRuns(rt: Runtime, family: KernelFamily<never>): { ran: Record<string, number>; yielded: Record<string, number> } {
  const st = state(rt, family.name);
  return { ran: Object.fromEntries(st.ran), yielded: Object.fromEntries(st.yielded) };
}

/** FNV-1a 32-bit, hex. Enough to notice an edited source; not a security hash. */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** A fingerprint of a variant's assembled WGSL (preludes included): a new version invalidates tuned entries. */
export function kernelVersion<S>(family: KernelFamily<S>, variant: string): string {
  const v = family.variants.get(variant);
  if (!v) throw unknown(family as KernelFamily<never>, variant);
  return fnv1a(v.shaders.map((f) => shaderSource(f)).join('\u0000'));
}

const gpuPlans = new WeakSet<Runtime>();

/**
 * Test-only switch: the choosers and planners (matmul and conv defaults, reduction passes)
 * plan as on a hardware GPU even on a software adapter (llvmpipe), so that the branches only
 * GPUs take run, and are checked, in CI. Off by default; results on real GPUs are unaffected.
 * Set it on a fresh runtime: shape classes chosen before keep their recorded pins.
 */
export function setGpuPlans(rt: Runtime, on: boolean): void {
  if (on) gpuPlans.add(rt);
  else gpuPlans.delete(rt);
}

/** Whether plans suit a CPU adapter: a software adapter, unless setGpuPlans asked for GPU plans. */
export function plansForSoftware(rt: Runtime): boolean {
  return rt.ctx.info.isSoftware && !gpuPlans.has(rt);
}

/** Every family whose choices rt.kernelChoices may hold (kernel choices, verify-browser pins). */
const families = new Map<string, KernelFamily<never>>();

export function registerFamily<S, V extends KernelVariant<S>>(family: KernelFamily<S, V>): KernelFamily<S, V> {
  families.set(family.name, family as unknown as KernelFamily<never>);
  return family;
}

export function kernelFamilies(): KernelFamily<never>[] {
  return [...families.values()];
}
