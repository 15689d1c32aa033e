// `lplr profile EXPERIMENT [--steps N] [options]`: run a few training steps of an
// experiment under the kernel profiler (src/gpu/profiler.ts) and print a per-kernel table
// (calls, total ms, share, GFLOP/s or GB/s) and the CPU-side encode time per step.
import { closest, ConfigError } from '../../src/errors.js';
import { init } from '../../src/entry-node.js';
import { formatProfile, Profiler, type ProfileSource } from '../../src/gpu/profiler.js';
import { arenaDistanceSq, arenaSumSquares, readScalars } from '../../src/metrics/norms.js';
import { MATMUL_VARIANTS, setMatmulVariant, type MatmulVariant } from '../../src/ops/matmul.js';
import { tidy } from '../../src/tensor.js';
import { MLP_OPTIONS, resolveMlpConfig } from '../experiments/mlp-config.js';
import { loadMlpData } from '../experiments/mlp-lab.js';
import { createMlpState, disposeMlpState, lossAndGradient, mlpEpochFlops } from '../experiments/mlp-train.js';
import { helpText, parseArgs, type OptionSpec } from '../options/args.js';
import type { Verb } from './verb.js';

const PROFILED = ['fig1'] as const;

const OPTIONS: OptionSpec[] = [
  { name: 'steps', type: 'int', help: 'profiled training steps (after one untimed warm-up step)', default: 3, min: 1, max: 10_000 },
  { name: 'mode', type: 'string', help: "timing source ('auto': timestamps where the adapter has them)", choices: ['auto', 'timestamps', 'timed-submits'], default: 'auto' },
  { name: 'matmul', type: 'string', help: 'force one matmul kernel (default: the per-shape choice)', choices: MATMUL_VARIANTS, default: 'auto' },
  { name: 'json', type: 'bool', help: 'print the profile as JSON', default: false },
  { name: 'backend', type: 'string', help: 'Dawn backend (vulkan, opengles, swiftshader, ...)', placeholder: 'NAME' },
  { name: 'adapter', type: 'string', help: 'prefer an adapter whose name contains this', placeholder: 'NAME' },
  ...MLP_OPTIONS,
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const profileVerb: Verb = {
  name: 'profile',
  summary: 'per-kernel GPU time of an experiment\'s training steps (fig1)',
  async run(argv) {
    const name = argv[0];
    if (!name || name.startsWith('--')) {
      const usage = helpText(`lplr profile ${PROFILED.join('|')} [options]`, 'Profile training steps of an experiment: per-kernel time, share and throughput, CPU encode time.', OPTIONS);
      process.stdout.write(`${usage}\n`);
      return name === '--help' || name === '-h' ? 0 : 2;
    }
    if (!(PROFILED as readonly string[]).includes(name)) {
      const hint = closest(name, PROFILED);
      throw new ConfigError(`'lplr profile' knows the experiments ${PROFILED.join(', ')}, not '${name}'.${hint ? ` Did you mean '${hint}'?` : ''}`);
    }
    const args = parseArgs(argv.slice(1), OPTIONS);
    const v = args.values;
    if (v.help) {
      process.stdout.write(`${helpText(`lplr profile ${name} [options]`, 'Profile training steps: per-kernel time, share and throughput, CPU encode time.', OPTIONS)}\n`);
      return 0;
    }
    // Everything that can fail without a GPU fails first.
    const config = resolveMlpConfig(args);
    const data = loadMlpData(config);
    const steps = v.steps as number;
    const rt = await init({ quiet: true, backend: v.backend as string | undefined, adapter: v.adapter as string | undefined });
    setMatmulVariant(rt, v.matmul as MatmulVariant);
    const state = createMlpState(rt, { ...config, epochs: steps + 1 }, data, { maxRowsPerChunk: config.maxRowsPerChunk });
    const profiler = new Profiler(rt, { mode: v.mode as 'auto' | ProfileSource });
    try {
      // One step as the trainer runs it: gradient, the epoch's scalars, update, one readback.
      const step = async () => {
        const scalars = tidy(() => {
          const { loss, correct } = lossAndGradient(state);
          return [loss, arenaSumSquares(state.set.grads), arenaDistanceSq(state.set.params, state.initial), correct];
        });
        state.optimizer.step(config.lr);
        await readScalars(scalars);
        for (const s of scalars) s.dispose();
      };
      await step(); // compiles the pipelines outside the profile
      await rt.sync();
      for (let i = 0; i < steps; i++) await profiler.profileStep(step);
      const summary = profiler.summary();
      const flopsPerStep = mlpEpochFlops(data.n, data.d, config.width, config.depth);
      // Every matmul-family pass (operand staging included) against the step's GEMM FLOPs.
      const gemmMs = summary.kernels.filter((k) => k.name.startsWith('matmul')).reduce((a, k) => a + k.totalMs, 0) / summary.steps;
      const gemm = { flopsPerStep, msPerStep: gemmMs, gflops: gemmMs > 0 ? flopsPerStep / (gemmMs * 1e6) : null };
      const info = rt.ctx.info;
      const header = `profile ${name}: N ${data.n}, width ${config.width}, depth ${config.depth}, ${state.chunks.length} chunk(s); ` +
        `${(flopsPerStep / 1e9).toPrecision(3)} GFLOP of GEMMs per step; adapter ${info.description || info.device} (${info.backend})`;
      if (v.json) {
        process.stdout.write(
          `${JSON.stringify({ experiment: name, config, n: data.n, flopsPerStep, gemm, kernelChoices: Object.fromEntries(rt.kernelChoices), adapter: info, timestampQuery: rt.ctx.hasTimestamps, summary, steps: profiler.steps.map(({ dispatches, ...rest }) => ({ ...rest, dispatches: dispatches.length })) }, null, 2)}\n`,
        );
      } else {
        const gemmLine = `GEMMs: ${(flopsPerStep / 1e9).toPrecision(3)} GFLOP per step in ${gemmMs.toFixed(2)} ms of matmul* passes (staging included): ${gemm.gflops === null ? '-' : gemm.gflops.toFixed(2)} GFLOP/s sustained`;
        process.stdout.write(`${header}\n${formatProfile(summary)}\n${gemmLine}\n`);
      }
      return 0;
    } finally {
      profiler.detach();
      disposeMlpState(state);
      rt.destroy();
    }
  },
};
