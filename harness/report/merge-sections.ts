// Merging a sweep's finished runs: statistics across seeds per configuration (mean, sample
// standard deviation, min, max of final loss, fitted rates, drift; curves as mean ± std per
// epoch), the width ablation with error bars when width is a grid key, verdict pass counts, and
// the list of runs that are missing or failed. Pure functions of the collected runs (no Node),
// so the same runs always give the same numbers whichever shards produced them.
import { L_STAR_CHOICES, type LStarChoice, type RunSummary } from '../analysis/summary.js';
import type { Outcome } from '../analysis/convergence.js';
import { linearFit } from '../../src/metrics/fit.js';
import { widthEffectVerdict, type Verdict } from '../analysis/verdicts.js';
import type { CollectedRun, RunState, SweepAxis, SweepPlan } from '../run/sweep.js';
import type { ChartSeries, ReportSection, TableCell } from './model.js';
import { fmtNumber } from './sections.js';

export const MERGED_FORMAT = 'lplr-sweep-summary';
export const MERGED_VERSION = 1;

/** Statistics of the finite values among `n` (null, NaN and ±∞ are left out and not counted). */
export interface Stat {
  n: number;
  mean: number | null;
  /** Sample standard deviation (divides by n − 1); null for fewer than 2 values. */
  std: number | null;
  min: number | null;
  max: number | null;
}

export function stat(values: readonly (number | null | undefined)[]): Stat {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { n, mean: null, std: null, min: null, max: null };
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of xs) ss += (x - mean) * (x - mean);
  return { n, mean, std: n >= 2 ? Math.sqrt(ss / (n - 1)) : null, min: Math.min(...xs), max: Math.max(...xs) };
}

/** A curve across seeds: at each epoch, statistics of the seeds that have a finite value there. */
export interface Band {
  mean: (number | null)[];
  std: (number | null)[];
  min: (number | null)[];
  max: (number | null)[];
  n: number[];
}

export interface RateStats {
  /** Contraction factor per epoch of the semi-log fit, and its R². */
  rho: Stat;
  r2: Stat;
  /** Log-log slope of ‖∇L‖² vs gap, and its R². */
  logLogSlope: Stat;
  logLogR2: Stat;
}

export interface MergedRun {
  index: number;
  seed: number | null;
  label: string;
  dir: string;
  state: RunState;
}

export interface MergedConfiguration {
  /** "width=64, lr=0.01" (the grid point without the seed). */
  label: string;
  point: Record<string, unknown>;
  runs: MergedRun[];
  /** Seeds whose run is complete. */
  completedSeeds: (number | null)[];
  finalLoss: Stat;
  minLoss: Stat;
  finalGradNormSq: Stat;
  finalAcc: Stat;
  finalDrift: Stat;
  maxDrift: Stat;
  rates: Record<LStarChoice, RateStats>;
  /**
   * Runs whose loss or gradient became NaN/Inf (they stop as failed runs), or that finished with a
   * final loss above their initial one: a property of the configuration (a step size past the
   * stable range), counted over the runs whose outcome is known (complete or diverged).
   */
  diverged: { runs: number; of: number; epochs: (number | null)[] };
  /** The linear-convergence rule's numbers: q = rate of ‖∇L‖² over the last third / middle third. */
  convergence: { q: Stat; efoldsLast: Stat; rateMiddle: Stat; rateLast: Stat };
  /** μ_t ratio (last third / middle third median) against each run's primary L*. */
  plRatio: Stat;
  /** AIC(exponential) − AIC(power law) of the offset fits of log L (> 0: the power law fits better). */
  deltaAic: Stat;
  /** With --linearized: the kernel view's numbers across seeds (null without). */
  linearized: LinearizedStats | null;
  /** Per verdict name: in how many complete runs it passed, and each outcome's count. */
  verdicts: { name: string; passed: number; of: number; outcomes: Record<Outcome, number> }[];
  curves: { epochs: number[]; loss: Band; gapMin: Band; gradNormSq: Band };
}

