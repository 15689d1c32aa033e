// The theory check (paper §4-5) on a real MLP run: every k epochs, on a fixed seeded subset S of
// the training set, the empirical NTK K_t (layerwise, on the engine), λ_min/λ_max by Lanczos,
// the NTK identity against backprop, NTK stability against K_0, parameter drift, the PL ratio
// against its bound λ_min(K)/|S|, and the curvature β (Hessian Ritz value and Gauss-Newton
// λ_max(K)/|S|) that sets the guaranteed contraction 1 − ημ(2 − ηβ). Writes `ntk` and `hessian`
// rows; `lplr run ntk` is a run with these checks on, and --ntk-every adds them to fig1/4/5.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { Arena } from '../../src/nn/arena.js';
import { arenaDistanceSq, arenaSumSquares, readScalars } from '../../src/metrics/norms.js';
import { centralDifferenceHvp, defaultHvpStep, hessianExtremes, MAX_HESSIAN_ITERATIONS, parameterGradientOracle } from '../../src/metrics/hessian.js';
import { frobeniusSq, gatherRows, inputGram, ntkCheck, ntkSpectrumFields, ntkSubset } from '../../src/metrics/ntk.js';
import type { HessianRow, MetricRow, NtkRow } from '../../src/metrics/schema.js';
import { predictedContraction, summarizeTheory, theoryWidthPoint, type TheorySummary } from '../analysis/theory.js';
import { mseLoss } from '../../src/ops/loss.js';
import { fromData, type Tensor } from '../../src/tensor.js';
import type { OptionSpec, ParsedArgs } from '../options/args.js';
import type { ChartSpec, ReportSection, TableSpec } from '../report/model.js';
import { hasCheckpoint } from '../run/checkpoint.js';
import { registerSetSections, registerSingleRunSections, writeMlpReport, type SetRun } from '../run/reports.js';
import { writeJsonAtomic } from '../run/run-dir.js';
import { MLP_OPTIONS, resolveMlpConfig, type MlpRunConfig } from './mlp-config.js';
import { checkMlpFiles, runMlp } from './mlp-lab.js';
import type { MlpTrainState } from './mlp-train.js';
import type { Experiment } from './experiment.js';
import { withLinearized } from './linearized.js';

export interface TheoryProbeOptions {
  /** Check every k epochs (and always at epoch 0 and the last epoch). */
  every: number;
  /** Size of the fixed NTK subset S (capped at the training set). */
  samples: number;
  seed: number;
  /** Last epoch of the run (gets a check even off the k grid). */
  epochs: number;
  /** Learning rate of the run (for the predicted contraction). */
  lr: number;
  /** Hessian Lanczos iterations per check (≤ 20). */
  hessianIterations?: number;
  log?: (message: string) => void;
}

/** State that lives from the first check to the last: S on the GPU, K_0, ‖θ_0‖. */
interface ProbeState {
  xS: Tensor;
  yS: Tensor;
  gram: Tensor;
  k0: Tensor;
  k0FroSq: number;
  lambdaMin0: number;
  theta0Norm: number;
  samples: number;
  covers: number;
}

/**
 * The per-epoch measurement hook of a run with theory checks. Call `measure` before each update
 * (TrainHooks.measure); it returns rows only on check epochs. GPU memory is released after the
 * last epoch's check or by dispose().
 */
export class TheoryProbe {
  private state: ProbeState | undefined;
  private finished = false;

  constructor(readonly opts: TheoryProbeOptions) {
    if (!(Number.isInteger(opts.every) && opts.every >= 1)) throw new ConfigError(`--ntk-every must be an integer ≥ 1, got ${opts.every}`);
    const it = opts.hessianIterations ?? MAX_HESSIAN_ITERATIONS;
    if (!(it >= 1 && it <= MAX_HESSIAN_ITERATIONS)) throw new ConfigError(`Hessian iterations must be in 1..${MAX_HESSIAN_ITERATIONS}, got ${it}`);
  }

