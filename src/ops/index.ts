// The op library. Each family file holds forward dispatch and backward rule side by side.

export * from './elementwise.js';
export * from './activation.js';
export * from './reduce.js';
export * from './matmul.js';
export * from './loss.js';
export * from './random.js';
export * from './conv.js';
export * from './pool.js';
export * from './batchnorm.js';
export { backward } from './backward.js';