export interface LinearizedStats {
  etaLambdaMax: Stat;
  /** Share of the initial loss in directions of K₀ too slow to converge within the epochs. */
  slowFraction: Stat;
  /** Last epoch the prediction stays within its tolerance (null in a run: counted as missing). */
  tStar: Stat;
  largestDeviation: Stat;
  predictedFinalLoss: Stat;
  observedFinalLoss: Stat;
  /** The rate rule on each run's linearized ‖∇L‖²: q across seeds and how often each reading came out. */
  kernelQ: Stat;
  kernelReadings: Record<'linear' | 'sublinear' | 'inconclusive', number>;
}

export interface WidthPointStats {
  width: number;
  finalLoss: Stat;
  rhoMin: Stat;
  /** Each complete seed's final loss (the dots around the error bars). */
  seeds: { seed: number | null; finalLoss: number | null }[];
}

export interface WidthAblation {
  /** The other grid keys' values ("lr=0.01"), or 'all runs' when width is the only key. */
  label: string;
  point: Record<string, unknown>;
  points: WidthPointStats[];
  /** The width-effect rule applied to the mean final loss per width. */
  verdict: Verdict;
}

/**
 * How the e-folds of ‖∇L‖² over the last third of the window change with the step size, when lr
 * is a grid key: the slope of log(mean e-folds) against log(lr) over the configurations that
 * trained (reported, not judged). In the gradient-flow regime GD's time is η·t, so linear
 * convergence at a fixed rate per unit of η·t moves ∝ η e-folds over a fixed window (slope 1),
 * while a power law in η·t moves the same number at every η once η·t ≫ 1 (slope 0).
 */
export interface LrScaling {
  /** Other grid keys' values ("width=64"), or 'all runs' when lr is the only key. */
  label: string;
  points: { lr: number; efoldsLast: number; seeds: number }[];
  slope: number;
  r2: number;
}

export interface MergeProblem {
  index: number;
  label: string;
  dir: string;
  state: Exclude<RunState, 'complete'>;
  detail?: string;
  diverged?: { epoch: number | null };
}

export interface MergedSweep {
  format: typeof MERGED_FORMAT;
  version: number;
  experiment: string;
  base: Record<string, unknown>;
  axes: SweepAxis[];
  seeds: number[];
  /** `diverged` counts runs of either kind (failed with NaN/Inf, or complete above their initial loss). */
  counts: { planned: number; complete: number; failed: number; unfinished: number; missing: number; diverged: number };
  configurations: MergedConfiguration[];
  widthAblation: WidthAblation[] | null;
  /** With lr as a grid key and at least 3 learning rates with e-folds: see LrScaling. */
  lrScaling: LrScaling[] | null;
  problems: MergeProblem[];
  /** Wall time per configuration (s): not part of the merged numbers, which must not depend on the machine. */
  timing: { label: string; wallTimeSec: Stat }[];
}

function withoutKeys(point: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(point).filter(([k]) => !keys.includes(k)));
}

