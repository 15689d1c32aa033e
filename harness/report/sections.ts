// Builders that turn run summaries into report sections: one run (paper Figures 1-3), a
// comparison of runs on one plot (Figure 4) and the width ablation (Figure 5).
import type { MetricRow } from '../../src/metrics/schema.js';
import { isStepRow } from '../../src/metrics/schema.js';
import { L_STAR_CHOICES, type LStarAnalysis, type LStarChoice, type RunSummary } from '../../src/metrics/summary.js';
import type { Verdict } from '../../src/metrics/verdicts.js';
import type { ChartSeries, ChartSpec, ReportSection, TableCell, TableSpec } from './model.js';

export type SingleRunFigure = 'fig1' | 'fig2' | 'fig3' | 'curves';
export const SINGLE_RUN_FIGURES: readonly SingleRunFigure[] = ['fig1', 'fig2', 'fig3', 'curves'];

const CHOICE_COLORS: Record<LStarChoice, string> = { min: '#1f77b4', fit: '#d62728', zero: '#2ca02c' };

/** Points of the fitted line gap = e^(intercept + slope·t) at every integer t of the window. */
function semiLogFitSeries(a: LStarAnalysis, start: number, end: number, label: string, color: string, show = true): ChartSeries | undefined {
  const { slope, intercept } = a.semiLog;
  if (!Number.isFinite(slope) || !Number.isFinite(intercept)) return undefined;
  const x: number[] = [];
  for (let t = start; t <= end; t++) x.push(t);
  return { label, x, y: x.map((t) => Math.exp(intercept + slope * t)), style: 'fit', color, show };
}

/** Points of ‖∇L‖² = e^intercept·gap^slope, log-spaced over the gaps that entered the fit. */
function logLogFitSeries(fit: { slope: number; intercept: number }, gaps: number[], label: string, color: string, show = true): ChartSeries | undefined {
  const positive = gaps.filter((g) => g > 0 && Number.isFinite(g));
  if (positive.length < 2 || !Number.isFinite(fit.slope) || !Number.isFinite(fit.intercept)) return undefined;
  const lo = Math.log(Math.min(...positive));
  const hi = Math.log(Math.max(...positive));
  const x = Array.from({ length: 24 }, (_, i) => Math.exp(lo + ((hi - lo) * i) / 23));
  return { label, x, y: x.map((g) => Math.exp(fit.intercept) * g ** fit.slope), style: 'fit', color, show };
}

function windowValues<T>(xs: readonly number[], values: readonly T[], start: number, end: number): T[] {
  return values.filter((_, i) => xs[i] >= start && xs[i] <= end);
}

export function fmtNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return String(Number(v.toPrecision(5)));
  return v.toExponential(3);
}

function lStarLabel(choice: LStarChoice): string {
  return choice === 'min' ? 'L* = min loss' : choice === 'zero' ? 'L* = 0' : 'L* fitted';
}

export interface SingleRunOptions {
  /** Prefix of every DOM id, so several runs can share a page. */
  idPrefix?: string;
  figures?: readonly SingleRunFigure[];
}

/**
 * Sections for one run: overview, verdicts, the paper's figures the data supports (Figure 3
 * only with `step` rows), training curves, numbers per L* choice.
 */
