// `lplr bench [matmul|conv|elementwise|mlp-step|resnet-step|all] [options]`: benchmarks
// against peers with tables, ratios and JSON; `--kernel my.wgsl` checks and times a
// user's matmul kernel. The benchmarks themselves live in bench/.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closest, ConfigError } from '../../src/errors.js';
import { init } from '../../src/entry-node.js';
import type { Runtime } from '../../src/gpu/runtime.js';
import { benchConv } from '../../bench/conv.js';
import { benchElementwise } from '../../bench/elementwise.js';
import { formatBench, formatTable, makeReport, type BenchResult, type TimingOptions } from '../../bench/harness.js';
import { benchMatmul } from '../../bench/matmul.js';
import { benchMlpStep, PAPER_DEPTH, PAPER_WIDTH } from '../../bench/mlp-step.js';
import { tfjsChildMain } from '../../bench/peer-tfjs.js';
import { benchResnetStep } from '../../bench/resnet-step.js';
import { checkUserKernel, loadUserKernel, tolerance, type CheckResult } from '../../bench/user-kernel.js';
import { helpText, parseArgs, type OptionSpec } from '../options/args.js';
import type { Verb } from './verb.js';

export const BENCHES = ['matmul', 'conv', 'elementwise', 'mlp-step', 'resnet-step'] as const;
export type BenchName = (typeof BENCHES)[number];

