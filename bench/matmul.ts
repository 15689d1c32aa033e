// Matmul benchmark: GFLOP/s through the public op on engine tensors for square sizes and
// the paper's MLP shapes, every variant in MATMUL_VARIANTS next to the naive kernel, a
// user kernel if given, and the peers (TF.js WebGPU on the same adapter, PyTorch CPU).
import { MATMUL_VARIANTS, matmul, matmulKernelAvailable, type MatmulKernel, type MatmulVariant } from '../src/ops/matmul.js';
import type { Runtime } from '../src/gpu/runtime.js';
import { empty, tidy, type Tensor } from '../src/tensor.js';
import {
  best,
  cellValue,
  measureCell,
  missingCell,
  randomTensor,
  ratio,
  type BenchResult,
  type CaseResult,
  type Cell,
  type PeerInfo,
  type TimingOptions,
} from './harness.js';
import { runTfjsPeer, type PeerMatmulCase, type PeerOutput } from './peer-tfjs.js';
import { runTorchPeer } from './peer-torch.js';
import { dispatchUserKernel, type UserKernel } from './user-kernel.js';

export interface MatmulCase extends PeerMatmulCase {
  M: number;
  N: number;
  K: number;
  flops: number;
}

/** The paper's input size (MNIST pixels). */
export const MNIST_INPUTS = 784;

function gemm(name: string, M: number, N: number, K: number, transA: boolean, transB: boolean): MatmulCase {
  return {
    name,
    M,
    N,
    K,
    a: transA ? [K, M] : [M, K],
    b: transB ? [N, K] : [K, N],
    transA,
    transB,
    flops: 2 * M * N * K,
  };
}

/**
 * Square products, then for each N the GEMMs of an MLP layer pair as the engine issues
 * them: forward x·Wᵀ (NT), input gradient dY·W (NN), weight gradient dYᵀ·X (TN), for the
 * first layer (784 inputs) and a hidden layer (width × width).
 */
export function matmulCases(sizes: readonly number[], mlpN: readonly number[], width: number, inputs = MNIST_INPUTS): MatmulCase[] {
  const cases = sizes.map((n) => gemm(`square ${n}`, n, n, n, false, false));
  for (const n of mlpN) {
    cases.push(
      gemm(`N=${n} fwd x·W1ᵀ ${n}x${inputs}·${inputs}x${width}`, n, width, inputs, false, true),
      gemm(`N=${n} fwd h·Wᵀ ${n}x${width}·${width}x${width}`, n, width, width, false, true),
      gemm(`N=${n} dgrad dY·W ${n}x${width}·${width}x${width}`, n, width, width, false, false),
      gemm(`N=${n} wgrad dYᵀ·h ${width}x${n}·${n}x${width}`, width, width, n, true, false),
      gemm(`N=${n} wgrad dYᵀ·x ${width}x${n}·${n}x${inputs}`, width, inputs, n, true, false),
    );
  }
  return cases;
}

export interface MatmulBenchOptions extends TimingOptions {
  sizes: number[];
  mlpN: number[];
  width: number;
  peers: boolean;
  kernel?: UserKernel;
}

/** Engine variants to time: the public list, with the naive baseline always present. */
export function benchVariants(): MatmulVariant[] {
  const list = [...MATMUL_VARIANTS];
  if (!list.includes('naive' as MatmulVariant)) list.push('naive' as MatmulVariant);
  return list;
}

function peerCell(impl: string, out: PeerOutput | undefined, c: MatmulCase): Cell {
  if (!out) return missingCell(impl, 'skipped', 'peers disabled (--no-peers)');
  const r = out.results.find((x) => x.name === c.name);
  if (out.peer.status === 'unavailable') return missingCell(impl, 'unavailable', out.peer.detail);
  if (!r || r.status !== 'ok' || r.medianMs === null) return missingCell(impl, r?.status === 'skipped' ? 'skipped' : 'failed', r?.note ?? out.peer.detail);
  const value = c.flops / (r.medianMs * 1e6);
  const cell: Cell = { impl, status: out.peer.status === 'invalid' ? 'invalid' : 'ok', value, medianMs: r.medianMs, trialsMs: r.trialsMs, timing: 'wall (peer process)' };
  if (out.peer.status === 'invalid') cell.note = out.peer.detail;
  return cell;
}

