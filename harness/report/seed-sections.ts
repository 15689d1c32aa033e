// Report sections of a seed set (`--seeds` on fig1, fig2, fig4, fig5): the median curve across
// seeds with a min–max band (gap with the primary L*, loss, ‖∇L‖²) per group, the set's verdicts
// as "k of n seeds", and a table per seed.
import { L_STAR_CHOICES, type RunSummary } from '../analysis/summary.js';
import { verdictWord } from '../analysis/verdicts.js';
import type { SeedMember, SeedSetSummary } from '../experiments/seed-set.js';
import { median } from '../experiments/seed-set.js';
import type { ChartBand, ChartSeries, ChartSpec, ReportSection, TableCell, TableSpec } from './model.js';
import { fmtNumber } from './sections.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

/** Median, smallest and largest value across runs at each epoch any of them has (finite values only). */
export function seedBand(summaries: readonly RunSummary[], pick: (s: RunSummary) => readonly number[]): { x: number[]; median: number[]; min: number[]; max: number[] } {
  const byEpoch = new Map<number, number[]>();
  for (const s of summaries) {
    const ys = pick(s);
    s.epochs.forEach((t, i) => {
      const y = ys[i];
      if (!Number.isFinite(y)) return;
      const list = byEpoch.get(t) ?? [];
      list.push(y);
      byEpoch.set(t, list);
    });
  }
  const x = [...byEpoch.keys()].sort((a, b) => a - b);
  return {
    x,
    median: x.map((t) => median(byEpoch.get(t)!)),
    min: x.map((t) => Math.min(...byEpoch.get(t)!)),
    max: x.map((t) => Math.max(...byEpoch.get(t)!)),
  };
}

function bandChart(
  id: string,
  title: string,
  yLabel: string,
  groups: readonly { group: string; summaries: RunSummary[] }[],
  pick: (s: RunSummary) => readonly number[],
): ChartSpec {
  const series: ChartSeries[] = [];
  const bands: ChartBand[] = [];
  groups.forEach((g, i) => {
    const color = PALETTE[i % PALETTE.length];
    const b = seedBand(g.summaries, pick);
    const name = g.group ? `${g.group}: ` : '';
    series.push({ label: `${name}median of ${g.summaries.length} seeds`, x: b.x, y: b.median, color });
    series.push({ label: `${name}max`, x: b.x, y: b.max, color, style: 'band' });
    series.push({ label: `${name}min`, x: b.x, y: b.min, color, style: 'band' });
    bands.push({ upper: series.length - 2, lower: series.length - 1, color });
  });
  return { id, title, x: { label: 'epoch t', scale: 'linear' }, y: { label: yLabel, scale: 'log' }, series, bands };
}

/** The gap L_t − L* with the run's primary L* (extended or zero). */
function primaryGap(s: RunSummary): readonly number[] {
  return (s.lStar[s.primary] ?? s.lStar.zero).gap;
}

