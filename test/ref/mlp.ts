// A float64 reference MLP (Linear layers with PyTorch's W [out, in] layout, ReLU between
// them) with a hand-written backward pass, trained with the reference SGD on ½·MSE.
import { type RefArray, refArray } from './array.js';
import { matmul, matmulVjp, mseLoss, mseLossVjp } from './ops.js';
import { RefSgd, type RefSgdOptions } from './sgd.js';

export interface RefLayer {
  weight: RefArray;
  bias: RefArray;
}

/** Forward pass; returns every layer input (for backward) and the output. */
export function mlpForward(layers: RefLayer[], x: RefArray): { inputs: RefArray[]; output: RefArray } {
  const inputs: RefArray[] = [];
  let h = x;
  layers.forEach((layer, l) => {
    inputs.push(h);
    h = matmul(h, layer.weight, { transB: true, bias: layer.bias, relu: l < layers.length - 1 });
  });
  return { inputs, output: h };
}

/** Loss and gradients of ½·MSE with respect to every weight and bias. */
export function mlpLossAndGrads(layers: RefLayer[], x: RefArray, y: RefArray): { loss: number; grads: RefLayer[] } {
  const { inputs, output } = mlpForward(layers, x);
  const loss = mseLoss(output, y);
  let g = mseLossVjp(output, y);
  const grads: RefLayer[] = new Array(layers.length);
  for (let l = layers.length - 1; l >= 0; l--) {
    const layer = layers[l];
    const vjp = matmulVjp(inputs[l], layer.weight, g, { transB: true, bias: layer.bias, relu: l < layers.length - 1 });
    grads[l] = { weight: vjp.b, bias: vjp.bias ?? refArray(layer.bias.shape) };
    g = vjp.a;
  }
  return { loss, grads };
}

/** Full-batch training; returns the loss before each step. Updates `layers` in place. */
export function trainMlp(layers: RefLayer[], x: RefArray, y: RefArray, steps: number, sgd: RefSgdOptions): number[] {
  const opt = new RefSgd(sgd);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const { loss, grads } = mlpLossAndGrads(layers, x, y);
    losses.push(loss);
    opt.step(
      layers.flatMap((L) => [L.weight.data, L.bias.data]),
      grads.flatMap((G) => [G.weight.data, G.bias.data]),
    );
  }
  return losses;
}