function pointText(point: Record<string, unknown>, empty: string): string {
  const parts = Object.entries(point).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`);
  return parts.length ? parts.join(', ') : empty;
}

/** Group in plan order by a key of each element; groups keep the order of their first element. */
function groupBy<T>(items: readonly T[], key: (t: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const g = groups.get(k);
    if (g) g.push(it);
    else groups.set(k, [it]);
  }
  return [...groups.values()];
}

function band(summaries: readonly RunSummary[], epochs: readonly number[], values: (s: RunSummary) => readonly (number | null)[]): Band {
  const lookups = summaries.map((s) => {
    const m = new Map<number, number | null>();
    const v = values(s);
    s.epochs.forEach((e, i) => m.set(e, v[i] ?? null));
    return m;
  });
  const stats = epochs.map((e) => stat(lookups.map((m) => m.get(e))));
  return { mean: stats.map((s) => s.mean), std: stats.map((s) => s.std), min: stats.map((s) => s.min), max: stats.map((s) => s.max), n: stats.map((s) => s.n) };
}

function rateStats(summaries: readonly RunSummary[], choice: LStarChoice): RateStats {
  // A choice a run does not have (extended in a run that was not extended) counts as missing.
  const a = summaries.map((s) => s.lStar[choice]).filter((x): x is NonNullable<typeof x> => x !== undefined);
  return {
    rho: stat(a.map((x) => x.semiLog.rho)),
    r2: stat(a.map((x) => x.semiLog.r2)),
    logLogSlope: stat(a.map((x) => x.logLog.slope)),
    logLogR2: stat(a.map((x) => x.logLog.r2)),
  };
}

/** A complete run that ended above where it started (or at NaN/Inf) diverged too. */
function finishedDiverged(s: RunSummary): boolean {
  const first = s.loss[0];
  return !Number.isFinite(s.final.loss) || (Number.isFinite(first) && s.final.loss > first);
}

function linearizedStats(summaries: readonly RunSummary[]): LinearizedStats | null {
  const lin = summaries.map((s) => s.linearized).filter((l): l is NonNullable<typeof l> => l !== undefined);
  if (lin.length === 0) return null;
  return {
    etaLambdaMax: stat(lin.map((l) => l.etaLambdaMax)),
    slowFraction: stat(lin.map((l) => l.slowFraction)),
    tStar: stat(lin.map((l) => l.tStar)),
    largestDeviation: stat(lin.map((l) => l.largestDeviation)),
    predictedFinalLoss: stat(lin.map((l) => l.predictedFinalLoss)),
    observedFinalLoss: stat(lin.map((l) => l.observedFinalLoss)),
    kernelQ: stat(lin.map((l) => l.kernelRate?.q)),
    kernelReadings: {
      linear: lin.filter((l) => l.kernelRate?.reading === 'linear').length,
      sublinear: lin.filter((l) => l.kernelRate?.reading === 'sublinear').length,
      inconclusive: lin.filter((l) => l.kernelRate?.reading === 'inconclusive').length,
    },
  };
}

function configurationOf(label: string, point: Record<string, unknown>, runs: readonly CollectedRun[]): MergedConfiguration {
  const done = runs.filter((r) => r.state === 'complete' && r.summary);
  const divergedRuns = runs.filter((r) => (r.state === 'complete' && r.summary ? finishedDiverged(r.summary) : Boolean(r.diverged)));
  // A diverged run neither converges linearly nor sublinearly: it is counted as diverged and left
  // out of the statistics, curves and verdicts, which describe the runs that trained.
  const summaries = done.map((r) => r.summary!).filter((s) => !finishedDiverged(s));
  const epochs = [...new Set(summaries.flatMap((s) => s.epochs))].sort((a, b) => a - b);
  const verdictNames: string[] = [];
  for (const s of summaries) for (const v of s.verdicts) if (!verdictNames.includes(v.name)) verdictNames.push(v.name);
  const seedOf = (r: CollectedRun) => (typeof r.spec.point.seed === 'number' ? r.spec.point.seed : (r.spec.config.seed ?? null));
  return {
    label,
    point,
    runs: runs.map((r) => ({ index: r.spec.index, seed: seedOf(r), label: r.spec.label, dir: r.spec.dir, state: r.state })),
    completedSeeds: done.map(seedOf),
    finalLoss: stat(summaries.map((s) => s.final.loss)),
    minLoss: stat(summaries.map((s) => s.minLoss)),
    finalGradNormSq: stat(summaries.map((s) => s.final.gradNormSq)),
    finalAcc: stat(summaries.map((s) => s.final.acc)),
    finalDrift: stat(summaries.map((s) => s.final.drift)),
    maxDrift: stat(summaries.map((s) => s.maxDrift)),
    rates: Object.fromEntries(L_STAR_CHOICES.map((c) => [c, rateStats(summaries, c)])) as Record<LStarChoice, RateStats>,
    diverged: {
      runs: divergedRuns.length,
      of: done.length + runs.filter((r) => r.state !== 'complete' && r.diverged).length,
      epochs: divergedRuns.map((r) => (r.diverged ? r.diverged.epoch : null)),
    },
    convergence: {
      q: stat(summaries.map((s) => s.rate.q)),
      efoldsLast: stat(summaries.map((s) => s.rate.last.efolds)),
      rateMiddle: stat(summaries.map((s) => s.rate.middle.rate)),
      rateLast: stat(summaries.map((s) => s.rate.last.rate)),
    },
    plRatio: stat(summaries.map((s) => s.lStar[s.primary]?.pl.ratio)),
    deltaAic: stat(summaries.map((s) => s.lStar.fit.models?.deltaAic)),
    linearized: linearizedStats(summaries),
    verdicts: verdictNames.map((name) => {
      const results = summaries.map((s) => s.verdicts.find((v) => v.name === name)).filter((v) => v !== undefined);
      const count = (o: Outcome) => results.filter((v) => v.outcome === o).length;
      return { name, passed: results.filter((v) => v.passed).length, of: results.length, outcomes: { pass: count('pass'), fail: count('fail'), inconclusive: count('inconclusive') } };
    }),
    curves: {
      epochs,
      loss: band(summaries, epochs, (s) => s.loss),
      gapMin: band(summaries, epochs, (s) => s.lStar.min.gap),
      gradNormSq: band(summaries, epochs, (s) => s.gradNormSq),
    },
  };
}

/** Merge the collected runs of a sweep (in plan order) into per-configuration statistics. */
export function mergeSweep(plan: SweepPlan, collected: readonly CollectedRun[]): MergedSweep {
  const gridKeys = plan.axes.map((a) => a.key);
  const groups = groupBy(collected, (r) => JSON.stringify(gridKeys.map((k) => r.spec.point[k])));
  const configurations = groups.map((g) => {
    const point = Object.fromEntries(gridKeys.map((k) => [k, g[0].spec.point[k]]));
    return configurationOf(pointText(point, 'all runs'), point, g);
  });

  let widthAblation: WidthAblation[] | null = null;
  if (gridKeys.includes('width')) {
    const others = gridKeys.filter((k) => k !== 'width');
    widthAblation = groupBy(configurations, (c) => JSON.stringify(others.map((k) => c.point[k]))).map((cs) => {
      const point = withoutKeys(cs[0].point, ['width']);
      const points = cs
        .map((c): WidthPointStats => {
          const done = collected.filter((r) => c.runs.some((m) => m.index === r.spec.index) && r.state === 'complete' && r.summary && !finishedDiverged(r.summary));
          return {
            width: Number(c.point.width),
            finalLoss: c.finalLoss,
            rhoMin: c.rates.min.rho,
            seeds: done.map((r) => ({ seed: typeof r.spec.point.seed === 'number' ? r.spec.point.seed : null, finalLoss: Number.isFinite(r.summary!.final.loss) ? r.summary!.final.loss : null })),
          };
        })
        .sort((a, b) => a.width - b.width);
      const verdict = widthEffectVerdict(points.map((p) => ({ width: p.width, finalLoss: p.finalLoss.mean ?? NaN })));
      return { label: pointText(point, 'all runs'), point, points, verdict };
    });
  }

  let lrScaling: LrScaling[] | null = null;
  if (gridKeys.includes('lr')) {
    const others = gridKeys.filter((k) => k !== 'lr');
    lrScaling = groupBy(configurations, (c) => JSON.stringify(others.map((k) => c.point[k])))
      .map((cs): LrScaling | null => {
        const points = cs
          .map((c) => ({ lr: Number(c.point.lr), efoldsLast: c.convergence.efoldsLast.mean ?? NaN, seeds: c.convergence.efoldsLast.n }))
          .filter((p) => p.lr > 0 && p.efoldsLast > 0 && Number.isFinite(p.efoldsLast))
          .sort((a, b) => a.lr - b.lr);
        if (points.length < 3) return null;
        const fit = linearFit(points.map((p) => Math.log(p.lr)), points.map((p) => Math.log(p.efoldsLast)));
        return { label: pointText(withoutKeys(cs[0].point, ['lr']), 'all runs'), points, slope: fit.slope, r2: fit.r2 };
      })
      .filter((x): x is LrScaling => x !== null);
    if (lrScaling.length === 0) lrScaling = null;
  }

  const problems: MergeProblem[] = collected
    .filter((r) => r.state !== 'complete')
    .map((r) => ({ index: r.spec.index, label: r.spec.label, dir: r.spec.dir, state: r.state as MergeProblem['state'], ...(r.detail ? { detail: r.detail } : {}), ...(r.diverged ? { diverged: r.diverged } : {}) }));
  const count = (s: RunState) => collected.filter((r) => r.state === s).length;
  return {
    format: MERGED_FORMAT,
    version: MERGED_VERSION,
    experiment: plan.experiment,
    base: plan.base,
    axes: plan.axes,
    seeds: plan.seeds,
    counts: {
      planned: collected.length,
      complete: count('complete'),
      failed: count('failed'),
      unfinished: count('interrupted') + count('started'),
      missing: count('missing'),
      diverged: configurations.reduce((n, c) => n + c.diverged.runs, 0),
    },
    configurations,
    widthAblation,
    lrScaling,
    problems,
    timing: groups.map((g, i) => ({
      label: configurations[i].label,
      wallTimeSec: stat(g.map((r) => (r.summary && Number.isFinite(r.summary.final.timeMs) ? r.summary.final.timeMs / 1000 : null))),
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Report sections

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

/** "2 pass · 1 inconclusive": the non-zero counts in their declared order. */
export function countsText(counts: Readonly<Record<string, number>>, separator = ', '): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${n} ${name}`)
    .join(separator);
}

