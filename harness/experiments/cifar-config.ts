// The CIFAR-10 lab's configuration (paper §6.3, Figure 3): flags, presets, and the resolved
// config whose hash identifies a run (checkpoints refuse to resume another configuration).
// No Node imports: the browser page resolves the same configs.
import { ConfigError } from '../../src/errors.js';
import { CLASSIFIER_LOSSES, type ClassifierLoss } from '../../src/metrics/ntk-cnn.js';
import { DEFAULT_EMA_BETA } from '../../src/metrics/smoothing.js';
import { INIT_SCHEMES, type InitScheme } from '../../src/nn/init.js';
import type { OptionSpec, ParsedArgs } from '../options/args.js';

export interface CifarRunConfig {
  kind: 'cifar';
  preset: string;
  /** ResNet depth 6n+2 (8, 14, 20, 32, ...). */
  depth: number;
  /** Channels of the three stages. */
  widths: [number, number, number];
  /** CIFAR-10 class ids used, relabelled 0..k-1 in this order. */
  classes: number[];
  /** Training batch files data_batch_N.bin; null = every file present in the data folder. */
  trainBatches: number[] | null;
  epochs: number;
  batchSize: number;
  /**
   * Base learning rate, cosine-annealed towards 0 over the run: without warmup step s of T uses
   * lr·(1 + cos(π·s/T))/2, so the last step taken (s = T − 1) still uses lr·(1 + cos(π(T−1)/T))/2 > 0;
   * the value 0 belongs to s = T, which is never taken (with warmup, s and T count from its end).
   */
  lr: number;
  warmupSteps: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  augment: boolean;
  init: InitScheme;
  seed: number;
  /** Full-training-set gradient every k epochs (0 = off). */
  fullGradEvery: number;
  /** Training loss: softmax cross-entropy, or ½·mean over samples of ‖logits − onehot‖². */
  loss: ClassifierLoss;
  /** Output-NTK checks (batch norm in eval mode) every k epochs (0 = off). */
  ntkEvery: number;
  /** Size of the fixed seeded subset S of training images for the NTK (K is |S|·C square). */
  ntkSamples: number;
  /** β of the EMA that smooths the mini-batch curves for the fits (summary and report only). */
  emaBeta: number;
  /** Test images per forward pass during evaluation (does not change the numbers' meaning). */
  evalBatchSize: number;
  dataDir?: string;
  fitWindow?: [number, number];
  /** --init-from: start from these parameters and batch-norm buffers (safetensors, PyTorch CIFAR ResNet names). */
  initFrom?: string;
  /** The --init-from file by content (Node fills it in): the hash covers it, not the path. */
  initContent?: { bytes: number; sha256: string };
}

export interface CifarPreset {
  description: string;
  values: Partial<CifarRunConfig>;
}

