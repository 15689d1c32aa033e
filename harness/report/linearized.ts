// Report sections of --linearized: the observed and the linearized loss on one semi-log plot,
// their relative deviation per epoch, t*, the r₀-weighted spectrum of K₀/n, and for a set of
// runs (fig4, fig5) the same numbers per run, with fig5's width verdict. Platform neutral: the
// CLI's report.html and the page draw the same sections.
import type { RateStability } from '../analysis/convergence.js';
import { linearizedWidthVerdict, tStarSentence, type LinearizedSummary } from '../analysis/linearized-summary.js';
import type { ChartSpec, ReportSection, TableSpec } from './model.js';
import { fmtNumber } from './sections.js';

function pct(x: number): string {
  return Number.isFinite(x) ? `${Number((100 * x).toPrecision(3))} %` : '—';
}

/** "sublinear (q = 0.63, 1.1 e-folds over the last third)". */
function readingText(r: RateStability): string {
  return `${r.reading} (q = ${fmtNumber(r.q)}, ${fmtNumber(r.last.efolds)} e-folds over the last third)`;
}

/** The kernel's predicted reading of the rate rule beside the run's measured one. */
export function kernelRateSentence(kernel: RateStability, observed?: RateStability): string {
  const measured = observed ? `; on the run itself it reads ${readingText(observed)}` : '';
  return `The linear-convergence rule applied to the linearized model's own ‖∇L‖² (2·L₀·Σ w_k λ_k (1 − ηλ_k)^{2t}, same window) reads ${readingText(kernel)}${measured}. Where the two agree, the verdict is what the spectrum of K₀ predicts.`;
}

function seconds(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—';
}

/** The single-run section; `trainingMs` is the run's wall time (its last epoch row). */
export function linearizedSection(s: LinearizedSummary, opts: { idPrefix?: string; trainingMs?: number; observedRate?: RateStability } = {}): ReportSection {
  const p = opts.idPrefix ?? '';
  const c = s.curve;
  const lastEpoch = c.epoch.length ? c.epoch[c.epoch.length - 1] : 0;
  const charts: ChartSpec[] = [
    {
      id: `${p}linearized-curve`,
      title: 'Observed and linearized loss',
      caption: 'The training loss of the run and the loss of its linearization at θ₀, r_{t+1} = (I − (η/n)·K₀)·r_t, on a log axis.',
      x: { label: 'epoch', scale: 'linear' },
      y: { label: 'loss ½·mean r²', scale: 'log' },
      series: [
        { label: 'observed', x: c.epoch, y: c.observed },
        { label: 'linearized (K₀)', x: c.epoch, y: c.predicted, style: 'fit' },
      ],
    },
    {
      id: `${p}linearized-deviation`,
      title: 'Relative deviation per epoch',
      caption: `|L_lin − L_obs| / L_obs; the dashed line is the ${pct(s.tolerance)} tolerance that defines t*.`,
      x: { label: 'epoch', scale: 'linear' },
      y: { label: 'relative deviation', scale: 'log' },
      series: [
        { label: '|L_lin − L_obs| / L_obs', x: c.epoch, y: c.deviation },
        { label: `${pct(s.tolerance)}`, x: [0, lastEpoch], y: [s.tolerance, s.tolerance], style: 'fit' },
      ],
    },
  ];
  if (s.spectrum.lambda.length > 0) {
    const lam = s.spectrum.lambda;
    const w = s.spectrum.weight;
    const cumulative: number[] = [];
    w.reduce((acc, v, i) => (cumulative[i] = acc + v), 0);
    const positive = w.filter((v) => v > 0);
    const floor = positive.length ? Math.min(...positive) : 1e-12;
    const series: ChartSpec['series'] = [
      { label: 'weight of r₀ on the node', x: lam, y: w, style: 'points' },
      { label: 'cumulative weight', x: lam, y: cumulative },
    ];
    if (Number.isFinite(s.lambdaHalf) && s.lambdaHalf > 0) {
      series.push({ label: `λ_½ = ${fmtNumber(s.lambdaHalf)}: slower directions keep > ½ of their loss after E epochs`, x: [s.lambdaHalf, s.lambdaHalf], y: [floor, 1], style: 'fit' });
    }
    charts.push({
      id: `${p}linearized-spectrum`,
      title: 'Spectrum of K₀/n weighted by the initial residual',
      caption:
        `Gauss quadrature nodes (${s.lanczosSteps} Lanczos steps from r₀) and the share of ‖r₀‖² on each: ` +
        'the spectral density the loss curve is made of. Loss at epoch t = L₀·Σ w_k (1 − ηλ_k)^{2t}.',
      x: { label: 'eigenvalue λ of K₀/n', scale: 'log' },
      y: { label: 'share of ‖r₀‖²', scale: 'log' },
      series,
    });
  }
  const subsetText = s.subset
    ? `K₀ = J₀J₀ᵀ at θ₀ on a stratified subset of ${s.samples} of the ${s.trainingSamples} training samples (K₀ on all of them did not fit the memory budget; n_used = ${s.samples}).`
    : `K₀ = J₀J₀ᵀ at θ₀ on all ${s.samples} training samples (layerwise, ${fmtNumber(s.kernelBytes / 2 ** 20)} MiB in f32).`;
  const table: TableSpec = {
    id: `${p}linearized-table`,
    columns: ['quantity', 'value'],
    rows: [
      ['t* (within 10 %)', s.tStar === null ? 'never' : s.tStar],
      ['largest relative deviation (epoch)', `${fmtNumber(s.largestDeviation)} (${fmtNumber(s.largestDeviationEpoch)})`],
      ['largest deviation until the loss halves (epoch it halves)', `${fmtNumber(s.deviationUntilHalved)} (${s.halvedAt === null ? 'never' : s.halvedAt})`],
      ['predicted final loss', s.predictedFinalLoss],
      ['observed final loss', s.observedFinalLoss],
      ['η·λ_max(K₀/n) (< 2 for stable GD)', s.etaLambdaMax],
      ['share of the initial loss that cannot converge within E epochs', pct(s.slowFraction)],
      ['predicted local rate per epoch at E (L_{E+1}/L_E)', s.predictedRate],
      ...(s.kernelRate ? [['rate rule on the kernel’s ‖∇L‖²', readingText(s.kernelRate)] as [string, string]] : []),
      ...(s.kernelRate && opts.observedRate ? [['rate rule on the run’s ‖∇L‖²', readingText(opts.observedRate)] as [string, string]] : []),
      ['quadrature loss at E (cross-check)', s.quadratureFinalLoss],
      ['largest |quadrature − iterated| / iterated', s.quadratureMaxRelDiff],
      ['samples in K₀ (of the training set)', `${s.samples} (of ${s.trainingSamples})`],
      ['memory held by the build', `${fmtNumber(s.heldBytes / 2 ** 20)} MiB`],
      ['time: build K₀ / iterate / Lanczos', `${seconds(s.buildMs)} / ${seconds(s.iterateMs)} / ${seconds(s.lanczosMs)}`],
      ...(opts.trainingMs !== undefined ? [['run wall time (includes the three above)', seconds(opts.trainingMs)] as [string, string]] : []),
    ],
  };
  return {
    id: `${p}linearized`,
    title: 'The NTK at initialization against the training curve',
    paragraphs: [
      tStarSentence(s),
      subsetText,
      `η·λ_max = ${fmtNumber(s.etaLambdaMax)}${s.etaLambdaMax < 2 ? ' (< 2: the linearized GD is stable)' : ' (≥ 2: the linearized GD diverges along its top direction)'}; ` +
        `${pct(s.slowFraction)} of the initial loss lies in directions with (1 − ηλ)^{2E} > ½, which cannot converge within E = ${fmtNumber(s.epochs)} epochs. ` +
        `Predicted final loss ${fmtNumber(s.predictedFinalLoss)} against ${fmtNumber(s.observedFinalLoss)} observed; predicted local rate ${fmtNumber(s.predictedRate)} per epoch at E.`,
      ...(s.kernelRate ? [kernelRateSentence(s.kernelRate, opts.observedRate)] : []),
    ],
    charts,
    tables: [table],
  };
}