export function singleRunSections(rows: readonly MetricRow[], summary: RunSummary, options: SingleRunOptions = {}): ReportSection[] {
  const p = options.idPrefix ?? '';
  const figures = new Set(options.figures ?? SINGLE_RUN_FIGURES);
  const { epochs, window: w } = summary;
  const windowText = `epochs ${w.start}..${w.end}`;
  const sections: ReportSection[] = [];

  const overview: TableSpec = {
    id: `${p}overview-table`,
    columns: ['quantity', 'value'],
    rows: [
      ['epochs (full-batch updates)', summary.lastEpoch],
      ['final training loss', summary.final.loss],
      ['minimum training loss (epoch)', `${fmtNumber(summary.minLoss)} (${fmtNumber(summary.minLossEpoch)})`],
      ['final ‖∇L‖²', summary.final.gradNormSq],
      ['final training accuracy', summary.final.acc],
      ['final drift ‖θ_E − θ_0‖ (max over run)', `${fmtNumber(summary.final.drift)} (${fmtNumber(summary.maxDrift)})`],
      ...(summary.final.testLoss !== undefined ? [['final test loss', summary.final.testLoss] as TableCell[]] : []),
      ...(summary.final.testAcc !== undefined ? [['final test accuracy', summary.final.testAcc] as TableCell[]] : []),
      ['wall time (s)', summary.final.timeMs / 1000],
      ['fit window', `${windowText} (${w.source})`],
    ],
  };
  sections.push({ id: `${p}overview`, title: 'Overview', paragraphs: summary.warnings.map((m) => `Note: ${m}`), tables: [overview] });
  sections.push({
    id: `${p}verdicts`,
    title: 'Verdicts',
    paragraphs: ['Each verdict applies the stated rule to the measured numbers; the thresholds are listed below the table.'],
    verdicts: summary.verdicts,
    thresholds: summary.thresholds,
  });

  if (figures.has('fig1') && epochs.length > 0) {
    const series: ChartSeries[] = [];
    for (const choice of L_STAR_CHOICES) {
      const a = summary.lStar[choice];
      const color = CHOICE_COLORS[choice];
      const show = choice !== 'zero';
      series.push({ label: `gap, ${lStarLabel(choice)} (${fmtNumber(a.lStar)})`, x: epochs, y: a.gap, color, show });
      const fit = semiLogFitSeries(a, w.start, w.end, `fit ${lStarLabel(choice)}: ρ = ${fmtNumber(a.semiLog.rho)}/epoch, R² = ${fmtNumber(a.semiLog.r2)}`, color, show);
      if (fit) series.push(fit);
    }
    sections.push({
      id: `${p}fig1`,
      title: 'Figure 1 — suboptimality gap (semi-log)',
      paragraphs: [
        `L_t − L* on a log axis: a straight line means a constant contraction factor ρ per epoch (linear convergence, Theorem 5.4). Dashed lines are least-squares fits of log(L_t − L*) over ${windowText}. The L* = 0 curves are hidden at first; click their legend entries to show them.`,
      ],
      charts: [{ id: `${p}fig1-gap`, title: 'Suboptimality gap vs epoch', x: { label: 'epoch t', scale: 'linear' }, y: { label: 'L_t − L*', scale: 'log' }, series }],
    });
  }

  if (figures.has('fig2') && epochs.length > 0) {
    const series: ChartSeries[] = [];
    for (const choice of L_STAR_CHOICES) {
      const a = summary.lStar[choice];
      const color = CHOICE_COLORS[choice];
      const show = choice !== 'zero';
      const gaps = windowValues(epochs, a.gap, w.start, w.end);
      series.push({ label: `epochs in window, ${lStarLabel(choice)}`, x: gaps, y: windowValues(epochs, summary.gradNormSq, w.start, w.end), style: 'points', color, show });
      const fit = logLogFitSeries(a.logLog, gaps, `fit ${lStarLabel(choice)}: slope ${fmtNumber(a.logLog.slope)}, R² = ${fmtNumber(a.logLog.r2)}`, color, show);
      if (fit) series.push(fit);
    }
    sections.push({
      id: `${p}fig2`,
      title: 'Figure 2 — ‖∇L‖² vs gap (log-log)',
      paragraphs: [
        `Each point is one epoch of ${windowText}. The PL inequality ‖∇L‖² ≥ 2μ(L − L*) is a line of slope 1 on these axes; slopes below 1 still mean a polynomial (Kurdyka-Łojasiewicz-type) bound.`,
      ],
      charts: [{ id: `${p}fig2-pl`, title: 'Squared gradient norm vs suboptimality gap', x: { label: 'L_t − L*', scale: 'log' }, y: { label: '‖∇L(θ_t)‖²', scale: 'log' }, series }],
    });
  }

  const sm = summary.smoothed;
  if (figures.has('fig3') && sm) {
    const steps = rows.filter(isStepRow).sort((a, b) => a.step - b.step);
    const { startStep, endStep } = sm.window;
    const gapSeries: ChartSeries[] = [];
    const plSeries: ChartSeries[] = [];
    for (const choice of ['min', 'fit'] as const) {
      const a = sm.lStar[choice];
      const color = CHOICE_COLORS[choice];
      gapSeries.push({ label: `smoothed gap, ${lStarLabel(choice)} (${fmtNumber(a.lStar)})`, x: sm.steps, y: a.gap, color });
      const fit = semiLogFitSeries(a, startStep, endStep, `fit ${lStarLabel(choice)}: ρ = ${fmtNumber(a.semiLog.rho)}/step, R² = ${fmtNumber(a.semiLog.r2)}`, color);
      if (fit) gapSeries.push(fit);
      const gaps = windowValues(sm.steps, a.gap, startStep, endStep);
      plSeries.push({ label: `steps in window, ${lStarLabel(choice)}`, x: gaps, y: windowValues(sm.steps, sm.gradNormSq, startStep, endStep), style: 'points', color });
      const llFit = logLogFitSeries(a.logLog, gaps, `fit ${lStarLabel(choice)}: slope ${fmtNumber(a.logLog.slope)}, R² = ${fmtNumber(a.logLog.r2)}`, color);
      if (llFit) plSeries.push(llFit);
    }
    sections.push({
      id: `${p}fig3`,
      title: 'Figure 3 — mini-batch training, smoothed (semi-log and PL plot)',
      paragraphs: [
        `Mini-batch loss and ‖∇L‖² smoothed by a bias-corrected exponential moving average (β = ${sm.beta}). Fits use steps ${startStep}..${endStep} (the steps of ${windowText}).`,
      ],
      charts: [
        {
          id: `${p}fig3-loss`,
          title: 'Mini-batch loss, raw and smoothed',
          x: { label: 'step', scale: 'linear' },
          y: { label: 'loss', scale: 'log' },
          series: [
            { label: 'mini-batch loss', x: steps.map((r) => r.step), y: steps.map((r) => r.loss), color: '#c7c7c7' },
            { label: `EMA (β = ${sm.beta})`, x: sm.steps, y: sm.loss, color: '#1f77b4' },
          ],
        },
        { id: `${p}fig3-gap`, title: 'Smoothed suboptimality gap vs step', x: { label: 'step', scale: 'linear' }, y: { label: 'smoothed L − L*', scale: 'log' }, series: gapSeries },
        { id: `${p}fig3-pl`, title: 'Smoothed ‖∇L‖² vs smoothed gap', x: { label: 'smoothed L − L*', scale: 'log' }, y: { label: 'smoothed ‖∇L‖²', scale: 'log' }, series: plSeries },
      ],
    });
  }

  if (figures.has('curves') && epochs.length > 0) {
    const charts: ChartSpec[] = [];
    const lossSeries: ChartSeries[] = [{ label: 'training loss', x: epochs, y: summary.loss }];
    const testRows = rows.filter((r): r is Extract<MetricRow, { kind: 'eval' }> => r.kind === 'eval').sort((a, b) => a.epoch - b.epoch);
    if (testRows.length > 0) lossSeries.push({ label: 'test loss', x: testRows.map((r) => r.epoch), y: testRows.map((r) => r.testLoss) });
    charts.push({ id: `${p}curves-loss`, title: 'Loss vs epoch', x: { label: 'epoch', scale: 'linear' }, y: { label: 'loss', scale: 'log' }, series: lossSeries });
    charts.push({
      id: `${p}curves-gradnorm`,
      title: 'Squared gradient norm vs epoch',
      x: { label: 'epoch', scale: 'linear' },
      y: { label: '‖∇L(θ_t)‖²', scale: 'log' },
      series: [{ label: '‖∇L‖²', x: epochs, y: summary.gradNormSq }],
    });
    charts.push({
      id: `${p}curves-drift`,
      title: 'Distance from initialization',
      x: { label: 'epoch', scale: 'linear' },
      y: { label: '‖θ_t − θ_0‖', scale: 'linear' },
      series: [{ label: 'drift', x: epochs, y: summary.drift }],
    });
    sections.push({ id: `${p}curves`, title: 'Training curves', charts });
  }

  if (epochs.length > 0) sections.push({ id: `${p}numbers`, title: 'Numbers per choice of L*', tables: [lStarTable(summary, `${p}numbers-table`)] });
  return sections;
}