/** "mean ± std" (or just the mean for one value, '—' for none). */
export function fmtStat(s: Stat): string {
  if (s.mean === null) return '—';
  return s.std === null ? fmtNumber(s.mean) : `${fmtNumber(s.mean)} ± ${fmtNumber(s.std)}`;
}

/** mean ± std per point; null where either is missing. */
function shifted(mean: readonly (number | null)[], std: readonly (number | null)[], sign: 1 | -1): (number | null)[] {
  return mean.map((m, i) => (m === null || std[i] === null ? null : m + sign * std[i]!));
}

/**
 * The mean as a line, mean ± std dashed, and the min and max over seeds (hidden until clicked).
 * On a log axis a mean − std ≤ 0 cannot be drawn, and the chart would join the points around
 * it: then the whole lower line is left out and `lowerOmitted` says so.
 */
function bandSeries(label: string, x: readonly number[], mean: readonly (number | null)[], std: readonly (number | null)[], color: string, extra: ChartSeries[] = []): { series: ChartSeries[]; lowerOmitted: boolean } {
  const series: ChartSeries[] = [{ label: `${label} (mean)`, x, y: mean, color, markers: x.length <= 12 }];
  let lowerOmitted = false;
  if (std.some((s) => s !== null)) {
    series.push({ label: `${label} (mean + std)`, x, y: shifted(mean, std, 1), style: 'fit', color });
    const lower = shifted(mean, std, -1);
    if (lower.every((v) => v === null || v > 0)) series.push({ label: `${label} (mean − std)`, x, y: lower, style: 'fit', color });
    else lowerOmitted = true;
  }
  series.push(...extra);
  return { series, lowerOmitted };
}