export interface LinearizedSetMember {
  label: string;
  width: number;
  linearized?: LinearizedSummary;
  /** The run's own rate-rule numbers, beside the kernel's. */
  observedRate?: RateStability;
}

/** fig4/fig5: the linearized numbers per run; for fig5 t* and the largest deviation against width, with the verdict. */
export function linearizedSetSection(kind: string, members: readonly LinearizedSetMember[]): ReportSection[] {
  const withLin = members.filter((m): m is LinearizedSetMember & { linearized: LinearizedSummary } => m.linearized !== undefined);
  if (withLin.length === 0) return [];
  const table: TableSpec = {
    id: `${kind}-linearized-table`,
    columns: ['run', 'width', 'samples in K₀', 't*', 'largest deviation', 'until the loss halves', 'predicted final loss', 'observed final loss', 'cannot converge within E', 'ηλ_max', 'rate rule: kernel', 'rate rule: run'],
    rows: withLin.map((m) => {
      const s = m.linearized;
      const reading = (r?: RateStability) => (r ? `${r.reading} (q ${fmtNumber(r.q)})` : '—');
      return [m.label, m.width, s.samples, s.tStar === null ? 'never' : s.tStar, fmtNumber(s.largestDeviation), fmtNumber(s.deviationUntilHalved), fmtNumber(s.predictedFinalLoss), fmtNumber(s.observedFinalLoss), pct(s.slowFraction), fmtNumber(s.etaLambdaMax), reading(s.kernelRate), reading(m.observedRate)];
    }),
  };
  const section: ReportSection = {
    id: `${kind}-linearized`,
    title: kind === 'fig5' ? 'The linearized model against width' : 'The linearized model per run',
    paragraphs: withLin.map((m) => `${m.label}: ${tStarSentence(m.linearized)}`),
    tables: [table],
  };
  if (kind === 'fig5') {
    const points = withLin.map((m) => ({ width: m.width, largestDeviation: m.linearized.largestDeviation, tStar: m.linearized.tStar }));
    const judged = linearizedWidthVerdict(points);
    if (judged.verdict) section.verdicts = [judged.verdict];
    else section.paragraphs!.push(judged.note!);
    const w = points.map((q) => q.width);
    section.charts = [
      {
        id: 'fig5-linearized-deviation',
        title: 'Largest deviation from the linearized model vs width',
        x: { label: 'width', scale: 'log' },
        y: { label: 'max_t |L_lin − L_obs| / L_obs', scale: 'log' },
        series: [{ label: 'largest deviation', x: w, y: points.map((q) => q.largestDeviation), style: 'points' }],
      },
      {
        id: 'fig5-linearized-tstar',
        title: 't* vs width',
        caption: 'Last epoch up to which the linearized prediction stays within 10 % of the observed loss (E when it holds throughout).',
        x: { label: 'width', scale: 'log' },
        y: { label: 't* (epochs)', scale: 'linear' },
        series: [{ label: 't*', x: w, y: points.map((q) => q.tStar), style: 'points' }],
      },
    ];
  }
  return [section];
}