const OPTIONS: OptionSpec[] = [
  { name: 'json', type: 'bool', help: 'print the JSON report on stdout (tables go to stderr)', default: false },
  { name: 'out', type: 'string', help: 'also write the JSON report to this file', placeholder: 'FILE' },
  { name: 'quick', type: 'bool', help: 'smaller sizes (see below)', default: false },
  { name: 'sizes', type: 'int-list', help: 'the benchmark\'s sizes: matmul square n, conv/resnet-step batch, elementwise elements, mlp-step N', placeholder: 'A,B,...', min: 1 },
  { name: 'mlp-n', type: 'int-list', help: 'matmul: sample counts N of the MLP shapes (none: 0)', placeholder: 'A,B', min: 0 },
  { name: 'width', type: 'int', help: 'matmul MLP shapes and mlp-step: hidden width', min: 1 },
  { name: 'depth', type: 'int', help: 'mlp-step: linear layers; resnet-step: ResNet depth (6n+2)', min: 1 },
  { name: 'trials', type: 'int', help: 'timed trials per case (the median is reported)', default: 5, min: 5 },
  { name: 'warmup', type: 'int', help: 'untimed runs before the trials (at least 2 are made: the first compiles)', default: 2, min: 2 },
  { name: 'min-trial-ms', type: 'number', help: 'without timestamps: repeat short work inside a trial until it lasts this long', default: 20, min: 0 },
  { name: 'max-run-s', type: 'number', help: 'skip a case whose warm-up run takes longer (0 = never; --quick and all: 20)', min: 0 },
  { name: 'peers', type: 'bool', help: 'matmul: run the TF.js and PyTorch peers (--no-peers to skip)', default: true },
  { name: 'kernel', type: 'string', help: 'matmul: check and time this WGSL kernel (docs/kernel-contract.md)', placeholder: 'FILE' },
  { name: 'entry', type: 'string', help: 'entry point of --kernel', default: 'main', placeholder: 'NAME' },
  { name: 'tile', type: 'string', help: 'output tile of --kernel per workgroup (default: TILE_M/TILE_N in the source, else 32x32)', placeholder: 'MxN' },
  { name: 'backend', type: 'string', help: 'Dawn backend to use instead of the automatic choice', placeholder: 'NAME' },
  { name: 'adapter', type: 'string', help: 'prefer an adapter whose name contains this', placeholder: 'NAME' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

// Internal: the TF.js peer's child process.
const HIDDEN: OptionSpec[] = [
  { name: 'peer-child', type: 'string', help: '', choices: ['tfjs'] },
  { name: 'peer-spec', type: 'string', help: '' },
];

const DESCRIPTION = [
  'Benchmarks with tables, ratios and a JSON report. Defaults (full / --quick / all):',
  '  matmul       square 256,512,1024,2048 + MLP shapes N=12665,2000 W=2048 / square 128,256,512 + N=2000 W=256 / square 128,256 + N=2000 W=128',
  '  conv         ResNet-20 convolutions, batch 128 / 32 / 8',
  '  elementwise  2^24 elements / 2^22 / 2^20',
  '  mlp-step     N=2000,12665, W=2048 / N=2000, W=2048 / N=2000, W=128',
  '  resnet-step  ResNet-20, batch 128 / 32 / 8',
  'Timing: GPU timestamp queries where the adapter has them, else wall time around a GPU sync.',
].join('\n');

type Mode = 'full' | 'quick' | 'all';

interface Plan {
  sizes: number[];
  mlpN?: number[];
  width?: number;
  depth?: number;
}

/** Sizes per benchmark and mode; explicit flags override them. */
export function planFor(bench: BenchName, mode: Mode): Plan {
  const pick = <T>(full: T, quick: T, all: T): T => (mode === 'full' ? full : mode === 'quick' ? quick : all);
  switch (bench) {
    case 'matmul':
      return { sizes: pick([256, 512, 1024, 2048], [128, 256, 512], [128, 256]), mlpN: pick([12665, 2000], [2000], [2000]), width: pick(PAPER_WIDTH, 256, 128) };
    case 'conv':
      return { sizes: [pick(128, 32, 8)] };
    case 'elementwise':
      return { sizes: [pick(1 << 24, 1 << 22, 1 << 20)] };
    case 'mlp-step':
      return { sizes: pick([2000, 12665], [2000], [2000]), width: pick(PAPER_WIDTH, PAPER_WIDTH, 128), depth: PAPER_DEPTH };
    case 'resnet-step':
      return { sizes: [pick(128, 32, 8)], depth: 20 };
  }
}

function printCheck(results: CheckResult[], file: string): string {
  const rows = results.map((r) => [
    r.name,
    r.maxRelError === null ? '-' : r.maxRelError.toExponential(2),
    tolerance(r.K).toExponential(1),
    r.passed ? 'ok' : `FAIL${r.error ? `: ${r.error}` : ''}`,
  ]);
  return [`== user kernel ${file}: check against a float64 CPU reference ==`, formatTable(['shape (MxNxK)', 'max rel error', 'tolerance', 'result'], rows)].join('\n');
}

export const benchVerb: Verb = {
  name: 'bench',
  summary: 'benchmarks against peers (matmul, conv, elementwise, mlp-step, resnet-step, all)',
  async run(argv) {
    const args = parseArgs(argv, [...OPTIONS, ...HIDDEN]);
    const v = args.values;
    if (v.help) {
      process.stdout.write(`${helpText('lplr bench [matmul|conv|elementwise|mlp-step|resnet-step|all] [options]', DESCRIPTION, OPTIONS)}\n`);
      return 0;
    }
    if (v['peer-child'] === 'tfjs') return tfjsChildMain(String(v['peer-spec'] ?? '{}'));

    if (args.positionals.length > 1) throw new ConfigError(`lplr bench takes one benchmark name, got '${args.positionals.join(' ')}'.`);
    const which = args.positionals[0] ?? 'all';
    const names = [...BENCHES, 'all'];
    if (!names.includes(which)) {
      const hint = closest(which, names);
      throw new ConfigError(`Unknown benchmark '${which}'.${hint ? ` Did you mean '${hint}'?` : ''} Use one of: ${names.join(', ')}.`);
    }
    if (which === 'all' && (args.given.has('sizes') || args.given.has('kernel'))) {
      throw new ConfigError(`--${args.given.has('sizes') ? 'sizes' : 'kernel'} applies to one benchmark; name it (e.g. 'lplr bench matmul --sizes 512').`);
    }
    if (args.given.has('kernel') && which !== 'matmul') throw new ConfigError("--kernel checks a matmul kernel: use 'lplr bench matmul --kernel FILE'.");
    const mode: Mode = which === 'all' ? 'all' : v.quick ? 'quick' : 'full';
    let currentBench = '';
    const kernel = v.kernel ? loadUserKernel(String(v.kernel), String(v.entry), v.tile as string | undefined) : undefined;
    const benches: BenchName[] = which === 'all' ? [...BENCHES] : [which as BenchName];
    const timing: TimingOptions = {
      trials: v.trials as number,
      warmup: v.warmup as number,
      maxRunS: (v['max-run-s'] as number | undefined) ?? (mode === 'full' ? 0 : 20),
      minTrialMs: v['min-trial-ms'] as number,
      // A full run takes many minutes on a CPU adapter: say what finished as it goes (stderr).
      onCell: (cell) =>
        process.stderr.write(`  ${currentBench}: ${cell.impl} ${cell.value === null ? cell.status : `${cell.value.toPrecision(4)}`} (${cell.medianMs === null ? cell.note ?? '' : `${cell.medianMs.toFixed(1)} ms`})\n`),
    };
    const json = Boolean(v.json);
    // With --json, stdout carries only the JSON report.
    const print = (text: string) => (json ? process.stderr : process.stdout).write(`${text}\n`);

    const rt: Runtime = await init({ quiet: true, backend: v.backend as string | undefined, adapter: v.adapter as string | undefined });
    let code = 0;
    try {
      const info = rt.ctx.info;
      print(`adapter: ${info.description || info.device || info.vendor} (${info.backend}, ${info.featureLevel}${info.isSoftware ? ', software' : ''}); timestamp queries: ${rt.ctx.hasTimestamps ? 'yes' : 'no'}`);
      const results: BenchResult[] = [];
      for (const bench of benches) {
        currentBench = bench;
        const plan = planFor(bench, mode);
        const sizes = (v.sizes as number[] | undefined) ?? plan.sizes;
        const width = (v.width as number | undefined) ?? plan.width ?? PAPER_WIDTH;
        let result: BenchResult;
        if (bench === 'matmul') {
          if (kernel) {
            const checks = await checkUserKernel(rt, kernel);
            print(printCheck(checks, kernel.file));
            if (checks.some((c) => !c.passed)) {
              print('The kernel failed the check; it is not timed. See docs/kernel-contract.md.');
              code = 1;
              continue;
            }
          }
          const mlpN = ((v['mlp-n'] as number[] | undefined) ?? plan.mlpN ?? []).filter((n) => n > 0);
          result = await benchMatmul(rt, { ...timing, sizes, mlpN, width, peers: Boolean(v.peers), kernel });
        } else if (bench === 'conv') {
          result = await benchConv(rt, { ...timing, sizes });
        } else if (bench === 'elementwise') {
          result = await benchElementwise(rt, { ...timing, sizes });
        } else if (bench === 'mlp-step') {
          result = await benchMlpStep(rt, { ...timing, sizes, width, depth: (v.depth as number | undefined) ?? plan.depth ?? PAPER_DEPTH });
        } else {
          result = await benchResnetStep(rt, { ...timing, sizes, depth: (v.depth as number | undefined) ?? plan.depth ?? 20 });
        }
        results.push(result);
        print(formatBench(result));
        print('');
      }
      const report = makeReport(rt, results);
      const text = JSON.stringify(report, null, 2);
      if (v.out) {
        fs.mkdirSync(path.dirname(path.resolve(String(v.out))), { recursive: true });
        fs.writeFileSync(String(v.out), `${text}\n`);
      }
      if (json) process.stdout.write(`${text}\n`);
      return code;
    } finally {
      rt.destroy();
    }
  },
};
