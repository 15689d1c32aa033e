// Builders that turn run summaries into report sections: one run (paper Figures 1-3), a
// comparison of runs on one plot (Figure 4) and the width ablation (Figure 5).
import type { MetricRow } from '../../src/metrics/schema.js';
import { isStepRow } from '../../src/metrics/schema.js';
import { L_STAR_CHOICES, windowRate, type LStarAnalysis, type LStarChoice, type RunSummary } from '../analysis/summary.js';
import { verdictWord, type Verdict } from '../analysis/verdicts.js';
import type { ChartSeries, ChartSpec, ReportSection, TableCell, TableSpec } from './model.js';

export type SingleRunFigure = 'rate' | 'fig1' | 'fig2' | 'fig3' | 'curves';
export const SINGLE_RUN_FIGURES: readonly SingleRunFigure[] = ['rate', 'fig1', 'fig2', 'fig3', 'curves'];

const CHOICE_COLORS: Record<LStarChoice, string> = { min: '#1f77b4', fit: '#d62728', zero: '#2ca02c', extended: '#9467bd' };

/** The analyses a summary has, primary first (extended exists only for extended runs). */
function presentChoices(summary: { primary?: LStarChoice; lStar: Partial<Record<LStarChoice, LStarAnalysis>> }): LStarAnalysis[] {
  const order = [summary.primary ?? 'zero', ...L_STAR_CHOICES.filter((c) => c !== summary.primary)];
  return order.map((c) => summary.lStar[c]).filter((a): a is LStarAnalysis => a !== undefined);
}

/**
 * The gap curve for the plot. L* = min makes the gap plunge to 0 at its own epoch, which squeezes
 * the axis down to 1e-12: its curve stops where the gap falls below 1e-3 of its start.
 */
function plottedGap(a: LStarAnalysis): number[] {
  if (a.choice !== 'min') return a.gap;
  const start = a.gap.find((g) => g > 0 && Number.isFinite(g));
  if (start === undefined) return a.gap;
  let cut = false;
  return a.gap.map((g) => {
    if (cut || !(g >= 1e-3 * start)) cut = true;
    return cut ? NaN : g;
  });
}

