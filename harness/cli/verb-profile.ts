// `lplr profile EXPERIMENT [--steps N] [options]`: run a few training steps of an
// experiment under the kernel profiler (src/gpu/profiler.ts) and print a per-kernel table
// (calls, total ms, share, GFLOP/s or GB/s) and the CPU-side encode time per step.
// fig1 profiles the full-batch MLP step, fig3 the ResNet's mini-batch SGD step (the
// trainer's own encodeStep, on the run's first batches in data order).
import { closest, ConfigError } from '../../src/errors.js';
import { init } from '../../src/entry-node.js';
import { formatProfile, Profiler, type ProfileSource } from '../../src/gpu/profiler.js';
import { arenaDistanceSq, arenaSumSquares, readScalars } from '../../src/metrics/norms.js';
import { MATMUL_VARIANTS, setMatmulVariant, type MatmulVariant } from '../../src/ops/matmul.js';
import { tidy } from '../../src/tensor.js';
import { CIFAR_OPTIONS, resolveCifarConfig } from '../experiments/cifar-config.js';
import { loadCifarRunData } from '../experiments/cifar-lab.js';
import { createCifarState, disposeCifarState, encodeStep, resnetStepFlops } from '../experiments/cifar-train.js';
import { augmentBatch, normalizeCifar } from '../data/cifar-core.js';
import { MLP_OPTIONS, resolveMlpConfig } from '../experiments/mlp-config.js';
import { loadMlpData } from '../experiments/mlp-lab.js';
import { createMlpState, disposeMlpState, lossAndGradient, mlpEpochFlops } from '../experiments/mlp-train.js';
import { helpText, parseArgs, type OptionSpec, type ParsedArgs } from '../options/args.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import type { Verb } from './verb.js';

const PROFILED = ['fig1', 'fig3'] as const;
type Profiled = (typeof PROFILED)[number];

const COMMON: OptionSpec[] = [
  { name: 'steps', type: 'int', help: 'profiled training steps (after one untimed warm-up step)', default: 3, min: 1, max: 10_000 },
  { name: 'mode', type: 'string', help: "timing source ('auto': timestamps where the adapter has them)", choices: ['auto', 'timestamps', 'timed-submits'], default: 'auto' },
  { name: 'matmul', type: 'string', help: 'force one matmul kernel (default: the per-shape choice)', choices: MATMUL_VARIANTS, default: 'auto' },
  { name: 'json', type: 'bool', help: 'print the profile as JSON', default: false },
  { name: 'backend', type: 'string', help: 'Dawn backend (vulkan, opengles, swiftshader, ...)', placeholder: 'NAME' },
  { name: 'adapter', type: 'string', help: 'prefer an adapter whose name contains this', placeholder: 'NAME' },
];
const HELP: OptionSpec = { name: 'help', type: 'bool', help: 'show this help' };
const OPTIONS: Record<Profiled, OptionSpec[]> = {
  fig1: [...COMMON, ...MLP_OPTIONS, HELP],
  fig3: [...COMMON, ...CIFAR_OPTIONS, HELP],
};

/** One profiled step, the step's GEMM FLOPs and a header line; dispose frees the state. */
interface ProfileTarget {
  step: () => Promise<void>;
  flopsPerStep: number;
  header: string;
  config: unknown;
  /** Experiment-specific fields of the JSON output (fig1: n; fig3: batch, trainImages). */
  json: Record<string, unknown>;
  dispose: () => void;
}

