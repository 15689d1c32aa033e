// Layers for MLPs: Linear (PyTorch layout W [out, in]), activations, Sequential.
import { ConfigError, ShapeError } from '../errors.js';
import { activation, type ActivationName, ACTIVATIONS } from '../ops/activation.js';
import { linear } from '../ops/matmul.js';
import type { Tensor } from '../tensor.js';
import { Module, type ParamDecl } from './module.js';

export class Linear extends Module {
  readonly weight: ParamDecl;
  readonly bias: ParamDecl | undefined;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    withBias = true,
  ) {
    super();
    if (!(inFeatures > 0 && outFeatures > 0)) throw new ConfigError(`Linear(${inFeatures}, ${outFeatures}): sizes must be positive`);
    this.weight = this.param('weight', [outFeatures, inFeatures], 'weight', inFeatures, outFeatures);
    this.bias = withBias ? this.param('bias', [outFeatures], 'bias', inFeatures, outFeatures) : undefined;
  }

  forward(x: Tensor, act: 'none' | 'relu' = 'none'): Tensor {
    if (x.shape[x.rank - 1] !== this.inFeatures) {
      throw new ShapeError(`Linear(${this.inFeatures}, ${this.outFeatures}) got input [${x.shape}]`);
    }
    return linear(x, this.p(this.weight), this.bias ? this.p(this.bias) : undefined, act);
  }
}

export class Activation extends Module {
  constructor(readonly kind: ActivationName) {
    super();
    if (!ACTIVATIONS.includes(kind)) throw new ConfigError(`Unknown activation '${kind}'. Use one of: ${ACTIVATIONS.join(', ')}.`);
  }

  forward(x: Tensor): Tensor {
    return activation(this.kind, x);
  }
}

export class ReLU extends Activation {
  constructor() {
    super('relu');
  }
}

/** Children named '0', '1', ... like torch.nn.Sequential. Linear followed by ReLU runs as one fused kernel. */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.child(String(i), m));
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i];
      const next = this.layers[i + 1];
      if (layer instanceof Linear && next instanceof Activation && next.kind === 'relu') {
        h = layer.forward(h, 'relu');
        i++;
      } else {
        h = layer.forward(h);
      }
    }
    return h;
  }
}

/**
 * The paper's MLP: `depth` linear layers with ReLU between them, e.g. depth 5:
 * in → W → W → W → W → out. Parameter names are those of
 * nn.Sequential(Linear, ReLU, ..., Linear): 0.weight, 0.bias, 2.weight, ...
 */
export function mlp(opts: { inputs: number; width: number; depth: number; outputs: number; activation?: ActivationName }): Sequential {
  const { inputs, width, depth, outputs } = opts;
  if (!Number.isInteger(depth) || depth < 1) throw new ConfigError(`--depth must be an integer >= 1, got ${depth}`);
  if (!Number.isInteger(width) || width < 1) throw new ConfigError(`--width must be an integer >= 1, got ${width}`);
  const layers: Module[] = [];
  for (let l = 0; l < depth; l++) {
    const fanIn = l === 0 ? inputs : width;
    const fanOut = l === depth - 1 ? outputs : width;
    layers.push(new Linear(fanIn, fanOut));
    if (l < depth - 1) layers.push(new Activation(opts.activation ?? 'relu'));
  }
  return new Sequential(layers);
}
