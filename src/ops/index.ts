// The op library. Each family file holds forward dispatch and backward rule side by side.
import { installGradKernels } from '../autograd/tape.js';
import { runtime } from '../tensor.js';
import { accumulateInto, copy, full } from './elementwise.js';

export * from './elementwise.js';
export * from './activation.js';
export * from './reduce.js';
export * from './matmul.js';
export * from './loss.js';
export * from './random.js';
export * from './conv.js';
export * from './pool.js';
export * from './batchnorm.js';

installGradKernels({
  accumulateInto: (target, g) => accumulateInto(target, g),
  copy,
  ones: (shape) => full(shape, 1, runtime()),
});
