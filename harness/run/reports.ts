// Writes report.html for a single run or a set of runs (fig4, fig5) through the report
// builders in harness/report. Extra sections (e.g. the theory check) register here.
import * as path from 'node:path';
import type { MetricRow } from '../../src/metrics/schema.js';
import type { RunSummary } from '../analysis/summary.js';
import type { Verdict } from '../analysis/verdicts.js';
import { renderReport, type ReportSection } from '../report/html.js';
import { comparisonSection, widthAblationSection, type SingleRunFigure } from '../report/sections.js';
import { seedSetSections } from '../report/seed-sections.js';
import type { SeedMember, SeedSetSummary } from '../experiments/seed-set.js';
import { writeFileAtomic } from './run-dir.js';
import type { MlpRunConfig } from '../experiments/mlp-config.js';

/** Builders of additional sections for a single run's rows (e.g. NTK/Hessian rows). */
export type ExtraSectionBuilder = (rows: readonly MetricRow[], summary: RunSummary, config: unknown) => ReportSection[];
const extraSingleRunSections: ExtraSectionBuilder[] = [];
export function registerSingleRunSections(builder: ExtraSectionBuilder): void {
  extraSingleRunSections.push(builder);
}

/** Builders of additional sections for a set of runs (e.g. theory numbers vs width). */
export type ExtraSetSectionBuilder = (kind: string, runs: readonly SetRun[]) => ReportSection[];
const extraSetSections: ExtraSetSectionBuilder[] = [];
export function registerSetSections(builder: ExtraSetSectionBuilder): void {
  extraSetSections.push(builder);
}

export interface SetRun {
  label: string;
  dir: string;
  config: MlpRunConfig;
  rows: MetricRow[];
  summary: RunSummary;
}

export function writeMlpReport(
  dir: string,
  title: string,
  config: unknown,
  rows: MetricRow[],
  summary: RunSummary,
  opts: { focus?: 'fig2' } = {},
): string {
  const figures: SingleRunFigure[] | undefined = opts.focus === 'fig2' ? ['fig2', 'fig1', 'curves'] : undefined;
  const sections = extraSingleRunSections.flatMap((b) => b(rows, summary, config));
  const file = path.join(dir, 'report.html');
  writeFileAtomic(file, renderReport({ title, config, rows, summary, figures, sections }));
  return file;
}

/** report.html of a set (fig4, fig5): the figure, the set's verdicts, and extra set sections. */
export function writeSetReport(dir: string, kind: 'fig4' | 'fig5', title: string, runs: SetRun[], verdicts: Verdict[] = []): string {
  const main =
    kind === 'fig4'
      ? { ...comparisonSection(runs.map((r) => ({ label: r.label, summary: r.summary })), { id: 'fig4', title }), verdicts, thresholds: runs[0]?.summary.thresholds }
      : widthAblationSection(runs.map((r) => ({ label: r.label, summary: r.summary, width: r.config.width })), verdicts, { id: 'fig5', title });
  const sections = [main, ...extraSetSections.flatMap((b) => b(kind, runs))];
  const file = path.join(dir, 'report.html');
  writeFileAtomic(
    file,
    renderReport({ title, config: { runs: runs.map((r) => ({ label: r.label, dir: path.relative(dir, r.dir), config: r.config })) }, sections }),
  );
  return file;
}

/** report.html of a seed set: median curves with min–max bands, the set's verdicts, every seed's numbers. */
export function writeSeedSetReport(dir: string, title: string, members: readonly SeedMember[], summary: SeedSetSummary, config?: unknown): string {
  const file = path.join(dir, 'report.html');
  writeFileAtomic(file, renderReport({ title: `${title} — seeds ${summary.seeds.join(', ')}`, config, sections: seedSetSections(summary.experiment, title, members, summary) }));
  return file;
}

/** One part of an index page: a figure's report (relative link), its headline and verdicts. */
export interface IndexEntry {
  id: string;
  title: string;
  /** Path of the part's report.html relative to the index. */
  href: string;
  headline: string;
  verdicts: Verdict[];
}

/** report.html of `lplr run all`: links to each figure's report with its headline numbers. */
export function writeIndexReport(dir: string, title: string, entries: readonly IndexEntry[], config?: unknown): string {
  const sections: ReportSection[] = entries.map((e) => ({
    id: e.id,
    title: e.title,
    paragraphs: [e.headline],
    links: [{ href: e.href, text: `${e.title}: full report (${e.href})` }],
    verdicts: e.verdicts,
  }));
  const file = path.join(dir, 'report.html');
  writeFileAtomic(file, renderReport({ title, config, sections }));
  return file;
}
