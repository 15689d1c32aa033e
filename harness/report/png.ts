// PNG export of a report's figures: headless Chromium renders report.html and each chart's
// element is screenshotted. Needs Debian's chromium (or CHROMIUM_PATH) and playwright-core.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../../src/errors.js';

export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter(Boolean) as string[];
  return candidates.find((c) => fs.existsSync(c));
}

/** Screenshot every chart of a report into <report dir>/figures/<chart id>.png. */
export async function writeReportPngs(reportFile: string): Promise<string[]> {
  const executablePath = findChromium();
  if (!executablePath) throw new ConfigError("--png needs Chromium: install it ('apt-get install -y chromium') or set CHROMIUM_PATH.");
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(pathToFileURL(path.resolve(reportFile)).href);
    await page.waitForFunction(() => Boolean((window as unknown as { __lplrCharts?: object }).__lplrCharts));
    const ids = await page.evaluate(() => Object.keys((window as unknown as { __lplrCharts: Record<string, unknown> }).__lplrCharts));
    // uPlot's legend is a hover readout: frozen into an image it shows '--' for every value and
    // wraps over several rows. Replace it with a static key of the shown series before capturing.
    await page.evaluate(() => {
      type Series = { label?: string; show?: boolean; stroke?: unknown; dash?: number[] };
      const charts = (window as unknown as { __lplrCharts: Record<string, { series: Series[]; root: HTMLElement }> }).__lplrCharts;
      for (const [id, u] of Object.entries(charts)) {
        const box = document.getElementById(id);
        if (!box) continue;
        box.querySelectorAll('.u-legend').forEach((el) => ((el as HTMLElement).style.display = 'none'));
        const key = document.createElement('div');
        key.className = 'static-legend';
        key.style.cssText = 'display:flex;flex-wrap:wrap;gap:4px 14px;font:12px sans-serif;color:#222;margin:4px 0 0 80px;';
        u.series.forEach((s, i) => {
          if (i === 0 || s.show === false || !s.label) return;
          const color = typeof s.stroke === 'function' ? String((s.stroke as (u: unknown, i: number) => unknown)(u, i)) : String(s.stroke ?? '#333');
          const item = document.createElement('span');
          const swatch = document.createElement('span');
          swatch.style.cssText = `display:inline-block;width:18px;height:0;border-top:2px ${s.dash ? 'dashed' : 'solid'} ${color};vertical-align:middle;margin-right:5px;`;
          item.appendChild(swatch);
          item.appendChild(document.createTextNode(s.label));
          key.appendChild(item);
        });
        box.appendChild(key);
      }
    });
    const outDir = path.join(path.dirname(reportFile), 'figures');
    fs.mkdirSync(outDir, { recursive: true });
    const written: string[] = [];
    for (const id of ids) {
      const el = await page.$(`[id="${id}"]`);
      if (!el) continue;
      const file = path.join(outDir, `${id}.png`);
      await el.screenshot({ path: file });
      written.push(file);
    }
    return written;
  } finally {
    await browser.close();
  }
}
