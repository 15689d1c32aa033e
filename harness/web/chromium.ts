// Headless Chromium for the browser checks (verify-browser, tests), through playwright-core.
// WebGPU is switched on, the browser never talks to the network (every host name except
// 127.0.0.1 resolves to nothing; no sync, updates or background requests), and the page is
// loaded from the local lab server.
import * as fs from 'node:fs';
import { ConfigError } from '../../src/errors.js';
import type { Browser, Page } from 'playwright-core';
import type { LplrPageState, StartOptions } from './app.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--enable-unsafe-webgpu',
  '--disable-quic',
  '--disable-sync',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
  // Chromium hides adapter names from pages unless asked; the reports name the adapters.
  '--enable-webgpu-developer-features',
];

/** Chromium on Mesa llvmpipe through ANGLE's GL/EGL backend: the adapter Node's Dawn GLES backend uses. */
export const SAME_ADAPTER_ARGS: readonly string[] = ['--use-webgpu-adapter=opengles', '--use-angle=gl-egl'];

export type ChromiumAdapterMode = 'default' | 'same-as-node';

export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, CHROMIUM_PATH].filter((c): c is string => Boolean(c));
  return candidates.find((c) => fs.existsSync(c));
}

export async function launchChromium(mode: ChromiumAdapterMode = 'default'): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) {
    throw new ConfigError(`Chromium is not installed at ${CHROMIUM_PATH}: install it ('apt-get install -y chromium') or set CHROMIUM_PATH.`);
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...(mode === 'same-as-node' ? SAME_ADAPTER_ARGS : [])] });
}

/** The page URL for an adapter mode: the same-adapter mode asks for a compatibility-level adapter. */
export function pageUrl(serverUrl: string, mode: ChromiumAdapterMode): string {
  return mode === 'same-as-node' ? `${serverUrl}?featureLevel=compatibility` : serverUrl;
}

/** Open the page and wait for its adapter search to finish. */
export async function openLabPage(browser: Browser, url: string, opts: { acceptDownloads?: boolean; deviceScaleFactor?: number } = {}): Promise<Page> {
  const page = await browser.newPage({ acceptDownloads: opts.acceptDownloads ?? false, deviceScaleFactor: opts.deviceScaleFactor ?? 1, viewport: { width: 1100, height: 900 } });
  await page.goto(url);
  await page.waitForFunction(() => window.__lplr?.ready === true, undefined, { timeout: 60_000 });
  return page;
}

/** Start an experiment in the page and wait until it is done (or failed). */
export async function runInPage(page: Page, options: StartOptions, timeoutMs = 600_000): Promise<Pick<LplrPageState, 'adapter' | 'kernels' | 'error' | 'done'>> {
  await page.evaluate((o) => {
    void window.__lplr.start(o);
  }, options);
  await page.waitForFunction(() => window.__lplr.done || window.__lplr.error !== null || window.__lplr.status === 'failed', undefined, { timeout: timeoutMs, polling: 100 });
  return page.evaluate(() => ({ adapter: window.__lplr.adapter, kernels: window.__lplr.kernels, error: window.__lplr.error, done: window.__lplr.done }));
}
