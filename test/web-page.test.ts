// The browser page in headless Chromium (SwiftShader's WebGPU): run the tiny preset from the
// form, check the adapter is named, read every chart's series back out of uPlot and compare
// it point by point with the run's rows, find each shown series' colour inside its plot area,
// download the three files and compare the metrics with a Node run of the same preset, stop
// and resume from the buttons, and show what to enable when WebGPU is missing. Figure 3: the
// tiny preset on CIFAR-10 batch files given to the page's file picker, its charts read back
// point by point against the rows (the smoothing recomputed here).
// Skipped (with a message) where /usr/bin/chromium is not installed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isEvalRow, isStepRow, parseMetricsJsonl, type EpochRow } from '../src/metrics/schema.js';
import { summarizeRun, type RunSummary } from '../harness/analysis/summary.js';
import { runMlp } from '../harness/experiments/mlp-lab.js';
import { resolveMlpConfig, MLP_OPTIONS } from '../harness/experiments/mlp-config.js';
import { parseArgs } from '../harness/options/args.js';
import { createProgress } from '../harness/run/progress.js';
import { readJson } from '../harness/run/run-dir.js';
import { buildWebBundle } from '../harness/web/bundle.js';
import { launchChromium, openLabPage, pageUrl } from '../harness/web/chromium.js';
import { relativeDifference } from '../harness/web/compare.js';
import { startLabServer, type LabServer } from '../harness/web/server.js';
import { VERIFY_TOLERANCES } from '../harness/web/verify.js';
import { writeCifarBatches } from './helpers/cifar-batches.js';
import { useGpu } from './helpers/gpu.js';
import { noChromium } from './helpers/requirements.js';

const hasChromium = !noChromium();

interface ChartDump {
  data: (number | null)[][];
  labels: string[];
  show: boolean[];
}

async function dumpCharts(page: Page): Promise<Record<string, ChartDump>> {
  return page.evaluate(() => {
    const out: Record<string, { data: (number | null)[][]; labels: string[]; show: boolean[] }> = {};
    for (const [id, u] of Object.entries(window.__lplrCharts ?? {})) {
      out[id] = { data: u.data.map((s) => Array.from(s as ArrayLike<number | null>)), labels: u.series.map((s) => String(s.label)), show: u.series.map((s) => s.show !== false) };
    }
    return out;
  });
}

/** The (x, y) points uPlot holds for the series whose label starts with `prefix`. */
function seriesPoints(chart: ChartDump, prefix: string): [number, number][] {
  const i = chart.labels.findIndex((l, k) => k > 0 && l.startsWith(prefix));
  expect(i, `a series '${prefix}…' in [${chart.labels.join(' | ')}]`).toBeGreaterThan(0);
  const pts: [number, number][] = [];
  chart.data[0].forEach((x, k) => {
    const y = chart.data[i][k];
    if (x !== null && y !== null) pts.push([x, y]);
  });
  return pts;
}

function expectPoints(actual: [number, number][], expected: [number, number][]): void {
  expect(actual.length).toBe(expected.length);
  const sort = (p: [number, number][]) => [...p].sort((a, b) => a[0] - b[0]);
  sort(actual).forEach(([x, y], k) => {
    const [ex, ey] = sort(expected)[k];
    expect(relativeDifference(x, ex)).toBeLessThan(1e-12);
    expect(relativeDifference(y, ey)).toBeLessThan(1e-12);
  });
}