function statusLabel(state: RunState): string {
  return state === 'interrupted' || state === 'started' ? `${state} (or still running)` : state;
}

/** The merged report's sections: overview, rates per configuration, curves with bands, width ablation, problems. */
export function mergedSections(m: MergedSweep, opts: { dirName?: string } = {}): ReportSection[] {
  const sections: ReportSection[] = [];
  const axesText = m.axes.length ? m.axes.map((a) => `${a.key} ∈ {${a.values.map((v) => (Array.isArray(v) ? v.join('+') : String(v))).join(', ')}}`).join(' × ') : 'no grid keys';
  sections.push({
    id: 'sweep-overview',
    title: 'Sweep overview',
    paragraphs: [
      `${m.experiment} runs over ${axesText}, seeds ${m.seeds.join(', ')}: ${m.counts.planned} planned runs in ${m.configurations.length} configurations.`,
      'Across the seeds of one configuration the tables give mean ± sample standard deviation (n − 1 in the denominator) over the complete runs; with one complete seed only the value is shown. Curves show the mean and, dashed, mean ± std at each epoch.',
      m.counts.complete === m.counts.planned ? 'Every planned run is complete.' : `${m.counts.planned - m.counts.complete} planned runs are not complete; they are listed at the end and left out of every statistic.`,
    ],
    tables: [
      {
        id: 'sweep-counts',
        columns: ['planned', 'complete', 'failed', 'unfinished', 'missing', 'diverged'],
        rows: [[m.counts.planned, m.counts.complete, m.counts.failed, m.counts.unfinished, m.counts.missing, m.counts.diverged]],
      },
    ],
  });

  const outcomes = (c: MergedConfiguration, ...names: string[]): string => {
    const x = c.verdicts.find((y) => names.includes(y.name));
    return !x || x.of === 0 ? '—' : `${countsText(x.outcomes, ' · ')} (of ${x.of})`;
  };
  const divergedText = (c: MergedConfiguration): string => {
    if (c.diverged.runs === 0) return c.diverged.of > 0 ? `0/${c.diverged.of}` : '—';
    const at = c.diverged.epochs.filter((e): e is number => e !== null);
    return `${c.diverged.runs}/${c.diverged.of}${at.length > 0 ? ` (NaN/Inf at epoch ${at.join(', ')})` : ''}`;
  };
  sections.push({
    id: 'sweep-verdicts',
    title: 'Verdicts per configuration',
    paragraphs: [
      'The rules of docs/metrics.md per seed: q is the rate of ‖∇L‖² over the last third of the window divided by that over the middle third (linear needs q ≥ the rule’s threshold and at least one e-fold over the last third); the μ ratio is that of the PL ratio against each run’s primary L*. ΔAIC = AIC(exponential) − AIC(power law) of the offset fits of the loss (positive: the power law fits better; reported, not judged).',
      'A run diverged when its loss or gradient became NaN/Inf (it stops) or it ended above its initial loss; diverged runs are left out of the other columns.',
    ],
    tables: [
      {
        id: 'sweep-verdicts-table',
        columns: ['configuration', 'seeds (complete/planned)', 'diverged', 'final loss', 'q', 'e-folds, last third', 'linear convergence', 'μ ratio (primary L*)', 'PL condition (primary L*)', 'ΔAIC (exp − power)'],
        rows: m.configurations.map((c): TableCell[] => [
          c.label,
          `${c.completedSeeds.length}/${c.runs.length}`,
          divergedText(c),
          fmtStat(c.finalLoss),
          fmtStat(c.convergence.q),
          fmtStat(c.convergence.efoldsLast),
          outcomes(c, 'linear convergence'),
          fmtStat(c.plRatio),
          outcomes(c, 'PL condition (L* = zero)', 'PL condition (L* = extended)'),
          fmtStat(c.deltaAic),
        ]),
      },
    ],
  });

  if (m.lrScaling) {
    // Loss against gradient-flow time η·t: curves of one power law collapse onto one line here.
    const trained = m.configurations.filter((c) => c.curves.epochs.length > 0 && Number(c.point.lr) > 0);
    const flowSeries: ChartSeries[] = trained.map((c, i) => {
      const lr = Number(c.point.lr);
      const keep = c.curves.epochs.map((e, k) => [e, k] as const).filter(([e]) => e > 0);
      return { label: c.label, x: keep.map(([e]) => lr * e), y: keep.map(([, k]) => c.curves.loss.mean[k]), color: PALETTE[i % PALETTE.length] };
    });
    sections.push({
      id: 'sweep-lr-scaling',
      title: 'The late rate against the step size (reported, not judged)',
      paragraphs: [
        'The e-folds of ‖∇L‖² over the last third of the window (mean over the seeds that trained) against lr, on log axes, and the slope of the line through them. GD at small steps follows gradient flow in time η·t: linear convergence at a fixed rate in that time moves ∝ η e-folds over a fixed window of epochs (slope 1); a power law in η·t moves about the same number at every step size once η·t ≫ 1 (slope 0).',
        ...m.lrScaling.map((g) => `${g.label}: slope ${fmtNumber(g.slope)} (R² ${fmtNumber(g.r2)}) over ${g.points.length} learning rates from ${fmtNumber(g.points[0].lr)} to ${fmtNumber(g.points[g.points.length - 1].lr)}.`),
      ],
      tables: [
        {
          id: 'sweep-lr-scaling-table',
          columns: ['group', 'lr', 'seeds', 'e-folds over the last third (mean)'],
          rows: m.lrScaling.flatMap((g) => g.points.map((p): TableCell[] => [g.label, p.lr, p.seeds, fmtNumber(p.efoldsLast)])),
        },
      ],
      charts: [
        {
          id: 'sweep-lr-flow-time',
          title: 'Training loss against η·t (mean over seeds)',
          caption: 'Each configuration’s mean loss against gradient-flow time η·t on log axes (epoch 0 left out). Curves that follow one power law in η·t lie on one straight line; linear convergence bends down.',
          x: { label: 'η·t', scale: 'log' },
          y: { label: 'training loss', scale: 'log' },
          series: flowSeries,
        },
      ],
    });
  }

  sections.push({
    id: 'sweep-rates',
    title: 'Fitted rates per configuration (reported, not judged)',
    paragraphs: ['ρ is the contraction factor per epoch of the semi-log fit of L_t − L* (smaller is faster); the log-log slope is that of ‖∇L‖² against the gap (PL: slope near 1). L* = min is the paper’s reading (the window’s own minimum), which bends any slowing curve straight near its end: these columns describe the curves, the verdicts above judge them.'],
    tables: [
      {
        id: 'sweep-rates-table',
        columns: ['configuration', 'ρ/epoch (L* = min)', 'R² (min)', 'log-log slope (min)', 'ρ/epoch (L* fitted)', 'final drift'],
        rows: m.configurations.map((c): TableCell[] => [c.label, fmtStat(c.rates.min.rho), fmtStat(c.rates.min.r2), fmtStat(c.rates.min.logLogSlope), fmtStat(c.rates.fit.rho), fmtStat(c.finalDrift)]),
      },
    ],
  });

  const withKernel = m.configurations.filter((c) => c.linearized !== null);
  if (withKernel.length > 0) {
    const pct = (x: Stat): string => (x.mean === null ? '—' : fmtStat({ ...x, mean: 100 * x.mean, std: x.std === null ? null : 100 * x.std }) + ' %');
    sections.push({
      id: 'sweep-linearized',
      title: 'The kernel view per configuration (--linearized)',
      paragraphs: [
        'From the empirical NTK at θ₀ (K₀) of each run: η·λ_max of K₀/n (GD on the linearized model is stable below 2), the share of the initial loss in directions of K₀ too slow to converge within the epochs, the last epoch t* at which the linearized model predicts the observed loss within its tolerance, the largest relative deviation of the prediction, and the linear-convergence rule applied to the linearized model’s own ‖∇L‖² (the reading the kernel regime predicts; compare the verdicts above).',
      ],
      tables: [
        {
          id: 'sweep-linearized-table',
          columns: ['configuration', 'η·λ_max', 'initial loss too slow to converge', 't*', 'largest deviation', 'predicted final loss', 'observed final loss', 'rate rule on the kernel’s ‖∇L‖²: q', 'its readings'],
          rows: withKernel.map((c): TableCell[] => {
            const k = c.linearized!;
            const readings = countsText(k.kernelReadings, ' · ') || '—';
            return [c.label, fmtStat(k.etaLambdaMax), pct(k.slowFraction), fmtStat(k.tStar), pct(k.largestDeviation), fmtStat(k.predictedFinalLoss), fmtStat(k.observedFinalLoss), fmtStat(k.kernelQ), readings];
          }),
        },
      ],
    });
  }

  const withCurves = m.configurations.filter((c) => c.curves.epochs.length > 0);
  if (withCurves.length > 0) {
    const loss: ChartSeries[] = [];
    const gap: ChartSeries[] = [];
    const omitted = new Set<string>();
    withCurves.forEach((c, i) => {
      const color = PALETTE[i % PALETTE.length];
      const e = c.curves.epochs;
      for (const [target, b] of [[loss, c.curves.loss], [gap, c.curves.gapMin]] as const) {
        const range: ChartSeries[] = [
          { label: `${c.label} (min over seeds)`, x: e, y: b.min, color, show: false },
          { label: `${c.label} (max over seeds)`, x: e, y: b.max, color, show: false },
        ];
        const { series, lowerOmitted } = bandSeries(c.label, e, b.mean, b.std, color, range);
        target.push(...series);
        if (lowerOmitted) omitted.add(c.label);
      }
    });
    sections.push({
      id: 'sweep-curves',
      title: 'Curves across seeds (mean ± std)',
      paragraphs: [
        'Solid: the mean over seeds at each epoch; dashed: mean ± std; the min and max over seeds are in the legend (click to show).',
        ...(omitted.size > 0 ? [`The mean − std line is left out for ${[...omitted].join('; ')}: somewhere it is ≤ 0, which a log axis cannot show. Use the min/max lines there.`] : []),
      ],
      charts: [
        { id: 'sweep-curves-loss', title: 'Training loss vs epoch', x: { label: 'epoch t', scale: 'linear' }, y: { label: 'training loss', scale: 'log' }, series: loss },
        { id: 'sweep-curves-gap', title: 'Suboptimality gap (L* = each run’s min loss) vs epoch', x: { label: 'epoch t', scale: 'linear' }, y: { label: 'L_t − L*', scale: 'log' }, series: gap },
      ],
    });
  }

  if (m.widthAblation && m.widthAblation.length > 0) {
    const series: ChartSeries[] = [];
    const omitted: string[] = [];
    m.widthAblation.forEach((g, i) => {
      const color = PALETTE[i % PALETTE.length];
      const xs = g.points.map((p) => p.width);
      const name = m.widthAblation!.length > 1 ? g.label : 'final loss';
      const dots = g.points.flatMap((p) => p.seeds.map((s) => ({ x: p.width, y: s.finalLoss })));
      const seedsSeries: ChartSeries = { label: `${name} (each seed)`, x: dots.map((d) => d.x), y: dots.map((d) => d.y), style: 'points', color };
      const band = bandSeries(name, xs, g.points.map((p) => p.finalLoss.mean), g.points.map((p) => p.finalLoss.std), color, [seedsSeries]);
      series.push(...band.series);
      if (band.lowerOmitted) omitted.push(g.label);
    });
    sections.push({
      id: 'sweep-width',
      title: 'Width ablation across seeds (Figure 5 with error bars)',
      paragraphs: [
        'Final training loss against width on log axes: the mean over seeds (markers), mean ± std (dashed) and each seed’s value (dots). The width-effect verdict applies its rule to the mean final loss per width.',
        ...(omitted.length > 0 ? [`The mean − std line is left out for ${omitted.join('; ')}: at some width it is ≤ 0, which a log axis cannot show; the dots show the spread there.`] : []),
      ],
      verdicts: m.widthAblation.map((g) => ({ ...g.verdict, name: m.widthAblation!.length > 1 ? `${g.verdict.name} (${g.label})` : g.verdict.name })),
      charts: [{ id: 'sweep-width-final-loss', title: 'Final training loss vs width', x: { label: 'width', scale: 'log' }, y: { label: 'final training loss', scale: 'log' }, series }],
      tables: [
        {
          id: 'sweep-width-table',
          columns: ['group', 'width', 'seeds', 'final loss (mean ± std)', 'min', 'max', 'ρ/epoch (L* = min)'],
          rows: m.widthAblation.flatMap((g) => g.points.map((p): TableCell[] => [g.label, p.width, p.finalLoss.n, fmtStat(p.finalLoss), p.finalLoss.min, p.finalLoss.max, fmtStat(p.rhoMin)])),
        },
      ],
    });
  }

  const rerun = opts.dirName ? ` Run the same lplr sweep command again (with the same --out ${opts.dirName}) to run the missing ones and resume the interrupted ones; failed runs are retried (a diverged run diverges again: training is deterministic).` : '';
  sections.push({
    id: 'sweep-problems',
    title: 'Missing or failed runs',
    paragraphs: [m.problems.length === 0 ? 'None: every planned run finished.' : `${m.problems.length} of ${m.counts.planned} planned runs did not finish.${rerun}`],
    tables:
      m.problems.length === 0
        ? []
        : [{ id: 'sweep-problems-table', columns: ['index', 'run', 'state', 'detail', 'directory'], rows: m.problems.map((p) => [p.index, p.label, p.diverged ? 'diverged' : statusLabel(p.state), p.detail ?? '', p.dir]) }],
  });
  return sections;
}
