// The script that runs inside report.html: it reads the embedded JSON and draws each chart
// with uPlot. It is plain ES5-style JavaScript kept as a string, so the page needs no bundler
// and tests can evaluate it without a browser (only the drawing needs `document`).
//
// window.__lplrReport.alignSeries(spec) → uPlot data: uPlot wants one ascending x array shared
// by all series, so the series' own (x, y) pairs are merged on equal x; a series without a point
// at some x gets null there (and spanGaps draws its line across). Points that a log axis cannot
// show (≤ 0) and non-finite values are left out.
// window.__lplrCharts[id] is the uPlot instance of the chart with that DOM id.

export const CLIENT_SCRIPT = String.raw`(function (root) {
  'use strict';
  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

  function finite(v) {
    return typeof v === 'number' && isFinite(v);
  }

  function alignSeries(spec) {
    var logX = spec.x.scale === 'log';
    var logY = spec.y.scale === 'log';
    var nSeries = spec.series.length;
    var byX = new Map();
    var rows = [];
    spec.series.forEach(function (s, si) {
      var n = Math.min(s.x.length, s.y.length);
      for (var i = 0; i < n; i++) {
        var x = s.x[i];
        var y = s.y[i];
        if (!finite(x) || (logX && x <= 0) || !finite(y) || (logY && y <= 0)) continue;
        var list = byX.get(x);
        if (!list) {
          list = [];
          byX.set(x, list);
        }
        var row = null;
        for (var k = 0; k < list.length; k++) {
          if (list[k].ys[si] === null) {
            row = list[k];
            break;
          }
        }
        if (!row) {
          var ys = [];
          for (var j = 0; j < nSeries; j++) ys.push(null);
          row = { x: x, ys: ys };
          list.push(row);
          rows.push(row);
        }
        row.ys[si] = y;
      }
    });
    rows.sort(function (a, b) {
      return a.x - b.x;
    });
    var data = [rows.map(function (r) { return r.x; })];
    for (var si = 0; si < nSeries; si++) {
      data.push(rows.map(function (r) { return r.ys[si]; }));
    }
    return data;
  }

  // uPlot's default labels print 1e-4 as "0"; small and large log ticks get exponent notation.
  function logTick(v) {
    if (v === null || v === undefined) return null;
    var a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 1e-3 && a < 1e5) return String(Number(v.toPrecision(4)));
    return v.toExponential(0);
  }
  function logTicks(u, splits) {
    return splits.map(logTick);
  }

  function chartOptions(spec, width) {
    var logX = spec.x.scale === 'log';
    var logY = spec.y.scale === 'log';
    var series = [{ label: spec.x.label }];
    spec.series.forEach(function (s, i) {
      var color = s.color || PALETTE[i % PALETTE.length];
      var o = { label: s.label, stroke: color, width: s.style === 'fit' ? 2 : 1.5, spanGaps: true, show: s.show !== false };
      if (s.style === 'fit') o.dash = [8, 5];
      // A band's edges: thin and faint, the fill between them carries the range.
      if (s.style === 'band') {
        o.width = 0.75;
        o.stroke = color + '80';
      }
      if (s.style === 'points') {
        o.paths = function () { return null; };
        o.points = { show: true, size: 5, stroke: color, fill: color };
      } else {
        o.points = s.markers ? { show: true, size: 6, stroke: color, fill: color } : { show: false };
      }
      series.push(o);
    });
    // uPlot numbers series from 1 (0 is x); its bands fill from the upper edge down to the lower.
    var bands = (spec.bands || []).map(function (b) {
      var upper = spec.series[b.upper] || {};
      var color = b.color || upper.color || PALETTE[b.upper % PALETTE.length];
      return { series: [b.upper + 1, b.lower + 1], fill: color + '26' };
    });
    return {
      title: spec.title,
      width: width,
      height: 380,
      scales: {
        x: { time: false, distr: logX ? 3 : 1, log: 10 },
        y: { distr: logY ? 3 : 1, log: 10 },
      },
      axes: [
        logX ? { label: spec.x.label, stroke: '#333', values: logTicks } : { label: spec.x.label, stroke: '#333' },
        logY ? { label: spec.y.label, stroke: '#333', size: 80, values: logTicks } : { label: spec.y.label, stroke: '#333', size: 80 },
      ],
      legend: { show: true },
      series: series,
      bands: bands,
    };
  }

  root.__lplrReport = { alignSeries: alignSeries, chartOptions: chartOptions, logTick: logTick };
  if (typeof document === 'undefined' || typeof root.uPlot === 'undefined') return;

  var payload = JSON.parse(document.getElementById('lplr-data').textContent);
  var charts = (root.__lplrCharts = {});
  payload.charts.forEach(function (spec) {
    var el = document.getElementById(spec.id);
    if (!el) return;
    var width = Math.max(360, Math.min(900, el.clientWidth || 760));
    charts[spec.id] = new root.uPlot(chartOptions(spec, width), alignSeries(spec), el);
  });
})(window);
`;