describe.skipIf(!hasChromium)('browser page', () => {
  const gpu = useGpu();
  let server: LabServer;
  let browser: Browser;
  let page: Page;
  let tmp: string;
  let nodeRows: EpochRow[];
  let nodeConfigHash: string;
  let downloaded: Record<string, string>;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-web-page-'));
    const [files, launched] = await Promise.all([buildWebBundle(), launchChromium('default')]);
    browser = launched;
    server = await startLabServer({ files });
    // The Node reference: the CLI's runner, tiny preset.
    const config = resolveMlpConfig(parseArgs(['--preset', 'tiny'], MLP_OPTIONS));
    const nodeDir = path.join(tmp, 'node');
    fs.mkdirSync(nodeDir);
    nodeRows = (await runMlp(gpu.rt(), config, nodeDir, createProgress({ quiet: true }))).rows as EpochRow[];
    nodeConfigHash = readJson<{ configHash: string }>(path.join(nodeDir, 'config.json')).configHash;
    page = await openLabPage(browser, server.url, { acceptDownloads: true, deviceScaleFactor: 2 });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('runs the tiny preset from the form and names the adapter', async () => {
    const adapter = await page.evaluate(() => window.__lplr.adapter);
    expect(adapter).not.toBeNull();
    expect(adapter!.description.length + adapter!.architecture.length).toBeGreaterThan(0);
    const shown = await page.textContent('#adapter');
    expect(shown).toContain(adapter!.description || adapter!.architecture);
    await page.selectOption('#preset', 'tiny');
    await page.click('#run');
    await page.waitForFunction(() => window.__lplr.done || window.__lplr.error !== null, undefined, { timeout: 60_000 });
    expect(await page.evaluate(() => window.__lplr.error)).toBeNull();
    expect(await page.textContent('#status')).toMatch(/^Done — epoch 6\/6/);
  });

  test('downloads metrics.jsonl, summary.json and config.json that match a Node run', async () => {
    downloaded = {};
    for (const [button, name] of [
      ['#download-metrics', 'metrics.jsonl'],
      ['#download-summary', 'summary.json'],
      ['#download-config', 'config.json'],
    ]) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
      expect(download.suggestedFilename()).toBe(name);
      const file = path.join(tmp, name);
      await download.saveAs(file);
      downloaded[name] = fs.readFileSync(file, 'utf8');
    }
    const rows = parseMetricsJsonl(downloaded['metrics.jsonl']) as EpochRow[];
    expect(rows.map((r) => r.epoch)).toEqual(nodeRows.map((r) => r.epoch));
    const tol = VERIFY_TOLERANCES.default;
    rows.forEach((r, i) => {
      expect(relativeDifference(r.loss, nodeRows[i].loss), `loss at epoch ${i}`).toBeLessThanOrEqual(tol);
      expect(relativeDifference(r.gradNormSq, nodeRows[i].gradNormSq), `‖∇L‖² at epoch ${i}`).toBeLessThanOrEqual(tol);
      expect(relativeDifference(r.drift, nodeRows[i].drift), `drift at epoch ${i}`).toBeLessThanOrEqual(tol);
    });
    const summary = JSON.parse(downloaded['summary.json']) as RunSummary;
    expect(summary.loss).toEqual(rows.map((r) => r.loss));
    // The page computes the fit in Chromium's V8, whose Math.log/exp may differ from Node's by an ulp.
    const pageRho = summary.lStar.min.semiLog.rho;
    const nodeRho = summarizeRun(rows).lStar.min.semiLog.rho;
    expect(relativeDifference(pageRho, nodeRho)).toBeLessThanOrEqual(1e-12);
    const config = JSON.parse(downloaded['config.json']) as { configHash: string; adapter: { backend: string } };
    expect(config.configHash).toBe(nodeConfigHash);
    expect(config.adapter.backend).toBe('browser');
  });

  test("the charts hold the run's rows, point by point", async () => {
    const rows = parseMetricsJsonl(downloaded['metrics.jsonl']) as EpochRow[];
    const summary = JSON.parse(downloaded['summary.json']) as RunSummary;
    const charts = await dumpCharts(page);
    expect(Object.keys(charts).sort()).toEqual(['curves-drift', 'curves-gradnorm', 'curves-loss', 'fig1-gap', 'fig2-pl']);
    expectPoints(seriesPoints(charts['curves-loss'], 'training loss'), rows.map((r) => [r.epoch, r.loss]));
    expectPoints(seriesPoints(charts['curves-gradnorm'], '‖∇L‖²'), rows.map((r) => [r.epoch, r.gradNormSq]));
    expectPoints(seriesPoints(charts['curves-drift'], 'drift'), rows.map((r) => [r.epoch, r.drift]));
    // Gaps computed here from the rows; a log axis leaves out the zero gap at the minimum.
    const minLoss = Math.min(...rows.map((r) => r.loss));
    const gaps = rows.map((r) => [r.epoch, r.loss - minLoss] as [number, number]).filter(([, g]) => g > 0);
    expectPoints(seriesPoints(charts['fig1-gap'], 'gap, L* = min'), gaps);
    expectPoints(seriesPoints(charts['fig1-gap'], 'gap, L* = 0'), rows.map((r) => [r.epoch, r.loss]));
    const { start, end } = summary.window;
    const pl = rows.filter((r) => r.epoch >= start && r.epoch <= end && r.loss - minLoss > 0).map((r) => [r.loss - minLoss, r.gradNormSq] as [number, number]);
    expectPoints(seriesPoints(charts['fig2-pl'], 'epochs in window, L* = min'), pl);
  });

  test("every shown series' colour is drawn inside its chart's plot area", async () => {
    const found = await page.evaluate(() => {
      const out: { id: string; label: string; color: string; pixels: number; points: number }[] = [];
      const count = (img: Uint8ClampedArray, color: string) => {
        const rgb = [1, 3, 5].map((k) => parseInt(color.slice(k, k + 2), 16));
        let pixels = 0;
        for (let p = 0; p < img.length; p += 4) {
          if (img[p + 3] > 200 && Math.abs(img[p] - rgb[0]) <= 24 && Math.abs(img[p + 1] - rgb[1]) <= 24 && Math.abs(img[p + 2] - rgb[2]) <= 24) pixels++;
        }
        return pixels;
      };
      for (const [id, u] of Object.entries(window.__lplrCharts ?? {})) {
        const canvas = u.root.querySelector('canvas')!;
        const { left, top, width, height } = u.bbox;
        const img = canvas.getContext('2d')!.getImageData(left, top, width, height).data;
        u.series.forEach((s, i) => {
          if (i === 0 || s.show === false) return;
          const stroke = s.stroke as unknown;
          const color = String(typeof stroke === 'function' ? (stroke as (u: unknown, i: number) => unknown)(u, i) : stroke);
          const points = Array.from(u.data[i] as ArrayLike<number | null>).filter((v) => v !== null).length;
          out.push({ id, label: String(s.label), color, pixels: count(img, color), points });
        });
        // Control: a colour no series uses is absent, so the count is not trivially positive.
        out.push({ id, label: 'control', color: '#ff00ff', pixels: count(img, '#ff00ff'), points: -1 });
      }
      return out;
    });
    expect(found.length).toBeGreaterThan(5);
    for (const f of found) {
      if (f.label === 'control') {
        expect(f.pixels, `${f.id}: magenta pixels`).toBe(0);
        continue;
      }
      expect(f.color, `${f.id} / ${f.label}`).toMatch(/^#[0-9a-f]{6}$/i);
      // A series with something to draw leaves pixels of its colour in the plot area.
      if (f.points >= 1) expect(f.pixels, `${f.id} / ${f.label} (${f.color})`).toBeGreaterThan(3);
    }
  });

  test('stop and resume continue from the in-memory state', async () => {
    await page.fill('[data-option="epochs"]', '100');
    await page.click('#run');
    // Press Stop from inside the page as soon as three rows exist (the lab yields between epochs).
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          const check = () => {
            if ((window.__lplr.runs[0]?.rows.length ?? 0) >= 3) {
              document.getElementById('stop')!.click();
              resolve();
            } else setTimeout(check, 0);
          };
          check();
        }),
    );
    await page.waitForFunction(() => window.__lplr.status === 'stopped');
    const stoppedAt = await page.evaluate(() => window.__lplr.runs[0].rows.length);
    expect(stoppedAt).toBeLessThan(101);
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => window.__lplr.runs[0].rows.length)).toBe(stoppedAt);
    expect(await page.isEnabled('#resume')).toBe(true);
    await page.click('#resume');
    await page.waitForFunction(() => window.__lplr.done, undefined, { timeout: 60_000 });
    const rows = await page.evaluate(() => window.__lplr.runs[0].rows);
    expect(rows.map((r) => r.epoch)).toEqual(Array.from({ length: 101 }, (_, i) => i));
    // Same config but the epoch count, same browser: the first 7 rows are the tiny run's.
    const tiny = parseMetricsJsonl(downloaded['metrics.jsonl']) as EpochRow[];
    expect(rows.slice(0, 7).map((r) => [r.loss, r.gradNormSq, r.drift])).toEqual(tiny.map((r) => [r.loss, r.gradNormSq, r.drift]));
    const charts = await dumpCharts(page);
    expect(seriesPoints(charts['curves-loss'], 'training loss').length).toBe(101);
  });

  test('without WebGPU the page says what to enable and offers no Run', async () => {
    const context = await browser.newContext();
    try {
      await context.addInitScript(() => {
        Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
      });
      const p = await context.newPage();
      await p.goto(server.url);
      await p.waitForFunction(() => window.__lplr?.ready === true);
      expect(await p.isVisible('#no-webgpu')).toBe(true);
      const text = await p.textContent('#no-webgpu');
      expect(text).toMatch(/navigator\.gpu is missing/);
      expect(text).toMatch(/enable-unsafe-webgpu/);
      expect(await p.isDisabled('#run')).toBe(true);
    } finally {
      await context.close();
    }
  });
});