/** One row per L* choice: the value, the semi-log and log-log fits, the smallest PL ratio. */
export function lStarTable(summary: RunSummary, id?: string): TableSpec {
  return {
    id,
    caption: `Fits over epochs ${summary.window.start}..${summary.window.end}. ρ = e^slope per epoch; the half-window rates should agree for linear convergence. μ̂ = min over the window of ‖∇L‖²/(2(L_t − L*)).`,
    columns: ['L*', 'value', 'ρ/epoch', 'semi-log R²', 'points (skipped)', 'ρ 1st half', 'ρ 2nd half', 'log-log slope', 'log-log R²', 'μ̂ (epoch)', 'how L* is chosen'],
    rows: L_STAR_CHOICES.map((choice) => {
      const a = summary.lStar[choice];
      return [
        choice,
        a.lStar,
        a.semiLog.rho,
        a.semiLog.r2,
        `${a.semiLog.n} (${a.semiLog.skipped})`,
        a.semiLogHalves.first.rho,
        a.semiLogHalves.second.rho,
        a.logLog.slope,
        a.logLog.r2,
        `${fmtNumber(a.plRatioMin)} (${fmtNumber(a.plRatioMinAt)})`,
        a.description,
      ];
    }),
  };
}

export interface RunForReport {
  label: string;
  summary: RunSummary;
}

export interface ComparisonOptions {
  id?: string;
  title?: string;
  /** Which gap to plot and fit; default `min`, the paper's choice. */
  lStar?: LStarChoice;
  paragraphs?: string[];
}

