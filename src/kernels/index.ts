// The kernel layer: kernel families (WGSL, variants, availability, defaults), the one chooser
// between variants, unrecorded dispatch, and the matmul autotuner. Between src/gpu (device,
// runtime) and src/ops (recorded ops and backward rules). Importing this module registers
// every family with the chooser (kernelFamilies()).
export * from './chooser.js';
export * from './matmul.js';
export * from './conv.js';
export * from './reduce.js';