/** Bias-corrected EMA, written out here as the reference: m_t = β·m_{t−1} + (1 − β)·x_t, shown as m_t / (1 − β^(t+1)). */
function emaReference(values: readonly number[], beta: number): number[] {
  let m = 0;
  return values.map((x, t) => {
    m = beta * m + (1 - beta) * x;
    return m / (1 - beta ** (t + 1));
  });
}

describe.skipIf(!hasChromium)('browser page: Figure 3 on picked CIFAR-10 files', () => {
  let server: LabServer;
  let browser: Browser;
  let page: Page;
  let tmp: string;
  let batchFiles: string[];

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-web-page-fig3-'));
    batchFiles = writeCifarBatches(tmp);
    // llvmpipe through ANGLE: it compiles the ResNet's kernels about twice as fast as SwiftShader.
    const [files, launched] = await Promise.all([buildWebBundle(), launchChromium('same-as-node')]);
    browser = launched;
    server = await startLabServer({ files });
    page = await openLabPage(browser, pageUrl(server.url, 'same-as-node'));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('fig3 tiny runs from the form on files given to the file picker; the charts hold its rows point by point', { timeout: 300_000 }, async () => {
    await page.selectOption('#experiment', 'fig3');
    await page.selectOption('#preset', 'tiny');
    // Convolutions of at most 4 channels: one variant of conv2d_texture.wgsl to compile, not two
    // (the wider one takes Chromium tens of seconds on CPU adapters).
    await page.fill('[data-option="widths"]', '4,4,4');
    // CIFAR-10 is never served with the page: the form switches to the file picker.
    expect(await page.isChecked('#data-files')).toBe(true);
    await page.setInputFiles('#mnist-files', batchFiles);
    await page.click('#run');
    await page.waitForFunction(() => window.__lplr.done || window.__lplr.error !== null, undefined, { timeout: 280_000 });
    expect(await page.evaluate(() => window.__lplr.error)).toBeNull();
    // 18 of the 20 training records are of classes 0..4: 3 steps of 8 per epoch, 2 epochs.
    expect(await page.textContent('#status')).toMatch(/^Done — epoch 2\/2, step 6,/);

    const { rows, summary } = await page.evaluate(async () => {
      const files = await window.__lplr.files(0);
      return { rows: window.__lplr.fig3Runs[0].rows, summary: files['summary.json'] };
    });
    const { smoothed } = JSON.parse(summary) as RunSummary;
    expect(smoothed).not.toBeNull();
    const steps = rows.filter(isStepRow).sort((a, b) => a.step - b.step);
    expect(steps.map((r) => r.step)).toEqual([0, 1, 2, 3, 4, 5]);
    const epochs = rows.filter((r): r is EpochRow => r.kind === 'epoch');
    const evals = rows.filter(isEvalRow);
    expect(epochs.map((r) => r.epoch)).toEqual([0, 1]);
    expect(evals.map((r) => r.epoch)).toEqual([1, 2]);

    const charts = await dumpCharts(page);
    expect(Object.keys(charts)).toEqual(expect.arrayContaining(['fig3-loss', 'fig3-gap', 'fig3-pl', 'curves-loss']));
    // Raw mini-batch losses, and their smoothing computed here.
    expectPoints(seriesPoints(charts['fig3-loss'], 'mini-batch loss'), steps.map((r) => [r.step, r.loss]));
    const beta = smoothed!.beta;
    const emaLoss = emaReference(steps.map((r) => r.loss), beta);
    const emaGrad = emaReference(steps.map((r) => r.gradNormSq), beta);
    expectPoints(seriesPoints(charts['fig3-loss'], 'EMA'), steps.map((r, i) => [r.step, emaLoss[i]]));
    // Smoothed gap with L* = the smallest smoothed loss; the log axis leaves out its zero.
    const lStar = Math.min(...emaLoss);
    const gaps = steps.map((r, i) => [r.step, emaLoss[i] - lStar] as [number, number]);
    expectPoints(seriesPoints(charts['fig3-gap'], 'smoothed gap, L* = min'), gaps.filter(([, g]) => g > 0));
    const { startStep, endStep } = smoothed!.window;
    const pl = steps.flatMap((r, i) => (r.step >= startStep && r.step <= endStep && gaps[i][1] > 0 ? [[gaps[i][1], emaGrad[i]] as [number, number]] : []));
    expect(pl.length).toBeGreaterThan(2);
    expectPoints(seriesPoints(charts['fig3-pl'], 'steps in window, L* = min'), pl);
    // Epoch means and the test evaluations on the training curves.
    expectPoints(seriesPoints(charts['curves-loss'], 'training loss'), epochs.map((r) => [r.epoch, r.loss]));
    expectPoints(seriesPoints(charts['curves-loss'], 'test loss'), evals.map((r) => [r.epoch, r.testLoss]));
  });
});
