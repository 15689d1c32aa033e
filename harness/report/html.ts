// Renders a self-contained report.html: uPlot's script and CSS inline, all data embedded as
// JSON in <script type="application/json" id="lplr-data">, tables and verdicts as plain HTML
// so they read without JavaScript. Nothing is fetched from the network when the page opens.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigError } from '../../src/errors.js';
import { METRICS_SCHEMA_VERSION, type MetricRow } from '../../src/metrics/schema.js';
import { summarizeRun, type RunSummary } from '../analysis/summary.js';
import type { Verdict, VerdictThresholds } from '../analysis/verdicts.js';
import { CLIENT_SCRIPT } from './client.js';
import type { ChartSpec, ReportSection, TableCell, TableSpec } from './model.js';
import { fmtNumber, singleRunSections, type SingleRunFigure } from './sections.js';

export type { ChartSpec, ReportLink, ReportSection, TableSpec } from './model.js';

export interface ReportInput {
  title: string;
  /** The run's (or set's) configuration, shown as JSON and embedded. */
  config?: unknown;
  /** A single run's rows: with them the page gets the single-run sections (Figures 1-3, ...). */
  rows?: readonly MetricRow[];
  /** The single run's summary; computed from `rows` when absent. */
  summary?: RunSummary;
  /** Which single-run figures to include; default all that the data supports. */
  figures?: readonly SingleRunFigure[];
  /** Further sections after the single-run ones (Figure 4/5 comparisons, a theory check, ...). */
  sections?: readonly ReportSection[];
  /** Shown under the title (e.g. the command that produced the run). */
  subtitle?: string;
  /** Timestamp shown in the footer; default now. Pass a fixed one for reproducible files. */
  generatedAt?: string;
}

/** What the page embeds as JSON (id "lplr-data"); the browser script draws `charts` from it. */
export interface ReportPayload {
  schemaVersion: number;
  title: string;
  generatedAt: string;
  config: unknown;
  rows: readonly MetricRow[];
  summary: RunSummary | null;
  sections: { id: string; title: string }[];
  charts: ChartSpec[];
}

let uplotAssets: { js: string; css: string } | undefined;