/** Sections of a seed set's report. `members[i].dir` is relative to the set's directory (links to their reports). */
export function seedSetSections(kind: string, title: string, members: readonly SeedMember[], summary: SeedSetSummary): ReportSection[] {
  const id = `${kind}-seeds`;
  const groupNames = [...new Set(members.map((m) => m.group))];
  const groups = groupNames.map((g) => ({ group: g, summaries: members.filter((m) => m.group === g).map((m) => m.summary) }));
  const n = summary.seeds.length;
  const th = summary.thresholds;
  const sections: ReportSection[] = [];

  sections.push({
    id,
    title: `${title} — ${n} seed${n === 1 ? '' : 's'} (${summary.seeds.join(', ')})`,
    paragraphs: [
      `The configuration ran once per seed. A set passes a verdict when at least ${summary.passRule.needed} of its ${n} seeds pass (seedPassFraction = ${th.seedPassFraction}, rounded up); ` +
        'it fails when too many seeds fail for that, and is inconclusive otherwise: an inconclusive seed never counts as a pass.' +
        (kind === 'fig4' ? ' “Enhanced init converges more slowly” needs every seed (with 5 seeds a one-sided sign test, p = 0.031).' : ''),
      `Curves: the median across seeds at each epoch, with the band from the smallest to the largest seed. The gap uses each run's primary L* (${summary.primary}).`,
    ],
    verdicts: summary.verdicts,
    thresholds: th,
    charts: [
      bandChart(`${id}-gap`, `Suboptimality gap (L* = ${summary.primary}) vs epoch, across seeds`, 'L_t − L*', groups, primaryGap),
      bandChart(`${id}-loss`, 'Training loss vs epoch, across seeds', 'training loss', groups, (s) => s.loss),
      bandChart(`${id}-gradnorm`, 'Squared gradient norm vs epoch, across seeds', '‖∇L(θ_t)‖²', groups, (s) => s.gradNormSq),
    ],
    tables: [
      {
        id: `${id}-medians`,
        title: 'Medians across seeds',
        columns: ['run', 'seeds', 'final loss', 'q', 'rate middle third', 'rate last third', 'rate over window', `PL ratio (L* = ${summary.primary})`, ...L_STAR_CHOICES.map((c) => `L* = ${c}`)],
        rows: summary.groups.map((g) => [g.group || 'all', g.seeds, g.finalLoss, g.q, g.rateMiddle, g.rateLast, g.windowRate, g.plRatio, ...L_STAR_CHOICES.map((c) => g.lStar[c] ?? null)]),
      },
    ],
  });

  const word = (m: SeedMember, prefix: string) => {
    const v = m.summary.verdicts.find((x) => x.name.startsWith(prefix) && !x.name.includes('smoothed'));
    return v ? verdictWord(v) : '—';
  };
  const seedTables: TableSpec[] = [
    {
      id: `${id}-per-seed`,
      title: 'Per seed',
      caption:
        'q = rate of log ‖∇L‖² over the last third of the window / over the middle third (the linear-convergence rule); PL ratio = median μ_t over the last third / over the middle third with the primary L*. ' +
        'The L* columns give each choice’s value; the next table says how each was obtained.',
      columns: ['seed', 'run', 'linear convergence', 'q', 'rate middle', 'rate last', 'PL (primary L*)', 'PL ratio', ...L_STAR_CHOICES.map((c) => `L* = ${c}`), 'final loss', 'window'],
      rows: members.map((m): TableCell[] => {
        const s = m.summary;
        return [
          m.seed,
          m.label,
          word(m, 'linear convergence'),
          s.rate.q,
          s.rate.middle.rate,
          s.rate.last.rate,
          word(m, 'PL condition'),
          s.lStar[s.primary]?.pl.ratio ?? null,
          ...L_STAR_CHOICES.map((c) => s.lStar[c]?.lStar ?? null),
          s.final.loss,
          `${s.window.start}..${s.window.end}${s.window.endReason ? ` (${s.window.endReason})` : ''}`,
        ];
      }),
    },
    {
      id: `${id}-lstar`,
      title: 'Each L* per seed, and how it was obtained',
      columns: ['seed', 'run', 'L*', 'value', 'how it was obtained', 'PL ratio', 'PL rule'],
      rows: members.flatMap((m) =>
        L_STAR_CHOICES.filter((c) => m.summary.lStar[c]).map((c): TableCell[] => {
          const a = m.summary.lStar[c]!;
          const primary = c === m.summary.primary;
          return [m.seed, m.label, primary ? `${c} (primary)` : c, a.lStar, a.obtained, a.pl.ratio, primary ? a.pl.outcome : a.judged ? `(${a.pl.outcome})` : 'no verdict'];
        }),
      ),
    },
  ];
  if (summary.perSeed.length > 0) {
    seedTables.push({
      id: `${id}-per-seed-verdicts`,
      title: kind === 'fig4' ? 'He vs enhanced, per seed' : 'Width effect, per seed',
      columns: ['seed', 'verdict', 'result', 'measured'],
      rows: summary.perSeed.flatMap((p) =>
        p.verdicts.map((v): TableCell[] => [
          p.seed,
          v.name,
          v.reading ? `${v.outcome} (${v.reading})` : v.outcome,
          Object.entries(v.values)
            .map(([k, x]) => `${k} = ${fmtNumber(x)}`)
            .join(', '),
        ]),
      ),
    });
  }
  sections.push({
    id: `${id}-table`,
    title: 'Every seed’s numbers',
    tables: seedTables,
    links: members.map((m) => ({ href: `${m.dir.split('\\').join('/')}/report.html`, text: `${m.label}: the run’s own report (${m.dir})` })),
  });
  return sections;
}
