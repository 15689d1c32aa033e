// Activations: forward dispatch and backward rule side by side. Kernel: shaders/activation.wgsl.
import { grid1d } from '../gpu/runtime.js';
import { paramsLayout } from '../gpu/uniform.js';
import { record } from '../autograd/tape.js';
import { empty, type Tensor } from '../tensor.js';

const ACT = { relu: 0, leakyRelu: 1, tanh: 2, sigmoid: 3, gelu: 4, softplus: 5 } as const;
export type ActivationName = keyof typeof ACT;
export const ACTIVATIONS = Object.keys(ACT) as ActivationName[];

function params(n: number, alpha: number): Uint8Array {
  return paramsLayout('activation').pack({ n, alpha });
}

function grid(x: Tensor) {
  return grid1d(x.size, 256, x.rt.limits.maxComputeWorkgroupsPerDimension);
}

/** dx = dy · act'(x), as a standalone kernel (used by the rules below). */
export function activationBackward(name: ActivationName, x: Tensor, dy: Tensor, alpha = 0.01): Tensor {
  const dx = empty(x.shape, x.rt);
  x.rt.dispatch({ shader: 'activation', entry: 'backward', overrides: { ACT: ACT[name] } }, params(x.size, alpha), [x.region(), dy.region(), dx.region()], grid(x));
  return dx;
}

export function activation(name: ActivationName, x: Tensor, alpha = 0.01): Tensor {
  const y = empty(x.shape, x.rt);
  x.rt.dispatch({ shader: 'activation', entry: 'forward', overrides: { ACT: ACT[name] } }, params(x.size, alpha), [x.region(), y.region()], grid(x));
  return record(name, y, [x], (g) => [activationBackward(name, x, g, alpha)]);
}

export const relu = (x: Tensor): Tensor => activation('relu', x);
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => activation('leakyRelu', x, slope);
export const tanh = (x: Tensor): Tensor => activation('tanh', x);
export const sigmoid = (x: Tensor): Tensor => activation('sigmoid', x);
export const gelu = (x: Tensor): Tensor => activation('gelu', x);
export const softplus = (x: Tensor): Tensor => activation('softplus', x);