/** Presets are pinned configurations, not defined by time. */
export const CIFAR_PRESETS: Record<string, CifarPreset> = {
  default: {
    description: 'ResNet-8, training batch file 1 only (about 5,000 images of the 5 classes), 5 epochs, batch 128, lr 0.1, momentum 0.9, weight decay 5e-4',
    values: { depth: 8, widths: [16, 32, 64], trainBatches: [1], epochs: 5, batchSize: 128, lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
  },
  paper: {
    description: "Our reading of the paper's setting: ResNet-20, all five training batches (25,000 images of the 5 classes), 30 epochs, batch 128, lr 0.1, momentum 0.9, weight decay 5e-4",
    values: { depth: 20, widths: [16, 32, 64], trainBatches: [1, 2, 3, 4, 5], epochs: 30, batchSize: 128, lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
  },
  tiny: {
    description: 'For tests and smoke checks: ResNet-8 with widths 4,8,8, batch 8, 2 epochs, lr 0.05',
    values: { depth: 8, widths: [4, 8, 8], trainBatches: [1], epochs: 2, batchSize: 8, lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
  },
};

export const CIFAR_OPTIONS: OptionSpec[] = [
  { name: 'preset', type: 'string', help: 'pinned configuration', choices: Object.keys(CIFAR_PRESETS), default: 'default' },
  { name: 'depth', type: 'int', help: 'ResNet depth 6n+2 (8, 14, 20, 32, 44, 56, 110)', min: 8, max: 1202 },
  { name: 'widths', type: 'int-list', help: 'channels of the three stages', placeholder: 'A,B,C', min: 1, max: 4096 },
  { name: 'classes', type: 'int-list', help: 'CIFAR-10 classes used (relabelled 0..k-1 in this order)', placeholder: 'A,B,...', default: [0, 1, 2, 3, 4], min: 0, max: 9 },
  { name: 'train-batches', type: 'string', help: "training batch files data_batch_N.bin to read, or 'all' (every file present)", placeholder: 'N,M|all' },
  { name: 'epochs', type: 'int', help: 'passes over the training set (0 with --save-params: write the initial parameters and stop)', min: 0, max: 100_000 },
  { name: 'batch-size', type: 'int', help: 'mini-batch size', min: 2, max: 65536 },
  { name: 'lr', type: 'number', help: 'base learning rate (cosine-annealed to 0 over the run)', min: 0 },
  { name: 'warmup-steps', type: 'int', help: 'linear warmup steps before the cosine part', default: 0, min: 0 },
  { name: 'momentum', type: 'number', help: "SGD momentum (0 = the plain SGD of the paper's text)", min: 0, max: 0.999999 },
  { name: 'weight-decay', type: 'number', help: 'L2 weight decay (added to the gradient in the update; not in the reported loss)', min: 0 },
  { name: 'nesterov', type: 'bool', help: 'Nesterov momentum', default: false },
  { name: 'augment', type: 'bool', help: 'random crop (pad 4) and horizontal flip; off = one fixed objective', default: false },
  { name: 'init', type: 'string', help: 'initialization of conv and linear weights', choices: INIT_SCHEMES, default: 'he' },
  { name: 'seed', type: 'int', help: 'seed for init, data order and augmentation', default: 0, min: 0 },
  { name: 'full-grad-every', type: 'int', help: 'also measure the full-training-set loss and gradient every k epochs (0 = off)', default: 0, min: 0 },
  { name: 'loss', type: 'string', help: 'training loss: ce = softmax cross-entropy; mse = ½·mean over samples of ‖logits − onehot‖² (the squared loss of the theory)', choices: CLASSIFIER_LOSSES, default: 'ce' },
  { name: 'ntk-every', type: 'int', help: 'output-NTK check (batch norm in eval mode) at epoch 0, every k epochs and at the end (0 = off); with --loss mse also the PL ratio vs λ_min(K)/|S|', default: 0, min: 0 },
  { name: 'ntk-samples', type: 'int', help: 'training images in the fixed seeded NTK subset S (K has (|S|·classes)² entries; one backward per output)', default: 16, min: 2, max: 4096 },
  { name: 'ema-beta', type: 'number', help: 'β of the bias-corrected EMA smoothing the mini-batch curves in [0, 1) (summary and report only)', default: DEFAULT_EMA_BETA, min: 0 },
  { name: 'eval-batch-size', type: 'int', help: 'test images per forward pass', default: 256, min: 1, max: 65536 },
  { name: 'data-dir', type: 'string', help: 'folder with the CIFAR-10 binary batches (or cifar-10-batches-bin/ inside it)', placeholder: 'DIR' },
  {
    name: 'init-from',
    type: 'string',
    help: 'start from these parameters and batch-norm buffers (safetensors with a PyTorch CIFAR ResNet\'s names: conv1.weight, bn1.running_mean, layer1.0.conv1.weight, layer2.0.shortcut.0.weight, ..., linear.weight; see docs/resnet.md)',
    placeholder: 'FILE',
  },
  { name: 'fit-window', type: 'range', help: 'epochs whose steps the fits use, inclusive (default 5 to 0.9·E)', placeholder: 'A:B' },
];

function parseTrainBatches(raw: string): number[] | null {
  if (raw === 'all') return null;
  const parts = raw.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.some((p) => !/^\d+$/.test(p)) || nums.some((n) => n < 1 || n > 5) || new Set(nums).size !== nums.length) {
    throw new ConfigError(`--train-batches expects distinct batch numbers 1..5 (e.g. 1,2) or 'all', got '${raw}'.`);
  }
  return nums;
}

export function resolveCifarConfig(parsed: ParsedArgs): CifarRunConfig {
  const v = parsed.values;
  const presetName = String(v.preset ?? 'default');
  const preset = CIFAR_PRESETS[presetName];
  if (!preset) throw new ConfigError(`Unknown preset '${presetName}'. Use one of: ${Object.keys(CIFAR_PRESETS).join(', ')}.`);
  const pick = <T>(flag: string, key: keyof CifarRunConfig, fallback: T): T =>
    (parsed.given.has(flag) ? v[flag] : (preset.values[key] as T | undefined) ?? fallback) as T;

  const depth = pick('depth', 'depth', 8);
  if ((depth - 2) % 6 !== 0) throw new ConfigError(`--depth must be 6n+2 (8, 14, 20, 32, 44, 56, 110), got ${depth}.`);
  const widths = pick<number[]>('widths', 'widths', [16, 32, 64]);
  if (widths.length !== 3) throw new ConfigError(`--widths takes the channels of the three stages, e.g. --widths 16,32,64; got '${widths.join(',')}'.`);
  const classes = v.classes as number[];
  if (classes.length < 2 || new Set(classes).size !== classes.length) {
    throw new ConfigError(`--classes needs at least two different CIFAR-10 classes 0..9, e.g. --classes 0,1,2,3,4; got '${classes.join(',')}'.`);
  }
  const trainBatches = parsed.given.has('train-batches') ? parseTrainBatches(String(v['train-batches'])) : (preset.values.trainBatches ?? null);

  const config: CifarRunConfig = {
    kind: 'cifar',
    preset: presetName,
    depth,
    widths: [widths[0], widths[1], widths[2]],
    classes: [...classes],
    trainBatches,
    epochs: pick('epochs', 'epochs', 5),
    batchSize: pick('batch-size', 'batchSize', 128),
    lr: pick('lr', 'lr', 0.1),
    warmupSteps: v['warmup-steps'] as number,
    momentum: pick('momentum', 'momentum', 0.9),
    weightDecay: pick('weight-decay', 'weightDecay', 5e-4),
    nesterov: Boolean(v.nesterov),
    augment: Boolean(v.augment),
    init: v.init as InitScheme,
    seed: v.seed as number,
    fullGradEvery: v['full-grad-every'] as number,
    loss: v.loss as ClassifierLoss,
    ntkEvery: v['ntk-every'] as number,
    ntkSamples: v['ntk-samples'] as number,
    emaBeta: v['ema-beta'] as number,
    evalBatchSize: v['eval-batch-size'] as number,
    dataDir: v['data-dir'] as string | undefined,
    initFrom: v['init-from'] as string | undefined,
    fitWindow: v['fit-window'] as [number, number] | undefined,
  };
  if (config.nesterov && config.momentum <= 0) throw new ConfigError('--nesterov needs --momentum > 0.');
  if (!(config.emaBeta >= 0 && config.emaBeta < 1)) {
    throw new ConfigError(`--ema-beta must be in [0, 1), got ${config.emaBeta}. Use e.g. 0.98 (the default) for heavy smoothing or 0.9 for light.`);
  }
  if (parsed.given.has('ntk-samples') && config.ntkEvery === 0) {
    throw new ConfigError('--ntk-samples only sizes the NTK checks, which are off. Add --ntk-every k (e.g. --ntk-every 1) or drop --ntk-samples.');
  }
  // The summary's fit window is in 0-based epochs of the step rows (the last one is E-1).
  if (config.fitWindow && config.fitWindow[1] > config.epochs - 1) {
    throw new ConfigError(`--fit-window ${config.fitWindow.join(':')} ends after the last epoch ${config.epochs - 1} (epochs count from 0).`);
  }
  return config;
}

/** Learning-rate warmup must leave at least one cosine step; checked once the step count is known. */
export function checkWarmup(config: CifarRunConfig, totalSteps: number): void {
  if (config.warmupSteps >= totalSteps) {
    throw new ConfigError(`--warmup-steps ${config.warmupSteps} is not less than the run's ${totalSteps} steps. Use fewer warmup steps or more epochs.`);
  }
}

/**
 * The fields that determine a run's result (what its hash covers): not the preset name, eval
 * batching or the analysis settings (fit window, EMA β). The loss and the NTK checks enter only
 * when not at their defaults (ce, off), so runs configured before they existed keep their hashes.
 */
export function cifarIdentity(c: CifarRunConfig): Record<string, unknown> {
  const ntkOn = c.ntkEvery > 0;
  return {
    ...c,
    preset: undefined,
    evalBatchSize: undefined,
    // The file counts by its content (initContent), wherever it lies.
    initFrom: undefined,
    fitWindow: undefined,
    emaBeta: undefined,
    loss: c.loss === 'ce' ? undefined : c.loss,
    ntkEvery: ntkOn ? c.ntkEvery : undefined,
    ntkSamples: ntkOn ? c.ntkSamples : undefined,
  };
}