  isCheckEpoch(epoch: number): boolean {
    return epoch % this.opts.every === 0 || epoch === this.opts.epochs;
  }

  async measure(epoch: number, s: MlpTrainState): Promise<MetricRow[]> {
    if (this.finished || !this.isCheckEpoch(epoch)) return [];
    const started = performance.now();
    const st = this.state ?? (this.state = await this.setUp(s));
    const check = await ntkCheck(s.model, s.set, st.xS, st.yS, { inputGram: st.gram, keepKernel: true });
    const kernel = check.kernel!;
    let kernelDriftSq: number;
    let driftSq: number;
    try {
      const { diffSq } = frobeniusSq(kernel, st.k0);
      const dist = arenaDistanceSq(s.set.params, s.initial);
      [kernelDriftSq, driftSq] = await readScalars([diffSq!, dist]);
      diffSq!.dispose();
      dist.dispose();
    } finally {
      kernel.dispose();
    }
    const n = st.samples;
    const ntkMs = performance.now() - started;
    const slack = check.plRatio / (st.lambdaMin0 / n);
    const ntkRow: NtkRow = {
      kind: 'ntk',
      epoch,
      samples: n,
      coversTrainingSet: st.covers,
      ...ntkSpectrumFields(check.loss, check),
      muBound: check.muBound,
      muBound0: st.lambdaMin0 / n,
      plRatio: check.plRatio,
      slack,
      slackLocal: check.plRatio / check.muBound,
      rayleighOverMin: check.rayleighOverMin,
      lambdaMinRatio: check.lambdaMin / st.lambdaMin0,
      kernelDrift: Math.sqrt(Math.max(kernelDriftSq, 0) / st.k0FroSq),
      drift: Math.sqrt(Math.max(driftSq, 0)),
      driftRel: Math.sqrt(Math.max(driftSq, 0)) / st.theta0Norm,
      timeMs: Math.round(ntkMs),
    };

    // Curvature: ≤ 20 Lanczos steps on central-difference HVPs of ∇L_S; θ is restored bit for bit.
    const hStart = performance.now();
    const oracle = await parameterGradientOracle(s.set, () => mseLoss(s.model.forward(st.xS), st.yS));
    const eps = defaultHvpStep(oracle.theta);
    let hess;
    try {
      hess = await hessianExtremes(centralDifferenceHvp((p) => oracle.gradientAt(p), oracle.theta, eps), oracle.theta.length, {
        iterations: this.opts.hessianIterations ?? MAX_HESSIAN_ITERATIONS,
        seed: this.opts.seed + epoch,
      });
    } finally {
      oracle.restore();
    }
    const gaussNewtonMax = check.lambdaMax / n;
    const beta = Math.max(hess.max, gaussNewtonMax);
    const lr = this.opts.lr;
    const hessRow: HessianRow = {
      kind: 'hessian',
      epoch,
      samples: n,
      hessianMax: hess.max,
      hessianResidual: hess.residualMax,
      hessianMinRitz: hess.minRitz,
      hessianIterations: hess.iterations,
      gaussNewtonMax,
      beta,
      lr,
      etaBeta: lr * beta,
      predictedContraction: predictedContraction(lr, check.muBound, beta),
      predictedContraction0: predictedContraction(lr, st.lambdaMin0 / n, beta),
      fdStep: eps,
      timeMs: Math.round(performance.now() - hStart),
    };
    this.opts.log?.(
      `theory check @${epoch}: λ_min(K)=${check.lambdaMin.toExponential(3)} λ_max(K)=${check.lambdaMax.toExponential(3)} ` +
        `PL ratio/bound₀=${slack.toExponential(2)} identity err=${check.identity.relError.toExponential(1)} ηβ=${(lr * beta).toFixed(3)} ` +
        `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    if (epoch === this.opts.epochs) {
      this.finished = true;
      this.dispose();
    }
    return [ntkRow, hessRow];
  }

  private async setUp(s: MlpTrainState): Promise<ProbeState> {
    const rt = s.set.rt;
    const idx = ntkSubset(s.data.n, this.opts.samples, this.opts.seed);
    const xS = fromData(gatherRows(s.data.x, s.data.d, idx), [idx.length, s.data.d], rt).keep();
    const yS = fromData(gatherRows(s.data.y, 1, idx), [idx.length, 1], rt).keep();
    const gram = inputGram(xS).keep();
    // K_0 at θ_0 even when the first check comes later (a resumed run): swap θ_0 in, then back.
    const saved = new Arena(rt, s.set.params.layout, 'theory-theta');
    saved.copyFrom(s.set.params);
    s.set.params.copyFrom(s.initial);
    let k0: Tensor;
    let lambdaMin0: number;
    try {
      const c0 = await ntkCheck(s.model, s.set, xS, yS, { inputGram: gram, keepKernel: true });
      k0 = c0.kernel!;
      lambdaMin0 = c0.lambdaMin;
    } finally {
      s.set.params.copyFrom(saved);
      saved.dispose();
    }
    const fro = frobeniusSq(k0);
    const t0 = arenaSumSquares(s.initial);
    const [k0FroSq, theta0Sq] = await readScalars([fro.normSq, t0]);
    fro.normSq.dispose();
    t0.dispose();
    return { xS, yS, gram, k0, k0FroSq, lambdaMin0, theta0Norm: Math.sqrt(theta0Sq), samples: idx.length, covers: idx.length === s.data.n ? 1 : 0 };
  }

  dispose(): void {
    const st = this.state;
    if (!st) return;
    for (const t of [st.xS, st.yS, st.gram, st.k0]) t.dispose();
    this.state = undefined;
  }
}

/** The measure hook for a run config: undefined when --ntk-every is 0 (checks off). */
export function theoryMeasure(config: MlpRunConfig, log?: (message: string) => void): ((epoch: number, s: MlpTrainState) => Promise<MetricRow[]>) | undefined {
  if (!config.ntkEvery) return undefined;
  if (config.loss !== 'mse') {
    throw new ConfigError('--ntk-every needs --loss mse: the NTK bound of Theorem 5.1 is for the squared loss.');
  }
  const probe = new TheoryProbe({ every: config.ntkEvery, samples: config.ntkSamples, seed: config.seed, epochs: config.epochs, lr: config.lr, log });
  return (epoch, s) => probe.measure(epoch, s);
}

// ------------------------------------------------------------------ report

function fmt(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(digits - 1);
  return String(Number(x.toPrecision(digits)));
}

/** The "theory check" report section of one run. */
export function theorySection(t: TheorySummary, idPrefix = ''): ReportSection {
  const e = t.ntk.map((p) => p.epoch);
  const he = t.hessian.map((h) => h.epoch);
  const charts: ChartSpec[] = [
    {
      id: `${idPrefix}theory-lambda`,
      title: 'NTK spectrum over time',
      caption: 'λ_min(K_t) and λ_max(K_t) of the empirical NTK on the fixed subset S (Lanczos on the engine).',
      x: { label: 'epoch', scale: 'linear' },
      y: { label: 'eigenvalue', scale: 'log' },
      series: [
        { label: 'λ_min(K_t)', x: e, y: t.ntk.map((p) => p.lambdaMin) },
        { label: 'λ_max(K_t)', x: e, y: t.ntk.map((p) => p.lambdaMax) },
      ],
    },
    {
      id: `${idPrefix}theory-pl`,
      title: 'PL ratio against the NTK bound',
      caption: `Measured ‖∇L_S‖²/(2L_S) vs the guaranteed λ_min(K)/|S| (log axis). Median slack over λ_min(K_0)/|S|: ${fmt(t.slack.median, 3)}×.`,
      x: { label: 'epoch', scale: 'linear' },
      y: { label: 'PL ratio', scale: 'log' },
      series: [
        { label: 'measured ‖∇L‖²/(2L)', x: e, y: t.ntk.map((p) => p.plRatio) },
        { label: 'bound λ_min(K_t)/|S|', x: e, y: t.ntk.map((p) => p.muBound), style: 'fit' },
        { label: 'bound λ_min(K_0)/|S|', x: e, y: t.ntk.map((p) => p.muBound0), style: 'fit' },
      ],
    },
    {
      id: `${idPrefix}theory-drift`,
      title: 'Drift from initialization',
      caption: 'Relative parameter drift ‖θ_t − θ_0‖/‖θ_0‖, kernel drift ‖K_t − K_0‖_F/‖K_0‖_F and λ_min(K_t)/λ_min(K_0).',
      x: { label: 'epoch', scale: 'linear' },
      y: { label: 'ratio', scale: 'linear' },
      series: [
        { label: '‖θ_t − θ_0‖/‖θ_0‖', x: e, y: t.ntk.map((p) => p.driftRel) },
        { label: '‖K_t − K_0‖_F/‖K_0‖_F', x: e, y: t.ntk.map((p) => p.kernelDrift) },
        { label: 'λ_min(K_t)/λ_min(K_0)', x: e, y: t.ntk.map((p) => p.lambdaMinRatio) },
      ],
    },
  ];
  if (t.hessian.length > 0) {
    charts.push({
      id: `${idPrefix}theory-curvature`,
      title: 'Curvature',
      caption: 'Top Hessian Ritz value (≤ 20 Lanczos steps on finite-difference HVPs) and Gauss-Newton λ_max(K)/|S|.',
      x: { label: 'epoch', scale: 'linear' },
      y: { label: 'curvature', scale: 'log' },
      series: [
        { label: 'λ_max(H) (Ritz)', x: he, y: t.hessian.map((h) => h.hessianMax) },
        { label: 'λ_max(K)/|S|', x: he, y: t.hessian.map((h) => h.gaussNewtonMax) },
      ],
    });
  }
  const rateTable: TableSpec | undefined = t.rate
    ? {
        id: `${idPrefix}theory-rate`,
        title: 'Predicted vs observed per-epoch contraction',
        columns: ['quantity', 'value'],
        rows: [
          ['η (learning rate)', t.rate.lr],
          ['μ = min_t λ_min(K_t)/|S|', fmt(t.rate.mu)],
          ['β = max_t max(λ_max(H), λ_max(K)/|S|)', fmt(t.rate.beta)],
          ['η·β (must be < 2)', fmt(t.rate.lr * t.rate.beta)],
          ['predicted 1 − ημ(2 − ηβ)', t.rate.predicted.toPrecision(10)],
          ['predicted with μ_0 = λ_min(K_0)/|S|', t.rate.predictedWithMu0.toPrecision(10)],
          [`observed ρ (${t.rate.observedFrom}, L* = 0)`, Number.isFinite(t.rate.observed) ? t.rate.observed.toPrecision(8) : '—'],
          ['observed fit R²', fmt(t.rate.observedFit.r2)],
          ['ln ρ_observed / ln ρ_predicted', fmt(t.rate.speedupFactor)],
        ],
      }
    : undefined;
  const checksTable: TableSpec = {
    id: `${idPrefix}theory-checks`,
    title: 'Checks',
    columns: ['epoch', 'L_S', 'λ_min(K)', 'λ_max(K)', 'PL ratio', 'slack vs K_0', 'identity err', '‖θ−θ₀‖', 'ηβ'],
    rows: t.ntk.map((p) => {
      const h = t.hessian.find((x) => x.epoch === p.epoch);
      return [p.epoch, fmt(p.loss), fmt(p.lambdaMin), fmt(p.lambdaMax), fmt(p.plRatio), fmt(p.slack, 3), fmt(p.identityRelErr, 2), fmt(p.drift), h ? fmt(h.etaBeta, 3) : '—'];
    }),
  };
  return {
    id: `${idPrefix}theory`,
    title: 'Theory check (Theorems 5.1 and 5.4)',
    paragraphs: [
      `Empirical NTK K = J·Jᵀ on a fixed seeded subset S of ${t.samples} samples${t.coversTrainingSet ? ' (the whole training set)' : ''}, checked ${t.checks} times; ` +
        'loss, residuals and gradient are evaluated on S. The bound of Theorem 5.1 is ‖∇L‖²/(2L) ≥ λ_min(K)/|S|; Theorem 5.4 then guarantees a contraction of at least 1 − ημ(2 − ηβ) per step.',
      ...t.findings,
    ],
    verdicts: t.verdicts,
    charts,
    tables: rateTable ? [rateTable, checksTable] : [checksTable],
  };
}

/** Theory numbers per run of a set: vs width for fig5, side by side for fig4. */
export function theorySetSection(kind: string, runs: readonly SetRun[]): ReportSection[] {
  const withTheory = runs
    .map((r) => ({ run: r, theory: summarizeTheory(r.rows) }))
    .filter((x): x is { run: SetRun; theory: TheorySummary } => x.theory !== null);
  if (withTheory.length === 0) return [];
  const points = withTheory.map((x) => ({ label: x.run.label, ...theoryWidthPoint(x.run.config.width, x.theory), theory: x.theory }));
  const table: TableSpec = {
    id: `${kind}-theory-table`,
    columns: ['run', 'width', 'λ_min(K_0)/|S|', 'final ‖θ−θ₀‖', 'final ‖θ−θ₀‖/‖θ₀‖', 'median slack', 'final ‖K−K₀‖/‖K₀‖', 'verdicts passed'],
    rows: points.map((p) => [
      p.label,
      p.width,
      fmt(p.muBound0),
      fmt(p.finalDrift),
      fmt(p.finalDriftRel),
      fmt(p.medianSlack, 3),
      fmt(p.finalKernelDrift),
      `${p.theory.verdicts.filter((v) => v.passed).length}/${p.theory.verdicts.length}`,
    ]),
  };
  const charts: ChartSpec[] = [];
  if (kind === 'fig5') {
    const w = points.map((p) => p.width);
    charts.push(
      {
        id: 'fig5-theory-mu0',
        title: 'NTK bound at initialization vs width',
        x: { label: 'width', scale: 'log' },
        y: { label: 'λ_min(K_0)/|S|', scale: 'log' },
        series: [{ label: 'λ_min(K_0)/|S|', x: w, y: points.map((p) => p.muBound0), style: 'points' }],
      },
      {
        id: 'fig5-theory-drift',
        title: 'Final drift vs width',
        x: { label: 'width', scale: 'log' },
        y: { label: 'drift', scale: 'log' },
        series: [
          { label: '‖θ_E − θ_0‖/‖θ_0‖', x: w, y: points.map((p) => p.finalDriftRel), style: 'points' },
          { label: '‖K_E − K_0‖_F/‖K_0‖_F', x: w, y: points.map((p) => p.finalKernelDrift), style: 'points' },
        ],
      },
      {
        id: 'fig5-theory-slack',
        title: 'PL slack vs width',
        caption: 'Median over checks of the measured PL ratio divided by λ_min(K_0)/|S|.',
        x: { label: 'width', scale: 'log' },
        y: { label: 'slack (×)', scale: 'log' },
        series: [{ label: 'median slack', x: w, y: points.map((p) => p.medianSlack), style: 'points' }],
      },
    );
  }
  return [
    {
      id: `${kind}-theory`,
      title: kind === 'fig5' ? 'Theory check vs width' : 'Theory check per run',
      paragraphs: points.map(
        (p) => `${p.label}: λ_min(K_0)/|S| = ${fmt(p.muBound0)}, median slack ${fmt(p.medianSlack, 3)}×, final drift ${fmt(100 * p.finalDriftRel, 3)}% of ‖θ_0‖.`,
      ),
      charts,
      tables: [table],
    },
  ];
}

registerSingleRunSections((rows) => {
  // A CNN's output-NTK rows (fig3, model: 'cnn') get fig3's own theory section (cifar-lab.ts).
  if (rows.some((r) => r.kind === 'ntk' && r.model === 'cnn')) return [];
  const t = summarizeTheory(rows);
  return t ? [theorySection(t)] : [];
});
registerSetSections((kind, runs) => theorySetSection(kind, runs));

// ------------------------------------------------------------------ experiment

/**
 * Defaults of `lplr run ntk` where the user gave no flag and no --preset: small enough that
 * the NTK subset is the whole training set (so the theory applies to the loss GD minimizes)
 * and the run takes a few minutes on a software adapter.
 */
export const NTK_DEFAULTS: Partial<MlpRunConfig> = { width: 256, depth: 5, subset: 256, epochs: 200, lr: 0.001, ntkEvery: 20 };

const FLAG_OF: Record<string, string> = { width: 'width', depth: 'depth', subset: 'subset', epochs: 'epochs', lr: 'lr', ntkEvery: 'ntk-every' };

/** The MLP flags, except that the checks are the point here: every 20 epochs unless told, never off. */
const NTK_OPTIONS: OptionSpec[] = MLP_OPTIONS.map((o) =>
  o.name === 'ntk-every' ? { ...o, help: 'NTK and Hessian checks every k epochs', default: NTK_DEFAULTS.ntkEvery, min: 1 } : o,
);

export function resolveNtkConfig(args: ParsedArgs): MlpRunConfig {
  const base = resolveMlpConfig(args);
  const config: MlpRunConfig = { ...base };
  if (!args.given.has('preset')) {
    for (const [key, value] of Object.entries(NTK_DEFAULTS)) {
      if (!args.given.has(FLAG_OF[key])) (config as unknown as Record<string, unknown>)[key] = value;
    }
  }
  if (config.loss !== 'mse') throw new ConfigError('lplr run ntk needs --loss mse: the NTK bound is for the squared loss.');
  // Files are checked with the final widths and subset (NTK_DEFAULTS may have changed them).
  return checkMlpFiles(config);
}

export const ntkExperiment: Experiment<MlpRunConfig> = {
  name: 'ntk',
  description:
    'Theory check: an MLP run with the empirical NTK, its spectrum and drift, the PL slack and the curvature every --ntk-every epochs ' +
    '(without --preset: W 256, depth 5, 256 samples = the NTK subset, 200 epochs, lr 0.001, checks every 20 epochs).',
  options: NTK_OPTIONS,
  prepare: resolveNtkConfig,
  async run(ctx, config) {
    fs.mkdirSync(ctx.dir, { recursive: true });
    const resume = Boolean(ctx.resume) && hasCheckpoint(ctx.dir);
    const res = await runMlp(ctx.rt, config, ctx.dir, ctx.progress, {
      ...ctx.runOptions,
      measure: withLinearized(theoryMeasure)(config, (m) => ctx.progress.log(m)),
      resume,
    });
    writeMlpReport(ctx.dir, 'Theory check — NTK, PL slack and smoothness along a GD run', config, res.rows, res.summary);
    const theory = summarizeTheory(res.rows);
    writeJsonAtomic(path.join(ctx.dir, 'theory.json'), theory);
    if (!theory) return { headline: 'no theory checks ran', summary: { run: res.summary } };
    const r = theory.rate;
    const headline =
      `λ_min(K_0)/|S| = ${fmt(theory.initial.muBound)}, PL slack ${fmt(theory.slack.min, 3)}–${fmt(theory.slack.max, 3)}× (median ${fmt(theory.slack.median, 3)}×)` +
      (r ? `\npredicted ρ ≤ ${r.predicted.toPrecision(8)}, observed ${r.observed.toPrecision(6)} (exponent ×${fmt(r.speedupFactor, 3)})` : '');
    return { headline, summary: { run: res.summary, theory }, verdicts: theory.verdicts };
  },
};
