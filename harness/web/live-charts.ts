// Live charts for the page: the report's section builders give the chart specs (same ids as
// report.html), the report's client script gives uPlot options and data alignment, and this
// module keeps one uPlot per chart id, feeding it new data as rows arrive instead of
// rebuilding it. window.__lplrCharts[id] is the uPlot instance, as in report.html.
import uPlot from 'uplot';
import { CLIENT_SCRIPT } from '../report/client.js';
import type { ChartSpec, ReportSection, TableCell, TableSpec } from '../report/model.js';
import { fmtNumber } from '../report/sections.js';
import type { Verdict } from '../analysis/verdicts.js';

type AlignedData = (number | null)[][];

interface ReportClient {
  alignSeries(spec: ChartSpec): AlignedData;
  chartOptions(spec: ChartSpec, width: number): uPlot.Options;
}

declare global {
  interface Window {
    __lplrReport?: ReportClient;
    __lplrCharts?: Record<string, uPlot>;
  }
}

/**
 * The report's client script, run once. It defines window.__lplrReport and stops there,
 * because uPlot is a module here, not the global it looks for to draw report.html's charts.
 */
function reportClient(): ReportClient {
  if (!window.__lplrReport) {
    const script = document.createElement('script');
    script.textContent = CLIENT_SCRIPT;
    document.head.appendChild(script);
    script.remove();
  }
  if (!window.__lplrReport) throw new Error('The report client script did not load.');
  return window.__lplrReport;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function cellText(v: TableCell): string {
  if (typeof v === 'number') return fmtNumber(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return v === null ? '—' : v;
}

function renderTable(t: TableSpec): HTMLElement {
  const wrap = el('div', { class: 'table-wrap' });
  if (t.title) wrap.append(el('h3', {}, t.title));
  const table = el('table', t.id ? { id: t.id } : {});
  const head = el('tr');
  for (const c of t.columns) head.append(el('th', {}, c));
  table.append(el('thead'));
  table.tHead!.append(head);
  const body = el('tbody');
  for (const r of t.rows) {
    const tr = el('tr');
    for (const v of r) tr.append(el('td', typeof v === 'number' ? { class: 'num' } : {}, cellText(v)));
    body.append(tr);
  }
  table.append(body);
  wrap.append(table);
  if (t.caption) wrap.append(el('p', { class: 'caption' }, t.caption));
  return wrap;
}

function renderVerdicts(verdicts: readonly Verdict[]): HTMLElement {
  return renderTable({
    columns: ['verdict', 'result', 'measured', 'rule'],
    rows: verdicts.map((v) => [
      v.name,
      `${(v.outcome ?? (v.passed ? 'pass' : 'fail')).toUpperCase()}${v.reading ? ` (${v.reading})` : ''}`,
      Object.entries(v.values)
        .map(([k, x]) => `${k} = ${fmtNumber(x)}`)
        .join(', '),
      v.rule + (v.note ? ` (${v.note})` : ''),
    ]),
  });
}

interface ChartState {
  plot: uPlot;
  /** Series count and styles: a change needs a new uPlot (options are fixed at creation). */
  shape: string;
}

export class LiveCharts {
  private readonly client = reportClient();
  private readonly sections = new Map<string, { root: HTMLElement; text: HTMLElement; charts: HTMLElement; tables: HTMLElement }>();
  private readonly charts = new Map<string, ChartState>();

  constructor(private readonly container: HTMLElement) {
    window.__lplrCharts = {};
  }

  /** Remove every section and chart (a new experiment starts). */
  clear(): void {
    for (const c of this.charts.values()) c.plot.destroy();
    this.charts.clear();
    this.sections.clear();
    this.container.replaceChildren();
    window.__lplrCharts = {};
  }

  /** Show these sections: text and tables are replaced, charts get the new data. */
  update(sections: readonly ReportSection[]): void {
    for (const s of sections) {
      const view = this.section(s.id, s.title);
      const text: HTMLElement[] = (s.paragraphs ?? []).map((p) => el('p', {}, p));
      if (s.verdicts && s.verdicts.length > 0) text.push(renderVerdicts(s.verdicts));
      view.text.replaceChildren(...text);
      view.tables.replaceChildren(...(s.tables ?? []).map(renderTable));
      for (const spec of s.charts ?? []) this.chart(view.charts, spec);
    }
  }

  private section(id: string, title: string) {
    let view = this.sections.get(id);
    if (!view) {
      const root = el('section', { id });
      const text = el('div', { class: 'section-text' });
      const charts = el('div', { class: 'section-charts' });
      const tables = el('div', { class: 'section-tables' });
      root.append(el('h2', {}, title), text, charts, tables);
      this.container.append(root);
      view = { root, text, charts, tables };
      this.sections.set(id, view);
    }
    return view;
  }

  private chart(parent: HTMLElement, spec: ChartSpec): void {
    const data = this.client.alignSeries(spec);
    const shape = JSON.stringify(spec.series.map((s) => [s.style ?? 'line', s.color ?? '', Boolean(s.markers)]));
    const existing = this.charts.get(spec.id);
    if (existing && existing.shape === shape) {
      // Fitted rates live in the labels, so they change as the fits update.
      const legend = existing.plot.root.querySelectorAll('.u-legend .u-series');
      spec.series.forEach((s, i) => {
        existing.plot.series[i + 1].label = s.label;
        const label = legend[i + 1]?.querySelector('.u-label');
        if (label && label.textContent !== s.label) label.textContent = s.label;
      });
      existing.plot.setData(data as uPlot.AlignedData);
      return;
    }
    let box = document.getElementById(spec.id);
    if (!box) {
      const figure = el('figure', { class: 'chart' });
      box = el('div', { class: 'chart-box', id: spec.id, 'data-title': spec.title });
      figure.append(box);
      parent.append(figure);
    }
    const shown = existing && existing.plot.series.length === spec.series.length + 1 ? existing.plot.series.map((s) => s.show) : undefined;
    existing?.plot.destroy();
    const width = Math.max(360, Math.min(900, box.clientWidth || parent.clientWidth || 760));
    const options = this.client.chartOptions(spec, width);
    // Keep the reader's legend toggles when a chart is rebuilt.
    if (shown) options.series.forEach((s, i) => (s.show = shown[i]));
    const plot = new uPlot(options, data as uPlot.AlignedData, box);
    this.charts.set(spec.id, { plot, shape });
    window.__lplrCharts![spec.id] = plot;
  }
}
