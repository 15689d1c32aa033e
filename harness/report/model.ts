// The report's content model: sections of charts, tables and verdicts. Builders in
// sections.ts turn summaries into sections; html.ts renders any list of sections, so a single
// run, a set of runs (Figures 4 and 5) and later additions (e.g. a theory check) share one page
// format.
import type { Verdict, VerdictThresholds } from '../analysis/verdicts.js';

export type AxisScale = 'linear' | 'log';

export interface ChartAxis {
  label: string;
  scale: AxisScale;
}

export interface ChartSeries {
  label: string;
  /** x and y pair up by index; null or non-finite y leaves the point out (as do values ≤ 0 on a log axis). */
  x: readonly number[];
  y: readonly (number | null)[];
  /** `line` (default), `points` (scatter, no line), `fit` (dashed fitted line) or `band` (a thin, faint edge of a ChartSpec band). */
  style?: 'line' | 'points' | 'fit' | 'band';
  /** Draw a marker at every point of a `line` series (for a handful of points, e.g. widths). */
  markers?: boolean;
  /** CSS colour; default from the palette by series index. */
  color?: string;
  /** false: drawn only after the reader clicks its legend entry. */
  show?: boolean;
}

export interface ChartSpec {
  /** DOM id of the chart's container, stable across runs; the uPlot instance is window.__lplrCharts[id]. */
  id: string;
  title: string;
  caption?: string;
  x: ChartAxis;
  y: ChartAxis;
  series: ChartSeries[];
  /** Filled areas between two series (indices into `series`), e.g. the min–max range across seeds. */
  bands?: ChartBand[];
}

export interface ChartBand {
  /** Index in `series` of the upper and the lower edge. */
  upper: number;
  lower: number;
  /** Colour of the fill as #rrggbb (drawn translucent); default the upper edge's colour, which must then be #rrggbb too. */
  color?: string;
}

export type TableCell = string | number | boolean | null;

export interface TableSpec {
  id?: string;
  title?: string;
  caption?: string;
  columns: string[];
  rows: TableCell[][];
}

export interface ReportSection {
  /** DOM id of the section (anchor of the table of contents). */
  id: string;
  title: string;
  /** Plain text, one paragraph per entry (HTML-escaped when rendered). */
  paragraphs?: string[];
  verdicts?: Verdict[];
  /** Shown beside the verdicts so a reader sees the numbers the rules used. */
  thresholds?: VerdictThresholds;
  charts?: ChartSpec[];
  tables?: TableSpec[];
  /** Links to other pages (e.g. the index of `lplr run all` linking each figure's report). */
  links?: ReportLink[];
}

export interface ReportLink {
  /** Relative URL (the reports of a run directory link to each other by relative path). */
  href: string;
  text: string;
}