export async function benchMatmul(rt: Runtime, opts: MatmulBenchOptions): Promise<BenchResult> {
  const cases = matmulCases(opts.sizes, opts.mlpN, opts.width);
  const variants = benchVariants();
  const results: CaseResult[] = [];
  for (const c of cases) {
    const a = randomTensor(rt, c.a, 1);
    const b = randomTensor(rt, c.b, 2);
    const cells: Cell[] = [];
    try {
      for (const variant of variants) {
        // A forced kernel that cannot run a shape silently yields to the default: do not time that under its name.
        const shape = { M: c.M, N: c.N, K: c.K, batch: 1, transA: c.transA, transB: c.transB };
        if (variant !== 'auto' && !matmulKernelAvailable(rt, variant as MatmulKernel, shape)) {
          cells.push(missingCell(variant, 'skipped', `the ${variant} kernel does not take this shape on this adapter`));
          continue;
        }
        const run = () => {
          tidy(() => {
            matmul(a, b, { transA: c.transA, transB: c.transB, variant });
          });
        };
        cells.push(await measureCell(rt, variant, c.flops, run, opts));
      }
      if (opts.kernel) cells.push(await timeUserKernel(rt, opts.kernel, c, a, b, opts));
    } finally {
      a.dispose();
      b.dispose();
    }
    results.push({ case: c.name, params: { M: c.M, N: c.N, K: c.K, transA: c.transA, transB: c.transB, flops: c.flops }, cells, ratios: {} });
  }

  const peers: PeerInfo[] = [];
  if (opts.peers) {
    const spec = { cases: cases.map(({ name, a, b, transA, transB }) => ({ name, a, b, transA, transB })), warmup: opts.warmup, trials: opts.trials, maxRunS: opts.maxRunS, minTrialMs: opts.minTrialMs };
    const tfjs = runTfjsPeer({ ...spec, backend: rt.ctx.info.backend, featureLevel: rt.ctx.info.featureLevel, adapter: process.env.LPLR_ADAPTER });
    const torch = runTorchPeer(spec);
    peers.push(tfjs.peer, torch.peer);
    cases.forEach((c, i) => results[i].cells.push(peerCell('tfjs', tfjs, c), peerCell('torch-cpu', torch, c)));
  } else {
    peers.push({ name: 'tfjs-webgpu', status: 'skipped', detail: 'peers disabled (--no-peers)' }, { name: 'torch-cpu', status: 'skipped', detail: 'peers disabled (--no-peers)' });
  }

  // 'best' is the fastest concrete kernel; 'auto' (the per-shape choice) is one of them.
  const engine = variants.filter((v) => v !== 'naive' && v !== 'auto');
  for (const r of results) {
    const top = best(r, engine);
    r.ratios['best/naive'] = ratio(top?.value ?? null, cellValue(r, 'naive'));
    if (variants.includes('auto' as MatmulVariant)) r.ratios['auto/best'] = ratio(cellValue(r, 'auto'), top?.value ?? null);
    if (opts.kernel) r.ratios['user/best'] = ratio(cellValue(r, 'user'), top?.value ?? null);
    r.ratios['best/tfjs'] = ratio(top?.value ?? null, cellValue(r, 'tfjs'));
    r.ratios['best/torch'] = ratio(top?.value ?? null, r.cells.find((x) => x.impl === 'torch-cpu')?.value ?? null);
    if (top) r.params.bestVariant = top.impl;
  }
  return {
    bench: 'matmul',
    unit: 'GFLOP/s',
    timing: rt.ctx.hasTimestamps ? 'timestamps' : 'wall',
    method: `2·M·N·K per product through ops.matmul on engine tensors, median of ${opts.trials} trials after ${opts.warmup} warm-up`,
    cases: results,
    peers,
    notes: [
      "best = the fastest engine kernel per case (not naive, not 'auto'); ratios divide the first GFLOP/s by the second. auto = the kernel the engine picks for the shape.",
      ...(opts.width !== 2048 ? [`MLP shapes use width ${opts.width} (the paper's is 2048).`] : []),
      ...(opts.kernel ? [`user kernel ${opts.kernel.file} (entry ${opts.kernel.entry}, tile ${opts.kernel.tileM}x${opts.kernel.tileN}) dispatched under the built-in contract.`] : []),
    ],
  };
}

async function timeUserKernel(rt: Runtime, k: UserKernel, c: MatmulCase, a: Tensor, b: Tensor, opts: TimingOptions): Promise<Cell> {
  if ((c.transA && !k.supports.has('TRANS_A')) || (c.transB && !k.supports.has('TRANS_B'))) {
    return missingCell('user', 'skipped', `the kernel does not declare override ${c.transA ? 'TRANS_A' : 'TRANS_B'}`);
  }
  const out = empty([c.M, c.N], rt).keep();
  const run = () => dispatchUserKernel(rt, k, { M: c.M, N: c.N, K: c.K, batch: 1 }, a, b, out, { transA: c.transA, transB: c.transB });
  return measureCell(rt, 'user', c.flops, run, opts, out);
}