/** Several runs on one semi-log plot with their fitted lines and a table of rates (Figure 4). */
export function comparisonSection(runs: readonly RunForReport[], options: ComparisonOptions = {}): ReportSection {
  const id = options.id ?? 'fig4';
  const choice = options.lStar ?? 'min';
  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf'];
  const gapSeries: ChartSeries[] = [];
  const lossSeries: ChartSeries[] = [];
  runs.forEach((r, i) => {
    const color = palette[i % palette.length];
    const a = r.summary.lStar[choice];
    gapSeries.push({ label: r.label, x: r.summary.epochs, y: a.gap, color });
    const fit = semiLogFitSeries(a, r.summary.window.start, r.summary.window.end, `${r.label} fit: ρ = ${fmtNumber(a.semiLog.rho)}/epoch`, color);
    if (fit) gapSeries.push(fit);
    lossSeries.push({ label: r.label, x: r.summary.epochs, y: r.summary.loss, color });
  });
  return {
    id,
    title: options.title ?? 'Figure 4 — runs compared',
    paragraphs: options.paragraphs ?? [`Gap L_t − L* with ${lStarLabel(choice)} for each run, fitted over each run's window. A smaller ρ is faster convergence.`],
    charts: [
      { id: `${id}-gap`, title: `Suboptimality gap (${lStarLabel(choice)}) vs epoch`, x: { label: 'epoch t', scale: 'linear' }, y: { label: 'L_t − L*', scale: 'log' }, series: gapSeries },
      { id: `${id}-loss`, title: 'Training loss vs epoch', x: { label: 'epoch t', scale: 'linear' }, y: { label: 'training loss', scale: 'log' }, series: lossSeries },
    ],
    tables: [
      {
        id: `${id}-rates`,
        columns: ['run', 'ρ/epoch (L* = min)', 'R² (min)', 'ρ/epoch (L* fitted)', 'R² (fitted)', 'final loss', 'final drift', 'verdicts passed'],
        rows: runs.map((r) => [
          r.label,
          r.summary.lStar.min.semiLog.rho,
          r.summary.lStar.min.semiLog.r2,
          r.summary.lStar.fit.semiLog.rho,
          r.summary.lStar.fit.semiLog.r2,
          r.summary.final.loss,
          r.summary.final.drift,
          `${r.summary.verdicts.filter((v) => v.passed).length}/${r.summary.verdicts.length}`,
        ]),
      },
    ],
  };
}

export interface WidthRunForReport extends RunForReport {
  width: number;
}

/** Final loss vs width on log axes, every width's loss curve, and rate/drift per width (Figure 5). */
export function widthAblationSection(runs: readonly WidthRunForReport[], verdicts: Verdict[] = [], options: { id?: string; title?: string } = {}): ReportSection {
  const id = options.id ?? 'fig5';
  const sorted = [...runs].sort((a, b) => a.width - b.width);
  const palette = ['#440154', '#3b528b', '#21918c', '#5ec962', '#b5a300', '#d95f02', '#e7298a', '#666666'];
  return {
    id,
    title: options.title ?? 'Figure 5 — width ablation',
    paragraphs: ['Final training loss against network width, both axes logarithmic; the paper reports that the final loss falls as width grows.'],
    verdicts,
    thresholds: runs[0]?.summary.thresholds,
    charts: [
      {
        id: `${id}-final-loss`,
        title: 'Final training loss vs width',
        x: { label: 'width', scale: 'log' },
        y: { label: 'final training loss', scale: 'log' },
        series: [{ label: 'final loss', x: sorted.map((r) => r.width), y: sorted.map((r) => r.summary.final.loss), color: '#1f77b4', markers: true }],
      },
      {
        id: `${id}-loss`,
        title: 'Training loss vs epoch, by width',
        x: { label: 'epoch t', scale: 'linear' },
        y: { label: 'training loss', scale: 'log' },
        series: sorted.map((r, i) => ({ label: `width ${r.width}`, x: r.summary.epochs, y: r.summary.loss, color: palette[i % palette.length] })),
      },
    ],
    tables: [
      {
        id: `${id}-table`,
        columns: ['width', 'final loss', 'ρ/epoch (L* = min)', 'R² (min)', 'ρ/epoch (L* fitted)', 'final drift', 'max drift'],
        rows: sorted.map((r) => [
          r.width,
          r.summary.final.loss,
          r.summary.lStar.min.semiLog.rho,
          r.summary.lStar.min.semiLog.r2,
          r.summary.lStar.fit.semiLog.rho,
          r.summary.final.drift,
          r.summary.maxDrift,
        ]),
      },
    ],
  };
}
