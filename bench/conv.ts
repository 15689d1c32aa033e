// Convolution benchmark: forward, input-gradient and weight-gradient GFLOP/s on the
// convolution shapes of ResNet-20 (16-32-64 channels, 32x32 inputs), the engine's
// default variant next to (a) the direct reference kernel, (b) explicit im2col + matmul
// and (c) the engine's matmul on the equivalent GEMM. Targets (per pass): beat (b) and
// reach >= 50 % of (c). Misses are printed.
import type { Runtime } from '../src/gpu/runtime.js';
import {
  chooseConvVariant,
  conv2dForward,
  conv2dGeometry,
  conv2dInputGrad,
  conv2dMacs,
  conv2dWeightGrad,
  type Conv2dGeometry,
  type ConvVariant,
} from '../src/ops/conv.js';
import { matmul } from '../src/ops/matmul.js';
import { tidy, type Tensor } from '../src/tensor.js';
import { cellValue, measureCell, randomTensor, ratio, type BenchResult, type CaseResult, type Cell, type TimingOptions } from './harness.js';

export const GEMM_SHARE_TARGET = 0.5;

export interface ConvShape {
  name: string;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
  /** Input height = width. */
  hw: number;
}

/** The distinct convolutions of a CIFAR ResNet-20 (widths 16-32-64) on 32x32 inputs. */
export const RESNET20_CONVS: readonly ConvShape[] = [
  { name: 'stem 3→16 3x3 @32', cin: 3, cout: 16, k: 3, stride: 1, pad: 1, hw: 32 },
  { name: 'stage1 16→16 3x3 @32', cin: 16, cout: 16, k: 3, stride: 1, pad: 1, hw: 32 },
  { name: 'stage2 16→32 3x3 s2 @32', cin: 16, cout: 32, k: 3, stride: 2, pad: 1, hw: 32 },
  { name: 'stage2 shortcut 16→32 1x1 s2 @32', cin: 16, cout: 32, k: 1, stride: 2, pad: 0, hw: 32 },
  { name: 'stage2 32→32 3x3 @16', cin: 32, cout: 32, k: 3, stride: 1, pad: 1, hw: 16 },
  { name: 'stage3 32→64 3x3 s2 @16', cin: 32, cout: 64, k: 3, stride: 2, pad: 1, hw: 16 },
  { name: 'stage3 shortcut 32→64 1x1 s2 @16', cin: 32, cout: 64, k: 1, stride: 2, pad: 0, hw: 16 },
  { name: 'stage3 64→64 3x3 @8', cin: 64, cout: 64, k: 3, stride: 1, pad: 1, hw: 8 },
];

export type ConvPass = 'fwd' | 'dgrad' | 'wgrad';
export const CONV_PASSES: readonly ConvPass[] = ['fwd', 'dgrad', 'wgrad'];

export interface ConvBenchOptions extends TimingOptions {
  /** Batch sizes. */
  sizes: number[];
  shapes?: readonly ConvShape[];
}

function runPass(pass: ConvPass, variant: ConvVariant, g: Conv2dGeometry, x: Tensor, w: Tensor, dy: Tensor): () => void {
  return () => {
    tidy(() => {
      if (pass === 'fwd') conv2dForward(x, w, undefined, g, variant);
      else if (pass === 'dgrad') conv2dInputGrad(dy, w, g, variant);
      else conv2dWeightGrad(x, dy, g, variant);
    });
  };
}

/**
 * The GEMM each pass is equivalent to, in its natural layout, with M = B·Ho·Wo output
 * pixels, C = Cout and K = Cin·k²: fwd [M,K]·[K,C], dgrad [M,C]·[K,C]ᵀ, wgrad [M,C]ᵀ·[M,K].
 */
function gemmOperands(pass: ConvPass, g: Conv2dGeometry): { a: number[]; b: number[]; transA: boolean; transB: boolean } {
  const M = g.batch * g.ho * g.wo;
  const K = g.cin * g.kh * g.kw;
  const C = g.cout;
  if (pass === 'fwd') return { a: [M, K], b: [K, C], transA: false, transB: false };
  if (pass === 'dgrad') return { a: [M, C], b: [K, C], transA: false, transB: true };
  return { a: [M, C], b: [M, K], transA: true, transB: false };
}