/** The headline of a run: what the rules say, in two sentences, with the paper's reading beside them. */
export function convergenceHeadline(summary: RunSummary): string[] {
  const r = summary.rate;
  const a = summary.lStar[summary.primary];
  const out: string[] = [];
  const rateText =
    r.outcome === 'inconclusive'
      ? `Linear convergence: inconclusive (${r.note ?? 'not enough evidence'}).`
      : `Linear convergence: ${r.reading}. The local rate of ‖∇L‖² over the last third of the window is q = ${fmtNumber(r.q)} × its rate over the middle third ` +
        `(${fmtNumber(r.last.rate)} vs ${fmtNumber(r.middle.rate)} per epoch; linear needs q ≥ ${fmtNumber(summary.thresholds.rateRatioMin)}).`;
  out.push(rateText);
  if (a) {
    out.push(
      `PL condition with the primary L* = ${a.choice} (${fmtNumber(a.lStar)}): ${verdictWord({ passed: a.pl.outcome === 'pass', outcome: a.pl.outcome })}` +
        `${a.pl.note ? ` (${a.pl.note})` : ''}; the median of μ_t = ‖∇L‖²/(2(L_t − L*)) over the last third is ${fmtNumber(a.pl.ratio)} × that over the middle third (needs ≥ ${fmtNumber(summary.thresholds.plMedianRatioMin)}), μ = ${fmtNumber(a.pl.muMin)}.`,
    );
  }
  const m = summary.lStar.min;
  out.push(
    `The paper's reading (§6.1: L* = the minimum loss of the run) gives ρ = ${fmtNumber(m.semiLog.rho)} per epoch with R² = ${fmtNumber(m.semiLog.r2)} and log-log slope ${fmtNumber(m.logLog.slope)}; ` +
      'that choice is drawn but not judged, because subtracting the window’s own minimum bends any decreasing curve toward a straight line near its end.',
  );
  return out;
}


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
  return choice === 'min' ? 'L* = min loss' : choice === 'zero' ? 'L* = 0' : choice === 'extended' ? 'L* = extended' : 'L* fitted';
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
      ['fit window', `${windowText} (${w.source}${w.endReason ? `; ends early: ${w.endReason}, planned end ${w.plannedEnd}` : ''})`],
      ['primary L* (used by the PL verdict)', `${summary.primary} = ${fmtNumber(summary.lStar[summary.primary]?.lStar)}`],
    ],
  };
  sections.push({ id: `${p}overview`, title: 'Overview', paragraphs: summary.warnings.map((m) => `Note: ${m}`), tables: [overview] });
  sections.push({
    id: `${p}verdicts`,
    title: 'Verdicts',
    paragraphs: [
      ...(epochs.length > 0 ? convergenceHeadline(summary) : []),
      'Each verdict applies the stated rule to the measured numbers (pass, fail, or inconclusive when the data cannot decide); the thresholds are listed below the table. R², fitted rates and log-log slopes are reported, not judged.',
    ],
    verdicts: summary.verdicts,
    thresholds: summary.thresholds,
  });
  if (figures.has('rate') && epochs.length > 0) sections.push(rateSection(summary, p));

  if (figures.has('fig1') && epochs.length > 0) {
    const series: ChartSeries[] = [];
    for (const a of presentChoices(summary)) {
      const color = CHOICE_COLORS[a.choice];
      const show = a.choice === summary.primary || a.choice === 'min';
      const tag = a.judged ? (a.choice === summary.primary ? 'primary' : 'not primary') : 'no verdict';
      series.push({ label: `gap, ${lStarLabel(a.choice)}${a.choice === 'zero' ? '' : ` = ${fmtNumber(a.lStar)}`} (${tag})`, x: epochs, y: plottedGap(a), color, show });
      const fit = semiLogFitSeries(a, w.start, w.end, `line fit, ${lStarLabel(a.choice)}: ρ = ${fmtNumber(a.semiLog.rho)}/epoch, R² = ${fmtNumber(a.semiLog.r2)}`, color, show);
      if (fit) series.push(fit);
    }
    sections.push({
      id: `${p}fig1`,
      title: 'Figure 1 — suboptimality gap (semi-log)',
      paragraphs: [
        `L_t − L* on a log axis for each choice of L*; dashed lines are least-squares fits of log(L_t − L*) over ${windowText}, reported, not judged. ` +
          `The primary L* is ${summary.primary}. The paper's L* = min curve is drawn until its gap falls below 1e-3 of its start: it bends toward a straight line near the window's end by construction, so it carries no verdict. Click legend entries to show hidden curves.`,
      ],
      charts: [{ id: `${p}fig1-gap`, title: 'Suboptimality gap vs epoch', x: { label: 'epoch t', scale: 'linear' }, y: { label: 'L_t − L*', scale: 'log' }, series }],
    });
  }

  if (figures.has('fig2') && epochs.length > 0) {
    const series: ChartSeries[] = [];
    for (const a of presentChoices(summary)) {
      const choice = a.choice;
      const color = CHOICE_COLORS[choice];
      const show = choice === summary.primary || choice === 'min';
      const gaps = windowValues(epochs, a.gap, w.start, w.end);
      series.push({ label: `epochs in window, ${lStarLabel(choice)}`, x: gaps, y: windowValues(epochs, summary.gradNormSq, w.start, w.end), style: 'points', color, show });
      const fit = logLogFitSeries(a.logLog, gaps, `fit ${lStarLabel(choice)}: slope ${fmtNumber(a.logLog.slope)}, R² = ${fmtNumber(a.logLog.r2)}`, color, show);
      if (fit) series.push(fit);
    }
    sections.push({
      id: `${p}fig2`,
      title: 'Figure 2 — ‖∇L‖² vs gap (log-log)',
      paragraphs: [
        `Each point is one epoch of ${windowText}. The PL inequality ‖∇L‖² ≥ 2μ(L − L*) is a line of slope 1 on these axes; the paper reads slopes below 1 as a polynomial (Kurdyka-Łojasiewicz-type) bound. Slopes are reported, not judged: steep power laws fall inside any band of slopes. The PL verdict asks instead whether μ_t = ‖∇L‖²/(2(L_t − L*)) holds up over the window (section “Has the rate settled?”).`,
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
    for (const choice of ['zero', 'min', 'fit'] as const) {
      const a = sm.lStar[choice];
      const color = CHOICE_COLORS[choice];
      gapSeries.push({ label: `smoothed gap, ${lStarLabel(choice)} (${fmtNumber(a.lStar)})${a.judged ? '' : ', no verdict'}`, x: sm.steps, y: plottedGap(a), color });
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
        `Mini-batch loss and ‖∇L‖² smoothed by a bias-corrected exponential moving average (β = ${sm.beta}). Fits use steps ${startStep}..${endStep} (the steps of ${windowText}). The local rate of the smoothed ‖∇L‖²: ${sm.rate.reading}${sm.rate.note ? ` (${sm.rate.note})` : ''}, q = ${fmtNumber(sm.rate.q)}. Primary L* = 0 (the infimum of cross-entropy); min and fit are drawn without a verdict.`,
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

/** One row per L* choice: its value and how it was obtained, the PL rule's numbers, the reported fits. */
export function lStarTable(summary: RunSummary, id?: string): TableSpec {
  return {
    id,
    caption:
      `Over epochs ${summary.window.start}..${summary.window.end}. μ ratio = median μ_t over the last third / over the middle third (the PL rule); μ̂ = the last third's smallest μ_t. ` +
      'ρ = e^slope per epoch of log(L_t − L*), R² and the log-log slope are reported, not judged. Only the primary L* carries the PL verdict; min and fit never do.',
    columns: ['L*', 'value', 'how it was obtained', 'PL rule', 'μ ratio', 'μ̂ (epoch)', 'ρ/epoch', 'semi-log R²', 'ρ 1st half', 'ρ 2nd half', 'log-log slope', 'log-log R²'],
    rows: presentChoices(summary).map((a) => [
      a.choice === summary.primary ? `${a.choice} (primary)` : a.choice,
      a.lStar,
      a.obtained,
      a.choice === summary.primary ? verdictWord({ passed: a.pl.outcome === 'pass', outcome: a.pl.outcome }) : a.judged ? `(${a.pl.outcome})` : 'no verdict',
      a.pl.ratio,
      `${fmtNumber(a.pl.muMin)} (${fmtNumber(a.pl.muMinAt)})`,
      a.semiLog.rho,
      a.semiLog.r2,
      a.semiLogHalves.first.rho,
      a.semiLogHalves.second.rho,
      a.logLog.slope,
      a.logLog.r2,
    ]),
  };
}

/** The two offset models of L* = fit side by side (reported, never judged). */
export function offsetModelTable(summary: RunSummary, id?: string): TableSpec | undefined {
  const m = summary.lStar.fit.models;
  if (!m) return undefined;
  const row = (f: typeof m.exponential, shape: string): TableCell[] => [f.model, shape, f.lStar, f.onBound ? `on its ${f.onBound} bound (degenerate)` : 'inside', f.rho ?? f.p ?? NaN, f.t0 ?? '—', f.rss, f.aic];
  return {
    id,
    caption: `Least squares on log L_t over the window. AIC(exp) − AIC(power) = ${fmtNumber(m.deltaAic)} (positive favours the power law). A power law (t + t0)^-p with a large t0 is close to an exponential, so this comparison is reported, not judged.`,
    columns: ['model', 'L_t =', 'L*', 'L* vs bounds', 'ρ or p', 't0', 'RSS (log L)', 'AIC'],
    rows: [row(m.exponential, 'L* + A·ρ^t'), row(m.power, 'L* + A·(t + t0)^-p')],
  };
}

/** The rate rule's evidence: log ‖∇L‖² with the middle- and last-third lines, and their rates. */
function rateSection(summary: RunSummary, p: string): ReportSection {
  const r = summary.rate;
  const { epochs, gradNormSq } = summary;
  const line = (third: typeof r.middle, label: string, color: string): ChartSeries | undefined => {
    const idx = epochs.map((t, i) => i).filter((i) => epochs[i] >= third.from && epochs[i] <= third.to && gradNormSq[i] > 0);
    if (idx.length < 2 || !Number.isFinite(third.rate)) return undefined;
    const mx = idx.reduce((s, i) => s + epochs[i], 0) / idx.length;
    const my = idx.reduce((s, i) => s + Math.log(gradNormSq[i]), 0) / idx.length;
    return { label, x: idx.map((i) => epochs[i]), y: idx.map((i) => Math.exp(my - third.rate * (epochs[i] - mx))), style: 'fit', color };
  };
  const series: ChartSeries[] = [{ label: '‖∇L‖²', x: epochs, y: gradNormSq, color: '#444444' }];
  const mid = line(r.middle, `middle third: rate ${fmtNumber(r.middle.rate)}/epoch`, '#1f77b4');
  const last = line(r.last, `last third: rate ${fmtNumber(r.last.rate)}/epoch`, '#d62728');
  if (mid) series.push(mid);
  if (last) series.push(last);
  const models = offsetModelTable(summary, `${p}models-table`);
  return {
    id: `${p}rate`,
    title: 'Has the rate settled? (linear vs sublinear)',
    paragraphs: [
      'Under linear convergence the local rate stays put; under a power law it keeps decaying like 1/t. The rate is read from ‖∇L‖², which needs no L* (for gradient descent ‖∇L‖² contracts at the same rate as the gap), ' +
        `by a least-squares line through log ‖∇L‖² over the middle third (epochs ${fmtNumber(r.middle.from)}–${fmtNumber(r.middle.to)}) and the last third (${fmtNumber(r.last.from)}–${fmtNumber(r.last.to)}) of the window.`,
      `q = ${fmtNumber(r.q)}: ${r.reading}${r.note ? ` (${r.note})` : ''}. Over the last third ‖∇L‖² fell ${fmtNumber(r.last.efolds)} e-folds.`,
    ],
    charts: [{ id: `${p}rate-chart`, title: 'Squared gradient norm and the two local rates', x: { label: 'epoch t', scale: 'linear' }, y: { label: '‖∇L(θ_t)‖²', scale: 'log' }, series }],
    tables: [
      {
        id: `${p}rate-table`,
        columns: ['third', 'epochs', 'points', 'rate of ‖∇L‖² per epoch', 'e-folds', 'contraction e^−rate'],
        rows: [
          ['middle', `${fmtNumber(r.middle.from)}–${fmtNumber(r.middle.to)}`, r.middle.n, r.middle.rate, r.middle.efolds, Math.exp(-r.middle.rate)],
          ['last', `${fmtNumber(r.last.from)}–${fmtNumber(r.last.to)}`, r.last.n, r.last.rate, r.last.efolds, Math.exp(-r.last.rate)],
        ],
      },
      ...(models ? [models] : []),
    ],
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
  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf'];
  const gapSeries: ChartSeries[] = [];
  const lossSeries: ChartSeries[] = [];
  const choiceOf = (r: RunForReport): LStarChoice => options.lStar ?? r.summary.primary ?? 'zero';
  runs.forEach((r, i) => {
    const color = palette[i % palette.length];
    const a = r.summary.lStar[choiceOf(r)] ?? r.summary.lStar.zero;
    gapSeries.push({ label: `${r.label} (${lStarLabel(a.choice)})`, x: r.summary.epochs, y: plottedGap(a), color });
    const fit = semiLogFitSeries(a, r.summary.window.start, r.summary.window.end, `${r.label} line fit: ρ = ${fmtNumber(a.semiLog.rho)}/epoch`, color);
    if (fit) gapSeries.push(fit);
    lossSeries.push({ label: r.label, x: r.summary.epochs, y: r.summary.loss, color });
  });
  const word = (r: RunForReport, prefix: string) => {
    const v = r.summary.verdicts.find((x) => x.name.startsWith(prefix) && !x.name.includes('smoothed'));
    return v ? verdictWord(v) : '—';
  };
  return {
    id,
    title: options.title ?? 'Figure 4 — runs compared',
    paragraphs: options.paragraphs ?? [
      'Gap L_t − L* with each run’s primary L*, and the training loss, for each run. The rate of ‖∇L‖² over the window (no L* needed) is the comparison the set’s verdict uses; ρ of the line fits is reported.',
    ],
    charts: [
      { id: `${id}-gap`, title: 'Suboptimality gap (primary L*) vs epoch', x: { label: 'epoch t', scale: 'linear' }, y: { label: 'L_t − L*', scale: 'log' }, series: gapSeries },
      { id: `${id}-loss`, title: 'Training loss vs epoch', x: { label: 'epoch t', scale: 'linear' }, y: { label: 'training loss', scale: 'log' }, series: lossSeries },
    ],
    tables: [
      {
        id: `${id}-rates`,
        columns: ['run', 'linear convergence', 'q', 'rate of ‖∇L‖² (window)', 'PL (primary L*)', 'ρ/epoch (primary L*)', 'ρ/epoch (L* = min, paper)', 'final loss', 'final drift'],
        rows: runs.map((r) => [
          r.label,
          word(r, 'linear convergence'),
          r.summary.rate?.q ?? NaN,
          windowRate(r.summary),
          word(r, 'PL condition'),
          (r.summary.lStar[choiceOf(r)] ?? r.summary.lStar.zero).semiLog.rho,
          r.summary.lStar.min.semiLog.rho,
          r.summary.final.loss,
          r.summary.final.drift,
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
        columns: ['width', 'final loss', 'linear convergence (q)', 'PL (primary L*)', 'ρ/epoch (L* = min, paper)', 'R² (min)', 'final drift', 'max drift'],
        rows: sorted.map((r) => [
          r.width,
          r.summary.final.loss,
          `${verdictWord(r.summary.verdicts.find((v) => v.name === 'linear convergence') ?? { passed: false, outcome: 'inconclusive' })} (${fmtNumber(r.summary.rate?.q)})`,
          verdictWord(r.summary.verdicts.find((v) => v.name.startsWith('PL condition') && !v.name.includes('smoothed')) ?? { passed: false, outcome: 'inconclusive' }),
          r.summary.lStar.min.semiLog.rho,
          r.summary.lStar.min.semiLog.r2,
          r.summary.final.drift,
          r.summary.maxDrift,
        ]),
      },
    ],
  };
}