export const profileVerb: Verb = {
  name: 'profile',
  summary: 'per-kernel GPU time of an experiment\'s training steps (fig1, fig3)',
  async run(argv) {
    const name = argv[0];
    if (!name || name.startsWith('--')) {
      const usage = helpText(`lplr profile ${PROFILED.join('|')} [options]`, 'Profile training steps of an experiment: per-kernel time, share and throughput, CPU encode time. `lplr profile fig3 --help` lists the ResNet options.', OPTIONS.fig1);
      process.stdout.write(`${usage}\n`);
      return name === '--help' || name === '-h' ? 0 : 2;
    }
    if (!(PROFILED as readonly string[]).includes(name)) {
      const hint = closest(name, PROFILED);
      throw new ConfigError(`'lplr profile' knows the experiments ${PROFILED.join(', ')}, not '${name}'.${hint ? ` Did you mean '${hint}'?` : ''}`);
    }
    const experiment = name as Profiled;
    const args = parseArgs(argv.slice(1), OPTIONS[experiment]);
    const v = args.values;
    if (v.help) {
      process.stdout.write(`${helpText(`lplr profile ${name} [options]`, 'Profile training steps: per-kernel time, share and throughput, CPU encode time.', OPTIONS[experiment])}\n`);
      return 0;
    }
    // Everything that can fail without a GPU (configuration, data files) fails first.
    const prepare = experiment === 'fig1' ? prepareMlp(args) : prepareCifar(args);
    const steps = v.steps as number;
    const rt = await init({ quiet: true, backend: v.backend as string | undefined, adapter: v.adapter as string | undefined });
    setMatmulVariant(rt, v.matmul as MatmulVariant);
    const target = prepare(rt);
    const profiler = new Profiler(rt, { mode: v.mode as 'auto' | ProfileSource });
    try {
      await target.step(); // compiles the pipelines outside the profile
      await rt.sync();
      for (let i = 0; i < steps; i++) await profiler.profileStep(target.step);
      const summary = profiler.summary();
      const { flopsPerStep } = target;
      // Every GEMM-shaped pass (matmul and conv families, operand staging included) against
      // the step's GEMM FLOPs.
      const gemmMs = summary.kernels.filter((k) => /^(matmul|conv2d)/.test(k.name)).reduce((a, k) => a + k.totalMs, 0) / summary.steps;
      const gemm = { flopsPerStep, msPerStep: gemmMs, gflops: gemmMs > 0 ? flopsPerStep / (gemmMs * 1e6) : null };
      const info = rt.ctx.info;
      const header = `profile ${name}: ${target.header}; ${(flopsPerStep / 1e9).toPrecision(3)} GFLOP of GEMMs per step; adapter ${info.description || info.device} (${info.backend})`;
      if (v.json) {
        process.stdout.write(
          `${JSON.stringify({ experiment: name, config: target.config, ...target.json, flopsPerStep, gemm, kernelChoices: Object.fromEntries(rt.kernelChoices), adapter: info, timestampQuery: rt.ctx.hasTimestamps, summary, steps: profiler.steps.map(({ dispatches, ...rest }) => ({ ...rest, dispatches: dispatches.length })) }, null, 2)}\n`,
        );
      } else {
        const family = experiment === 'fig1' ? 'matmul*' : 'matmul* and conv2d*';
        const gemmLine = `GEMMs: ${(flopsPerStep / 1e9).toPrecision(3)} GFLOP per step in ${gemmMs.toFixed(2)} ms of ${family} passes (staging included): ${gemm.gflops === null ? '-' : gemm.gflops.toFixed(2)} GFLOP/s sustained`;
        process.stdout.write(`${header}\n${formatProfile(summary)}\n${gemmLine}\n`);
      }
      return 0;
    } finally {
      profiler.detach();
      target.dispose();
      rt.destroy();
    }
  },
};

/** fig1: the full-batch GD step as the trainer runs it (gradient, the epoch's scalars, update, one readback). */
function prepareMlp(args: ParsedArgs): (rt: Runtime) => ProfileTarget {
  const config = resolveMlpConfig(args);
  const data = loadMlpData(config);
  const steps = args.values.steps as number;
  return (rt) => {
    const state = createMlpState(rt, { ...config, epochs: steps + 1 }, data, { maxRowsPerChunk: config.maxRowsPerChunk });
    return {
      config,
      json: { n: data.n },
      flopsPerStep: mlpEpochFlops(data.n, data.d, config.width, config.depth),
      header: `N ${data.n}, width ${config.width}, depth ${config.depth}, ${state.chunks.length} chunk(s)`,
      step: async () => {
        const scalars = tidy(() => {
          const { loss, correct } = lossAndGradient(state);
          return [loss, arenaSumSquares(state.set.grads), arenaDistanceSq(state.set.params, state.initial), correct];
        });
        state.optimizer.step(config.lr);
        await readScalars(scalars);
        for (const s of scalars) s.dispose();
      },
      dispose: () => disposeMlpState(state),
    };
  };
}

/** fig3: one mini-batch SGD step of the ResNet (the trainer's encodeStep), batches in data order. */
function prepareCifar(args: ParsedArgs): (rt: Runtime) => ProfileTarget {
  const config = resolveCifarConfig(args);
  const { data } = loadCifarRunData(config);
  const batch = Math.min(config.batchSize, data.train.count);
  return (rt) => {
    const state = createCifarState(rt, config, data, { normalize: normalizeCifar, augment: augmentBatch });
    let next = 0;
    return {
      config,
      json: { batch, trainImages: data.train.count },
      flopsPerStep: resnetStepFlops(config.depth, config.widths, data.classCount, batch),
      header: `ResNet-${config.depth} (${config.widths.join(',')}), batch ${batch}, ${data.train.count} training images`,
      step: async () => {
        const indices = Array.from({ length: batch }, (_, i) => (next + i) % data.train.count);
        next = (next + batch) % data.train.count;
        await encodeStep(state, indices, config.lr);
      },
      dispose: () => disposeCifarState(state),
    };
  };
}