export async function benchConv(rt: Runtime, opts: ConvBenchOptions): Promise<BenchResult> {
  const cases: CaseResult[] = [];
  let engineVariant = '';
  for (const batch of opts.sizes) {
    for (const s of opts.shapes ?? RESNET20_CONVS) {
      const g = conv2dGeometry([batch, s.cin, s.hw, s.hw], [s.cout, s.cin, s.k, s.k], s.stride, s.pad);
      const flops = 2 * conv2dMacs(g);
      const engine = chooseConvVariant(g, 'auto');
      engineVariant = engineVariant && engineVariant !== engine ? 'auto' : engine;
      const x = randomTensor(rt, [batch, s.cin, s.hw, s.hw], 21);
      const w = randomTensor(rt, [s.cout, s.cin, s.k, s.k], 22);
      const dy = randomTensor(rt, [batch, s.cout, g.ho, g.wo], 23);
      try {
        for (const pass of CONV_PASSES) {
          const cells: Cell[] = [];
          cells.push(await measureCell(rt, 'engine', flops, runPass(pass, engine, g, x, w, dy), opts));
          cells.push(await measureCell(rt, 'direct', flops, runPass(pass, 'direct', g, x, w, dy), opts));
          cells.push(await measureCell(rt, 'im2col', flops, runPass(pass, 'im2col', g, x, w, dy), opts));
          const op = gemmOperands(pass, g);
          const ga = randomTensor(rt, op.a, 24);
          const gb = randomTensor(rt, op.b, 25);
          const gemmRun = () => {
            tidy(() => {
              matmul(ga, gb, { transA: op.transA, transB: op.transB });
            });
          };
          cells.push(await measureCell(rt, 'gemm', flops, gemmRun, opts, { dispose: () => (ga.dispose(), gb.dispose()) }));
          const c: CaseResult = { case: `${s.name} B=${batch} ${pass}`, params: { batch, pass, engineVariant: engine, ...s, flops }, cells, ratios: {} };
          const vsIm2col = ratio(cellValue(c, 'engine'), cellValue(c, 'im2col'));
          const vsGemm = ratio(cellValue(c, 'engine'), cellValue(c, 'gemm'));
          c.ratios['engine/direct'] = ratio(cellValue(c, 'engine'), cellValue(c, 'direct'));
          c.ratios['engine/im2col'] = vsIm2col;
          c.ratios['engine/gemm'] = vsGemm;
          c.targets = [
            { name: 'beats im2col+matmul', met: vsIm2col === null ? null : vsIm2col > 1, detail: vsIm2col === null ? 'not measured' : `${vsIm2col.toFixed(2)}x` },
            {
              name: `>= ${GEMM_SHARE_TARGET * 100}% of the equivalent GEMM`,
              met: vsGemm === null ? null : vsGemm >= GEMM_SHARE_TARGET,
              detail: vsGemm === null ? 'not measured' : `${(vsGemm * 100).toFixed(0)}%`,
            },
          ];
          cases.push(c);
        }
      } finally {
        x.dispose();
        w.dispose();
        dy.dispose();
      }
    }
  }
  const met = cases.flatMap((c) => c.targets ?? []).filter((t) => t.met === true).length;
  const total = cases.flatMap((c) => c.targets ?? []).filter((t) => t.met !== null).length;
  return {
    bench: 'conv',
    unit: 'GFLOP/s',
    timing: rt.ctx.hasTimestamps ? 'timestamps' : 'wall',
    method: `2·B·Ho·Wo·Cout·Cin·k² per pass (NCHW, f32), median of ${opts.trials} trials after ${opts.warmup} warm-up`,
    cases,
    peers: [],
    notes: [
      `engine = the variant conv2d picks by default ('auto': ${engineVariant || 'implicit'}); gemm = ops.matmul on the pass's equivalent GEMM (M = B·Ho·Wo, N = Cout, K = Cin·k²).`,
      `targets met: ${met} of ${total}.`,
    ],
  };
}
