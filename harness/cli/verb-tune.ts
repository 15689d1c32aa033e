// `lplr tune [--budget-s N] [--json]`: time the matmul kernels on the shapes the paper's
// MLP runs (and square sizes), keep the fastest correct one per shape class in the
// autotune cache ($LPLR_CACHE_DIR/autotune.json or ~/.cache/lplr/autotune.json).
import { init } from '../../src/entry-node.js';
import { type TuneResult, tuneMatmulShape } from '../../src/kernels/autotune.js';
import { fileAutotuneStore } from '../../src/gpu/autotune-store-node.js';
import { matmulShapeClass, type MatmulShape } from '../../src/ops/matmul.js';
import { helpText, parseArgs, type OptionSpec } from '../options/args.js';
import type { Verb } from './verb.js';

const OPTIONS: OptionSpec[] = [
  { name: 'budget-s', type: 'number', help: 'time for all shapes together, in seconds', default: 300, min: 1 },
  { name: 'shapes', type: 'string', help: 'which shapes: mlp, square or all', default: 'all', choices: ['mlp', 'square', 'all'] },
  { name: 'force', type: 'bool', help: 're-time shapes that already have a valid cache entry', default: false },
  { name: 'json', type: 'bool', help: 'machine-readable output', default: false },
  { name: 'backend', type: 'string', help: 'Dawn backend to use instead of the automatic choice', placeholder: 'NAME' },
  { name: 'adapter', type: 'string', help: 'prefer an adapter whose name contains this', placeholder: 'NAME' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

interface NamedShape {
  what: string;
  shape: MatmulShape;
}

const plain = (M: number, N: number, K: number, transA = false, transB = false): MatmulShape => ({ M, N, K, batch: 1, transA, transB });

/**
 * The products of one full-batch GD step of the paper's MLP (input 784, one output), for
 * N samples and width W: forward x·Wᵀ, backward dX = dY·W and dW = dYᵀ·X.
 */
export function mlpShapes(samples: readonly number[] = [2000, 12665], widths: readonly number[] = [256, 2048], input = 784): NamedShape[] {
  const out: NamedShape[] = [];
  for (const n of samples) {
    for (const w of widths) {
      out.push(
        { what: `fwd in  N=${n} W=${w}`, shape: plain(n, w, input, false, true) },
        { what: `fwd hid N=${n} W=${w}`, shape: plain(n, w, w, false, true) },
        { what: `fwd out N=${n} W=${w}`, shape: plain(n, 1, w, false, true) },
        { what: `dX  hid N=${n} W=${w}`, shape: plain(n, w, w) },
        { what: `dX  out N=${n} W=${w}`, shape: plain(n, w, 1) },
        { what: `dW  in  N=${n} W=${w}`, shape: plain(w, input, n, true, false) },
        { what: `dW  hid N=${n} W=${w}`, shape: plain(w, w, n, true, false) },
        { what: `dW  out N=${n} W=${w}`, shape: plain(1, w, n, true, false) },
      );
    }
  }
  return out;
}

export function squareShapes(sizes: readonly number[] = [256, 512, 1024, 2048]): NamedShape[] {
  return sizes.map((s) => ({ what: `square ${s}`, shape: plain(s, s, s) }));
}

function describe(r: TuneResult): string {
  const parts = Object.entries(r.entry.timings).map(([id, t]) => {
    const name = id.split('@')[0];
    if (t.rejected) return `${name} ${t.rejected}`;
    const s = r.entry.shape;
    return `${name} ${((2 * s.M * s.N * s.K * s.batch) / ((t.ms ?? 1) * 1e6)).toFixed(1)}`;
  });
  return parts.join(', ');
}

export const tuneVerb: Verb = {
  name: 'tune',
  summary: 'time the matmul kernels on the MLP shapes and cache the fastest per shape class',
  async run(argv) {
    const { values } = parseArgs(argv, OPTIONS);
    if (values.help) {
      process.stdout.write(
        `${helpText('lplr tune [--budget-s N] [--json]', 'Autotune matmul: check every kernel against the naive one, time the correct ones, cache the winners.', OPTIONS)}\n`,
      );
      return 0;
    }
    const which = values.shapes as string;
    const shapes = [...(which !== 'square' ? mlpShapes() : []), ...(which !== 'mlp' ? squareShapes() : [])];
    // One entry per class: the first shape of a class stands for it.
    const seen = new Set<string>();
    const rt = await init({ quiet: values.json as boolean, backend: values.backend as string | undefined, adapter: values.adapter as string | undefined });
    const store = fileAutotuneStore();
    const deadline = performance.now() + (values['budget-s'] as number) * 1000;
    const results: { what: string; shapeClass: string; result?: TuneResult; skipped?: string }[] = [];
    try {
      const todo = shapes.filter(({ shape }) => {
        const cls = matmulShapeClass(shape);
        if (seen.has(cls)) return false;
        seen.add(cls);
        return true;
      });
      for (let i = 0; i < todo.length; i++) {
        const { what, shape } = todo[i];
        const shapeClass = matmulShapeClass(shape);
        const left = deadline - performance.now();
        if (left <= 0) {
          results.push({ what, shapeClass, skipped: 'out of budget' });
          continue;
        }
        const result = await tuneMatmulShape(rt, shape, { store, budgetMs: left / (todo.length - i), force: values.force as boolean });
        results.push({ what, shapeClass, result });
        if (!values.json) {
          const e = result.entry;
          process.stdout.write(
            `${what.padEnd(22)} ${shapeClass.padEnd(22)} ${e.kernel.padEnd(9)} ${e.gflops.toFixed(1).padStart(7)} GFLOP/s${result.cached ? ' (cached)' : `   [${describe(result)}]`}\n`,
          );
        }
      }
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ cache: store.location, adapter: rt.ctx.info, results }, null, 2)}\n`);
      } else {
        const skipped = results.filter((r) => r.skipped).length;
        process.stdout.write(`winners cached in ${store.location}${skipped ? `; ${skipped} shape classes skipped (raise --budget-s)` : ''}\n`);
      }
      return 0;
    } finally {
      rt.destroy();
    }
  },
};
