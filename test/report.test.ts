import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import type { MetricRow } from '../src/metrics/schema.js';
import { summarizeRun } from '../harness/analysis/summary.js';
import { widthEffectVerdict } from '../harness/analysis/verdicts.js';
import { CLIENT_SCRIPT } from '../harness/report/client.js';
import { jsonForScript, renderReport, type ReportPayload } from '../harness/report/html.js';
import type { ChartSpec } from '../harness/report/model.js';
import { comparisonSection, widthAblationSection } from '../harness/report/sections.js';

function runRows(rate: number, floor: number, E = 60, withSteps = false): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let t = 0; t <= E; t++) {
    const gap = 0.7 * rate ** t;
    rows.push({ kind: 'epoch', epoch: t, loss: floor + gap, gradNormSq: 0.3 * gap, drift: 0.1 * Math.sqrt(t), acc: 0.9, lr: 1e-3, timeMs: 20 * t });
    if (withSteps && t < E) {
      for (let k = 0; k < 4; k++) {
        const step = 4 * t + k;
        rows.push({ kind: 'step', step, epoch: t, loss: (floor + 0.7 * rate ** (t + k / 4)) * (k % 2 ? 1.1 : 0.9), gradNormSq: 0.3 * gap, lr: 0.1, timeMs: step });
      }
    }
  }
  rows.push({ kind: 'eval', epoch: E, testLoss: floor * 2, testAcc: 0.85 });
  return rows;
}

