// The engine's layering, checked by test/layering.test.ts (so by `npm test`), or by hand:
//   npx depcruise --config .dependency-cruiser.cjs src harness bench
// From the bottom: src/gpu (device, runtime) → src/tensor.ts, src/autograd → src/kernels
// (kernel families: WGSL, choosers, unrecorded dispatch) → src/ops (recorded ops, backward
// rules) → src/nn, src/optim, src/metrics (generic fits, NTK, Lanczos, Hessian), src/io → the lab
// (harness/; the paper's summary and verdicts in harness/analysis/) and bench/.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'gpu-is-the-bottom',
      comment: 'src/gpu is the device layer: it imports nothing of lplr above it (errors are shared by all).',
      severity: 'error',
      from: { path: '^src/gpu/' },
      to: { path: '^src/', pathNot: ['^src/gpu/', '^src/errors\\.ts$'] },
    },
    {
      name: 'engine-not-lab',
      comment: 'The engine (src/) does not know the lab or the benchmarks.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(harness|bench)/' },
    },
    {
      name: 'kernels-below-ops',
      comment: 'src/kernels sits between the device and the ops: it imports no ops, layers, optimizers or metrics.',
      severity: 'error',
      from: { path: '^src/kernels/' },
      to: { path: '^src/(ops|nn|optim|metrics|io)/' },
    },
    {
      name: 'ops-below-models',
      comment: 'src/ops imports nothing from nn, optim or metrics.',
      severity: 'error',
      from: { path: '^src/ops/' },
      to: { path: '^src/(nn|optim|metrics)/' },
    },
    {
      name: 'analysis-is-neutral',
      comment: "harness/analysis (the paper's summary and verdicts) runs in Node and in the page: no Node built-ins, and nothing of the lab's other folders.",
      severity: 'error',
      from: { path: '^harness/analysis/' },
      to: { path: ['^harness/(?!analysis/)', '^(node:)?(fs|path|os|child_process|url|crypto|worker_threads)$'] },
    },
    {
      name: 'options-stand-alone',
      comment: 'harness/options (argument parsing) is imported by the CLI, the experiments, sweeps and the page alike, so it imports nothing of the lab.',
      severity: 'error',
      from: { path: '^harness/options/' },
      to: { path: '^harness/(?!options/)' },
    },
    {
      name: 'no-cycles-in-src',
      comment: 'No import cycles in the engine, type-only imports included.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-cycles-in-lab',
      comment: 'No import cycles in harness/ and bench/ either (Experiment and LabRunConfig are declared apart from the modules that use them).',
      severity: 'error',
      from: { path: '^(harness|bench)/' },
      to: { circular: true },
    },
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/' },
    // WGSL imports are text, not modules.
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.wgsl'] },
  },
};
