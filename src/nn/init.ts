// Parameter initializers. All values are drawn on the CPU from one Philox stream
// (Rng(seed, 'init')), parameter by parameter in named-parameter order, so that a model's
// initial parameters are bit-identical on every adapter and in the browser.
import { ConfigError } from '../errors.js';
import type { Rng } from '../rng.js';

export const INIT_SCHEMES = ['he', 'enhanced', 'xavier', 'pytorch'] as const;
export type InitScheme = (typeof INIT_SCHEMES)[number];

/** What a parameter is, for initialization. */
export type ParamRole = 'weight' | 'bias' | 'norm-weight' | 'norm-bias';

export interface InitOptions {
  scheme: InitScheme;
  /**
   * Enhanced He: variance 2/fan_in multiplied by this factor. Default 1/D with D the number
   * of weight layers (linear and conv). This is our reading of the paper's footnote
   * ("scales the variance of the standard He initialization for each layer by a factor
   * [depending on] the total network depth"); the exact factor is not stated there.
   */
  depthFactor?: number;
}

export interface ParamInitInfo {
  role: ParamRole;
  size: number;
  fanIn: number;
  fanOut: number;
}

export function checkInitScheme(name: string): InitScheme {
  if (!(INIT_SCHEMES as readonly string[]).includes(name)) {
    throw new ConfigError(`Unknown init '${name}'. Use one of: ${INIT_SCHEMES.join(', ')}.`);
  }
  return name as InitScheme;
}

/**
 * He/Kaiming normal N(0, 2/fan_in) on every weight layer including the output layer,
 * biases 0 (the paper's setting); enhanced: the same variance times depthFactor;
 * Xavier normal N(0, 2/(fan_in+fan_out)); PyTorch's default: U(±1/√fan_in) for weight
 * and bias (kaiming_uniform with a = √5). Normalization layers: weight 1, bias 0.
 */
export function initValues(info: ParamInitInfo, opts: InitOptions, weightLayers: number, rng: Rng): Float32Array {
  const { role, size, fanIn, fanOut } = info;
  if (role === 'norm-weight') return new Float32Array(size).fill(1);
  if (role === 'norm-bias') return new Float32Array(size);
  const bound = 1 / Math.sqrt(fanIn);
  switch (opts.scheme) {
    case 'he':
      return role === 'bias' ? new Float32Array(size) : rng.normals(size, Math.sqrt(2 / fanIn));
    case 'enhanced': {
      const factor = opts.depthFactor ?? 1 / weightLayers;
      if (!(factor > 0)) throw new ConfigError(`Enhanced init needs a positive depth factor, got ${factor}.`);
      return role === 'bias' ? new Float32Array(size) : rng.normals(size, Math.sqrt((2 / fanIn) * factor));
    }
    case 'xavier':
      return role === 'bias' ? new Float32Array(size) : rng.normals(size, Math.sqrt(2 / (fanIn + fanOut)));
    case 'pytorch':
      return rng.uniforms(size, -bound, bound);
  }
}