// The embedded payload, read back the way a browser would: the text of script#lplr-data.
function payloadOf(html: string): ReportPayload {
  const m = /<script type="application\/json" id="lplr-data">([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error('no embedded data');
  return JSON.parse(m[1]) as ReportPayload;
}

function uplotFile(name: string): string {
  return fs.readFileSync(path.join(process.cwd(), 'node_modules', 'uplot', 'dist', name), 'utf8');
}

describe('renderReport: one run', () => {
  const rows = runRows(0.93, 0.05, 60, true);
  const summary = summarizeRun(rows);
  const config = { experiment: 'fig1', width: 2048, lr: 0.001, note: '</script><b>' };
  const html = renderReport({ title: 'Figure 1 <test>', config, rows, summary, generatedAt: '2025-01-01T00:00:00Z' });

  it('embeds rows, summary and config that parse back equal to the input', () => {
    const p = payloadOf(html);
    // JSON turns NaN into null; compare against the same JSON round trip of the input.
    expect(p.rows).toEqual(JSON.parse(JSON.stringify(rows)));
    expect(p.summary).toEqual(JSON.parse(JSON.stringify(summary)));
    expect(p.config).toEqual(config);
    expect(p.title).toBe('Figure 1 <test>');
  });

  it('has a chart with a stable id for each supported figure, with labelled axes', () => {
    const p = payloadOf(html);
    const ids = p.charts.map((c) => c.id);
    for (const id of ['fig1-gap', 'fig2-pl', 'fig3-loss', 'fig3-gap', 'fig3-pl', 'curves-loss', 'curves-drift']) {
      expect(ids).toContain(id);
      expect(html).toContain(`<div class="chart-box" id="${id}"`);
    }
    const fig1 = p.charts.find((c) => c.id === 'fig1-gap') as ChartSpec;
    expect(fig1.y).toEqual({ label: 'L_t − L*', scale: 'log' });
    expect(fig1.x.label).toBe('epoch t');
    // The L* = min gap series is the data, point for point.
    const gapMin = fig1.series.find((s) => s.label.startsWith('gap, L* = min'));
    expect(gapMin?.x).toEqual(summary.epochs);
    // ... until the gap falls below 1e-3 of its start (L* = min plunges to 0 at its own epoch).
    const cut = summary.lStar.min.gap.findIndex((g) => !(g >= 1e-3 * summary.lStar.min.gap[0]));
    expect(gapMin?.y.slice(0, cut)).toEqual(summary.lStar.min.gap.slice(0, cut));
    expect(gapMin?.y.slice(cut).every((y) => y === null || Number.isNaN(y as number))).toBe(true);
    // Its fitted line covers the window and follows e^(b + a·t).
    const fit = fig1.series.find((s) => s.style === 'fit' && s.label.includes('L* = min'));
    expect(fit?.x[0]).toBe(summary.window.start);
    expect(fit?.x[fit.x.length - 1]).toBe(summary.window.end);
    const { slope, intercept } = summary.lStar.min.semiLog;
    expect(fit?.y[3]).toBeCloseTo(Math.exp(intercept + slope * (summary.window.start + 3)), 12);
    const fig2 = p.charts.find((c) => c.id === 'fig2-pl') as ChartSpec;
    expect(fig2.x.scale).toBe('log');
    expect(fig2.y.scale).toBe('log');
  });

  it('omits Figure 3 without step rows, and honours the figure list', () => {
    const noSteps = runRows(0.93, 0.05);
    const ids = payloadOf(renderReport({ title: 't', rows: noSteps })).charts.map((c) => c.id);
    expect(ids).toContain('fig1-gap');
    expect(ids.some((id) => id.startsWith('fig3'))).toBe(false);
    const only2 = payloadOf(renderReport({ title: 't', rows: noSteps, figures: ['fig2'] })).charts.map((c) => c.id);
    expect(only2).toEqual(['fig2-pl']);
  });

  it('inlines uPlot (script and CSS) and loads nothing from the network', () => {
    expect(html).toContain(uplotFile('uPlot.iife.min.js'));
    expect(html).toContain(uplotFile('uPlot.min.css'));
    expect(html).toContain(CLIENT_SCRIPT);
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).not.toMatch(/url\(\s*['"]?https?:/i);
    expect(html).not.toMatch(/@import/i);
  });

  it('renders the verdicts with their rules, results and thresholds', () => {
    for (const v of summary.verdicts) {
      const badge = v.outcome === 'pass' ? 'pass">PASS' : v.outcome === 'fail' ? 'fail">FAIL' : 'undecided">INCONCLUSIVE';
      expect(html).toContain(`<td>${v.name.replace(/</g, '&lt;')}</td><td><span class="${badge}</span>`);
    }
    expect(html).toContain('linear if q ≥ 0.7, sublinear below');
    expect(html).toMatch(/<td>rateRatioMin<\/td><td class="num">0\.7<\/td>/);
    // A clean exponential: the rate of ‖∇L‖² is constant, so linear convergence passes.
    expect(html).toContain('<td>linear convergence</td><td><span class="pass">PASS</span> linear');
  });

  it('escapes text so that labels cannot break the page', () => {
    expect(html).toContain('<title>Figure 1 &lt;test&gt;</title>');
    expect(html).not.toContain('</script><b>');
    // Exactly the three script elements end: data, uPlot, client.
    expect(html.match(/<\/script>/g)?.length).toBe(3);
  });

  it('rejects duplicate ids', () => {
    const dup = { id: 'fig1', title: 'again' };
    expect(() => renderReport({ title: 't', rows, sections: [dup] })).toThrow(ConfigError);
  });
});

describe('renderReport: sets of runs', () => {
  const he = summarizeRun(runRows(0.9, 0.02));
  const enhanced = summarizeRun(runRows(0.95, 0.02));

  it('puts two runs on one plot with rates side by side (Figure 4)', () => {
    const html = renderReport({ title: 'fig4', sections: [comparisonSection([{ label: 'he', summary: he }, { label: 'enhanced', summary: enhanced }])] });
    const p = payloadOf(html);
    expect(p.rows).toEqual([]);
    const chart = p.charts.find((c) => c.id === 'fig4-gap') as ChartSpec;
    // Each run's gap with its primary L* (0 here: the runs were not extended).
    expect(chart.series.filter((s) => s.style !== 'fit').map((s) => s.label)).toEqual(['he (L* = 0)', 'enhanced (L* = 0)']);
    expect(html).toContain('id="fig4-rates"');
    // The table leads with the verdict and the rate of ‖∇L‖², which needs no L*.
    expect(html).toContain(`<td>he</td><td>linear</td><td class="num">${String(Number(he.rate.q.toPrecision(5)))}</td>`);
  });

  it('plots final loss against width on log axes with a per-width table (Figure 5)', () => {
    const widths = [64, 256, 1024];
    const runs = widths.map((w, i) => ({ width: w, label: `w${w}`, summary: summarizeRun(runRows(0.93, 0.1 / (i + 1))) }));
    const verdict = widthEffectVerdict(runs.map((r) => ({ width: r.width, finalLoss: r.summary.final.loss })));
    const html = renderReport({ title: 'fig5', sections: [widthAblationSection([...runs].reverse(), [verdict])] });
    const chart = payloadOf(html).charts.find((c) => c.id === 'fig5-final-loss') as ChartSpec;
    expect(chart.x.scale).toBe('log');
    expect(chart.y.scale).toBe('log');
    expect(chart.series[0].x).toEqual(widths);
    expect(chart.series[0].y).toEqual(runs.map((r) => r.summary.final.loss));
    expect(html).toContain('<td>width effect</td><td><span class="pass">PASS</span>');
    expect(html).toContain('id="fig5-table"');
  });
});

describe('client script', () => {
  type Api = { alignSeries: (spec: unknown) => (number | null)[][]; logTick: (v: number | null) => string | null };
  const load = (): Api => {
    const win: { __lplrReport?: Api } = {};
    new Function('window', CLIENT_SCRIPT)(win);
    if (!win.__lplrReport) throw new Error('client script did not expose its API');
    return win.__lplrReport;
  };

  it('merges series on equal x into uPlot columns, with null where a series has no point', () => {
    const data = load().alignSeries({
      x: { label: 'x', scale: 'linear' },
      y: { label: 'y', scale: 'linear' },
      series: [
        { label: 'a', x: [0, 1, 2], y: [10, 11, 12] },
        { label: 'b', x: [1.5, 1], y: [20, 21] },
      ],
    });
    expect(data).toEqual([
      [0, 1, 1.5, 2],
      [10, 11, null, 12],
      [null, 21, 20, null],
    ]);
  });

  it('drops points a log axis cannot show and keeps repeated x values of one series', () => {
    const data = load().alignSeries({
      x: { label: 'x', scale: 'log' },
      y: { label: 'y', scale: 'log' },
      series: [{ label: 'a', x: [0, 1, 2, 2, 3], y: [1, -1, 5, 6, null] }],
    });
    expect(data).toEqual([
      [2, 2],
      [5, 6],
    ]);
  });

  it('labels log ticks without rounding small values to 0', () => {
    const { logTick } = load();
    expect([1e-4, 0.001, 0.02, 5, 1e6, null].map(logTick)).toEqual(['1e-4', '0.001', '0.02', '5', '1e+6', null]);
  });

  it('writes JSON that a script element cannot end early', () => {
    const text = jsonForScript({ s: '</script><!-- \u2028' });
    expect(text).not.toContain('<');
    expect(JSON.parse(text)).toEqual({ s: '</script><!-- \u2028' });
  });
});
