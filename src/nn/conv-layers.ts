// Layers for convolutional networks (NCHW) and the ResNet builders. Parameter and buffer
// names follow torch.nn / torchvision so that a state_dict of the PyTorch twin (see
// docs/resnet.md) interchanges with ours: conv1.weight, bn1.running_var,
// layer2.0.downsample.0.weight, fc.bias, ...
import { ConfigError, ShapeError } from '../errors.js';
import { relu } from '../ops/activation.js';
import { batchNorm2d } from '../ops/batchnorm.js';
import { conv2d, type ConvVariant } from '../ops/conv.js';
import { add } from '../ops/elementwise.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../ops/pool.js';
import type { Tensor } from '../tensor.js';
import { Linear, Sequential } from './layers.js';
import { type BufferDecl, Module, type ParamDecl } from './module.js';

function positiveInt(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${what} must be an integer >= 1, got ${value}`);
}

export interface Conv2dLayerOptions {
  stride?: number;
  padding?: number;
  /** PyTorch's default is true; ResNet convolutions (followed by batch norm) use false. */
  bias?: boolean;
  /** Kernel choice (benchmarks); 'auto' picks matmul for 1x1 stride 1, implicit GEMM otherwise. */
  variant?: ConvVariant | 'auto';
}

/** torch.nn.Conv2d(in, out, k, stride, padding, bias): weight [out, in, k, k], bias [out]. */
export class Conv2d extends Module {
  readonly weight: ParamDecl;
  readonly bias: ParamDecl | undefined;
  readonly stride: number;
  readonly padding: number;
  variant: ConvVariant | 'auto';

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    positiveInt(inChannels, 'Conv2d in_channels');
    positiveInt(outChannels, 'Conv2d out_channels');
    positiveInt(kernelSize, 'Conv2d kernel_size');
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.variant = opts.variant ?? 'auto';
    const receptive = kernelSize * kernelSize;
    // fan_in = in·k·k and fan_out = out·k·k, as torch.nn.init computes them for conv weights.
    this.weight = this.param('weight', [outChannels, inChannels, kernelSize, kernelSize], 'weight', inChannels * receptive, outChannels * receptive);
    this.bias = (opts.bias ?? true) ? this.param('bias', [outChannels], 'bias', inChannels * receptive, outChannels * receptive) : undefined;
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new ShapeError(`Conv2d(${this.inChannels}, ${this.outChannels}) expects input [batch, ${this.inChannels}, height, width], got [${x.shape}]`);
    }
    return conv2d(x, this.p(this.weight), this.bias ? this.p(this.bias) : undefined, {
      stride: this.stride,
      padding: this.padding,
      variant: this.variant,
    });
  }
}

/**
 * torch.nn.BatchNorm2d(C): weight/bias [C] (roles norm-weight/norm-bias: 1 and 0 at init),
 * buffers running_mean (0), running_var (1), num_batches_tracked (0, stored as f32).
 * Training mode (module.train()) normalizes with batch statistics and updates the running
 * estimates; eval mode (module.eval()) uses the running estimates.
 */
export class BatchNorm2d extends Module {
  readonly weight: ParamDecl;
  readonly bias: ParamDecl;
  readonly runningMean: BufferDecl;
  readonly runningVar: BufferDecl;
  readonly numBatchesTracked: BufferDecl;

  constructor(
    readonly numFeatures: number,
    readonly opts: { eps?: number; momentum?: number } = {},
  ) {
    super();
    positiveInt(numFeatures, 'BatchNorm2d num_features');
    this.weight = this.param('weight', [numFeatures], 'norm-weight', numFeatures, numFeatures);
    this.bias = this.param('bias', [numFeatures], 'norm-bias', numFeatures, numFeatures);
    this.runningMean = this.buffer('running_mean', [numFeatures], 0);
    this.runningVar = this.buffer('running_var', [numFeatures], 1);
    this.numBatchesTracked = this.buffer('num_batches_tracked', [], 0);
  }

  private state(decl: BufferDecl): Tensor {
    if (!decl.tensor) throw new ConfigError('The model is not built: call build(model, { init, seed }) first.');
    return decl.tensor;
  }

  forward(x: Tensor): Tensor {
    return batchNorm2d(x, this.p(this.weight), this.p(this.bias), {
      training: this.training,
      runningMean: this.state(this.runningMean),
      runningVar: this.state(this.runningVar),
      numBatchesTracked: this.state(this.numBatchesTracked),
      eps: this.opts.eps,
      momentum: this.opts.momentum,
    });
  }
}

export class MaxPool2d extends Module {
  constructor(readonly opts: { kernel: number; stride?: number; padding?: number }) {
    super();
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.opts);
  }
}

export class AvgPool2d extends Module {
  constructor(readonly opts: { kernel: number; stride?: number; padding?: number; countIncludePad?: boolean }) {
    super();
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.opts);
  }
}

/** [B, C, H, W] → [B, C]: AdaptiveAvgPool2d(1) followed by flatten. */
export class GlobalAvgPool extends Module {
  forward(x: Tensor): Tensor {
    return globalAvgPool(x);
  }
}

/** [B, ...] → [B, Π rest], a view (no copy). */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    if (x.rank < 1) throw new ShapeError('Flatten needs a tensor with a batch axis');
    return x.reshape([x.shape[0], -1]);
  }
}

/**
 * torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)) with 3x3
 * convolutions (the first strided) and, when the shape changes, a projection shortcut
 * `downsample` = Sequential(1x1 strided Conv2d, BatchNorm2d), else the identity.
 */
export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | undefined;

  constructor(
    readonly inPlanes: number,
    readonly planes: number,
    readonly stride = 1,
  ) {
    super();
    this.conv1 = this.child('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.child('bn1', new BatchNorm2d(planes));
    this.conv2 = this.child('conv2', new Conv2d(planes, planes, 3, { stride: 1, padding: 1, bias: false }));
    this.bn2 = this.child('bn2', new BatchNorm2d(planes));
    if (stride !== 1 || inPlanes !== planes) {
      this.downsample = this.child('downsample', new Sequential([new Conv2d(inPlanes, planes, 1, { stride, bias: false }), new BatchNorm2d(planes)]));
    }
  }

  forward(x: Tensor): Tensor {
    const h = relu(this.bn1.forward(this.conv1.forward(x)));
    const main = this.bn2.forward(this.conv2.forward(h));
    const shortcut = this.downsample ? this.downsample.forward(x) : x;
    return relu(add(main, shortcut));
  }
}

/** Stem (3x3 conv + BN + ReLU), stages of BasicBlocks, global average pooling, linear head. */
export class ResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly stages: Sequential[];
  readonly pool: GlobalAvgPool;
  readonly fc: Linear;

  constructor(opts: { blocks: readonly number[]; widths: readonly number[]; classes: number; inChannels: number }) {
    super();
    const { blocks, widths, classes, inChannels } = opts;
    if (blocks.length === 0 || blocks.length !== widths.length) {
      throw new ConfigError(`ResNet needs one width per stage: got ${blocks.length} stages and ${widths.length} widths`);
    }
    for (const w of widths) positiveInt(w, 'ResNet width');
    for (const b of blocks) positiveInt(b, 'ResNet blocks per stage');
    positiveInt(classes, 'ResNet classes');
    positiveInt(inChannels, 'ResNet inChannels');
    this.conv1 = this.child('conv1', new Conv2d(inChannels, widths[0], 3, { stride: 1, padding: 1, bias: false }));
    this.bn1 = this.child('bn1', new BatchNorm2d(widths[0]));
    let planes = widths[0];
    this.stages = blocks.map((count, s) => {
      const list: BasicBlock[] = [];
      for (let i = 0; i < count; i++) {
        // Downsample (stride 2) at the first block of every stage but the first.
        list.push(new BasicBlock(planes, widths[s], i === 0 && s > 0 ? 2 : 1));
        planes = widths[s];
      }
      return this.child(`layer${s + 1}`, new Sequential(list));
    });
    this.pool = new GlobalAvgPool();
    this.fc = this.child('fc', new Linear(planes, classes));
  }

  forward(x: Tensor): Tensor {
    let h = relu(this.bn1.forward(this.conv1.forward(x)));
    for (const stage of this.stages) h = stage.forward(h);
    return this.fc.forward(this.pool.forward(h));
  }
}

export interface CifarResNetOptions {
  /** 6n + 2: 8, 14, 20, 32, 44, 56, 110. */
  depth: number;
  /** Channels of the three stages (default [16, 32, 64], He et al.'s CIFAR ResNets). */
  widths?: readonly [number, number, number] | readonly number[];
  classes: number;
  inChannels?: number;
}

/**
 * CIFAR-style ResNet-(6n+2): 3x3 stem conv + BN + ReLU, three stages of n BasicBlocks
 * (stride 2 at the start of stages 2 and 3), global average pooling, linear head.
 */
export function resnet(opts: CifarResNetOptions): ResNet {
  const n = (opts.depth - 2) / 6;
  if (!Number.isInteger(n) || n < 1) {
    throw new ConfigError(`ResNet --depth must be 6n+2 (8, 14, 20, 32, 44, 56, 110), got ${opts.depth}`);
  }
  const widths = opts.widths ?? [16, 32, 64];
  if (widths.length !== 3) throw new ConfigError(`CIFAR ResNet takes three stage widths, got [${widths.join(', ')}]`);
  return new ResNet({ blocks: [n, n, n], widths, classes: opts.classes, inChannels: opts.inChannels ?? 3 });
}

/** ResNet-18 layout (stages [2, 2, 2, 2], widths 64-128-256-512) with a 3x3 stem for 32x32 inputs. */
export function resnet18(opts: { classes: number; inChannels?: number }): ResNet {
  return new ResNet({ blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512], classes: opts.classes, inChannels: opts.inChannels ?? 3 });
}

/**
 * Our ResNet's state-dict names (torchvision's: `layer2.0.downsample.0.weight`, `fc.weight`) as a
 * PyTorch CIFAR ResNet names them (`layer2.0.shortcut.0.weight`, `linear.weight`; the convention
 * of the common CIFAR ResNet-20 code with projection shortcuts, "option B"). Every other name
 * (`conv1.weight`, `bn1.running_mean`, `layer1.0.conv2.weight`, ...) is the same in both.
 */
export function toCifarResnetName(name: string): string {
  return name.replace(/^fc\./, 'linear.').replace(/\.downsample\./, '.shortcut.');
}

/** The inverse of toCifarResnetName; names already in our (torchvision) form pass unchanged. */
export function fromCifarResnetName(name: string): string {
  return name.replace(/^linear\./, 'fc.').replace(/\.shortcut\./, '.downsample.');
}
