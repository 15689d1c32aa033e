// 2-D convolution as a recorded op: PyTorch semantics, backward wiring of the three passes.
// The passes, variants and kernel forms are in src/kernels/conv.ts.
import { record } from '../autograd/tape.js';
import type { Tensor } from '../tensor.js';
import {
  chooseConvVariant,
  conv2dBiasGrad,
  conv2dForward,
  conv2dGeometry,
  conv2dInputGrad,
  conv2dWeightGrad,
  type Conv2dOptions,
} from '../kernels/conv.js';

export * from '../kernels/conv.js';

/**
 * y = conv2d(x, weight) + bias, PyTorch semantics (cross-correlation, zero padding),
 * x [B, Cin, H, W], weight [Cout, Cin, kh, kw], bias [Cout] → y [B, Cout, Ho, Wo].
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor, opts: Conv2dOptions = {}): Tensor {
  const g = conv2dGeometry(x.shape, weight.shape, opts.stride ?? 1, opts.padding ?? 0);
  const variant = chooseConvVariant(g, opts.variant ?? 'auto');
  const y = conv2dForward(x, weight, bias, g, variant);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('conv2d', y, inputs, (dy) => [
    x.requiresGrad ? conv2dInputGrad(dy, weight, g, variant) : null,
    weight.requiresGrad ? conv2dWeightGrad(x, dy, g, variant, opts.splits) : null,
    bias?.requiresGrad ? conv2dBiasGrad(dy, g) : null,
  ]);
}