/** uPlot's minified script and stylesheet from the installed package (read once). */
export function uplotSources(): { js: string; css: string } {
  if (!uplotAssets) {
    const require = createRequire(import.meta.url);
    uplotAssets = {
      js: fs.readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return uplotAssets;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * JSON that is safe inside a <script> element: `<` is written as \u003c, so neither
 * `</script>` nor `<!--` in a label can end the element early. JSON.parse reads it back
 * unchanged. NaN and ±Infinity become null, as in any JSON.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function cell(v: TableCell): string {
  if (typeof v === 'number') return `<td class="num">${escapeHtml(fmtNumber(v))}</td>`;
  if (typeof v === 'boolean') return `<td>${v ? 'yes' : 'no'}</td>`;
  if (v === null) return '<td>—</td>';
  return `<td>${escapeHtml(v)}</td>`;
}

function renderTable(t: TableSpec): string {
  const head = t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = t.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('\n');
  return [
    `<div class="table-wrap"${t.id ? ` id="${escapeHtml(t.id)}"` : ''}>`,
    t.title ? `<h3>${escapeHtml(t.title)}</h3>` : '',
    `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`,
    t.caption ? `<p class="caption">${escapeHtml(t.caption)}</p>` : '',
    '</div>',
  ].join('');
}

function renderVerdicts(verdicts: readonly Verdict[], sectionId: string): string {
  const rows = verdicts.map((v) => {
    const values = Object.entries(v.values)
      .map(([k, x]) => `${escapeHtml(k)} = ${escapeHtml(fmtNumber(x))}`)
      .join(', ');
    const outcome = v.outcome ?? (v.passed ? 'pass' : 'fail');
    const label = outcome === 'pass' ? 'PASS' : outcome === 'fail' ? 'FAIL' : 'INCONCLUSIVE';
    const reading = v.reading ? ` ${escapeHtml(v.reading)}` : '';
    const badge = `<span class="${outcome === 'pass' ? 'pass' : outcome === 'fail' ? 'fail' : 'undecided'}">${label}</span>${reading}`;
    return `<tr class="${outcome === 'pass' ? 'passed' : outcome === 'fail' ? 'failed' : 'inconclusive'}"><td>${escapeHtml(v.name)}</td><td>${badge}</td><td>${values}</td><td>${escapeHtml(v.rule)}</td><td>${v.note ? escapeHtml(v.note) : ''}</td></tr>`;
  });
  return `<table class="verdicts" id="${escapeHtml(sectionId)}-verdicts"><thead><tr><th>verdict</th><th>result</th><th>measured</th><th>rule</th><th>note</th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

function renderThresholds(th: VerdictThresholds, sectionId: string): string {
  return renderTable({
    id: `${sectionId}-thresholds`,
    title: 'Thresholds',
    columns: ['threshold', 'value'],
    rows: Object.entries(th).map(([k, v]) => [k, v]),
  });
}

function renderChart(c: ChartSpec): string {
  return `<figure class="chart"><div class="chart-box" id="${escapeHtml(c.id)}" data-title="${escapeHtml(c.title)}"></div>${c.caption ? `<figcaption>${escapeHtml(c.caption)}</figcaption>` : ''}</figure>`;
}

function renderSection(s: ReportSection): string {
  return [
    `<section id="${escapeHtml(s.id)}">`,
    `<h2>${escapeHtml(s.title)}</h2>`,
    ...(s.paragraphs ?? []).map((t) => `<p>${escapeHtml(t)}</p>`),
    s.links && s.links.length > 0 ? `<ul class="links">${s.links.map((l) => `<li><a href="${escapeHtml(l.href)}">${escapeHtml(l.text)}</a></li>`).join('')}</ul>` : '',
    s.verdicts && s.verdicts.length > 0 ? renderVerdicts(s.verdicts, s.id) : '',
    s.thresholds ? renderThresholds(s.thresholds, s.id) : '',
    ...(s.charts ?? []).map(renderChart),
    ...(s.tables ?? []).map(renderTable),
    '</section>',
  ].join('\n');
}

const STYLE = `
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 0 auto; max-width: 1000px; padding: 0 16px 48px; }
h1 { margin: 24px 0 4px; font-size: 24px; }
h2 { margin-top: 36px; border-bottom: 1px solid #ddd; padding-bottom: 4px; font-size: 19px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
nav ul { padding-left: 18px; columns: 2; }
.subtitle, .caption, footer { color: #666; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.table-wrap { overflow-x: auto; }
.pass { color: #fff; background: #2a7d2e; padding: 1px 6px; border-radius: 3px; font-weight: 600; }
.fail { color: #fff; background: #b3261e; padding: 1px 6px; border-radius: 3px; font-weight: 600; }
.undecided { color: #fff; background: #6b6b6b; padding: 1px 6px; border-radius: 3px; font-weight: 600; }
figure.chart { margin: 16px 0; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
`;

/** Render the report as one HTML string. Chart and section ids must be unique. */
export function renderReport(input: ReportInput): string {
  const summary = input.summary ?? (input.rows ? summarizeRun(input.rows) : undefined);
  const sections: ReportSection[] = [];
  if (input.rows && summary) sections.push(...singleRunSections(input.rows, summary, { figures: input.figures }));
  else if (summary) sections.push(...singleRunSections([], summary, { figures: input.figures }));
  sections.push(...(input.sections ?? []));

  const charts = sections.flatMap((s) => s.charts ?? []);
  const ids = new Set<string>(input.config !== undefined ? ['config'] : []);
  for (const id of [...sections.map((s) => s.id), ...charts.map((c) => c.id)]) {
    if (ids.has(id)) throw new ConfigError(`Report id '${id}' is used twice. Give each section and chart its own id (e.g. with singleRunSections' idPrefix).`);
    ids.add(id);
  }

  const generatedAt = input.generatedAt ?? new Date().toISOString();
  const payload: ReportPayload = {
    schemaVersion: METRICS_SCHEMA_VERSION,
    title: input.title,
    generatedAt,
    config: input.config ?? null,
    rows: input.rows ?? [],
    summary: summary ?? null,
    sections: sections.map((s) => ({ id: s.id, title: s.title })),
    charts,
  };
  const { js, css } = uplotSources();
  const nav = sections.map((s) => `<li><a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a></li>`).join('');
  const configBlock =
    input.config !== undefined
      ? `<section id="config"><h2>Configuration</h2><pre>${escapeHtml(JSON.stringify(input.config, null, 2) ?? '')}</pre></section>`
      : '';

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>${css}</style>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(input.title)}</h1>
${input.subtitle ? `<p class="subtitle">${escapeHtml(input.subtitle)}</p>` : ''}
<nav><ul>${nav}</ul></nav>
</header>
<main>
${sections.map(renderSection).join('\n')}
${configBlock}
</main>
<footer><p>Generated ${escapeHtml(generatedAt)} by lplr (metrics schema v${METRICS_SCHEMA_VERSION}). The data behind every chart is embedded in this file as JSON (script#lplr-data).</p></footer>
<script type="application/json" id="lplr-data">${jsonForScript(payload)}</script>
<script>${js}</script>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}
