// `lplr serve` answers only requests that name it (DNS rebinding: a page on another origin whose
// name was rebound to 127.0.0.1 would otherwise read the page's data, --data-dir files included),
// and the page's first load requests nothing that answers an error (it used to ask for
// /favicon.ico: a 404 in the browser console).
import * as http from 'node:http';
import * as os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebBundle } from '../harness/web/bundle.js';
import { launchChromium } from '../harness/web/chromium.js';
import { hostAllowed, startLabServer, type LabServer } from '../harness/web/server.js';
import { noChromium } from './helpers/requirements.js';

/** GET `path` with the Host header given byte for byte (undefined: none sent). */
function get(port: number, path: string, host: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = host === undefined ? {} : { Host: host };
    const req = http.request({ host: '127.0.0.1', port, path, headers, setHost: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('hostAllowed', () => {
  it('loopback names, *.localhost and IP literals, with or without a port', () => {
    for (const h of ['localhost', 'localhost:8080', 'LOCALHOST:8080', 'lab.localhost:8080', '127.0.0.1:8080', '127.0.0.1', '[::1]:8080', '[::1]', '192.168.1.5:8080'])
      expect(hostAllowed(h, '127.0.0.1'), h).toBe(true);
  });

  it('refuses names that could have been rebound, and malformed values', () => {
    for (const h of ['evil.example:8080', 'evil.example', 'localhost.evil.example:8080', '127.0.0.1.nip.io:8080', 'evil.example:8080@127.0.0.1', 'a b', '', '[evil]:80'])
      expect(hostAllowed(h, '127.0.0.1'), h).toBe(false);
  });

  it('the name given to --host, and this machine\'s name only when listening on every interface', () => {
    expect(hostAllowed('lab.lan:8080', 'lab.lan')).toBe(true);
    expect(hostAllowed('lab.lan:8080', '127.0.0.1')).toBe(false);
    const me = os.hostname();
    if (!/^[a-z0-9.-]+$/i.test(me) || me.toLowerCase() === 'localhost' || me.toLowerCase().endsWith('.localhost')) return;
    expect(hostAllowed(`${me}:8080`, '0.0.0.0')).toBe(true);
    expect(hostAllowed(`${me}:8080`, '127.0.0.1')).toBe(false);
  });

  it('a request without a Host header (HTTP/1.0 tools, no browser) is served', () => {
    expect(hostAllowed(undefined, '127.0.0.1')).toBe(true);
  });
});

describe('the lab server', () => {
  let server: LabServer;
  beforeAll(async () => {
    const files = new Map<string, Uint8Array>([['index.html', Buffer.from('<!doctype html><title>t</title>')]]);
    server = await startLabServer({ files, host: '127.0.0.1', port: 0, mnistDir: undefined });
  });
  afterAll(() => server.close());

  it('serves requests that name it', async () => {
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`]) {
      const r = await get(server.port, '/', host);
      expect(r.status, host).toBe(200);
      expect(r.body).toContain('<title>t</title>');
    }
  });

  it('refuses a foreign Host with 403 and says what to open instead, for the page and the data alike', async () => {
    for (const p of ['/', '/data/manifest.json', '/index.html']) {
      const r = await get(server.port, p, `evil.example:${server.port}`);
      expect(r.status, p).toBe(403);
      expect(r.body).toContain(`Refused: the Host header 'evil.example:${server.port}' does not name this server.`);
      expect(r.body).toContain(`Open http://127.0.0.1:${server.port}/ instead.`);
      expect(r.body).not.toContain('<title>');
    }
  });
});

describe.skipIf(noChromium())('the page in Chromium', () => {
  it('loads with no request answered by an error and no console error', async () => {
    const server = await startLabServer({ files: await buildWebBundle(), port: 0 });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('response', (r) => {
        if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(server.url);
      await page.waitForFunction(() => (window as unknown as { __lplr?: { ready?: boolean } }).__lplr?.ready === true, undefined, { timeout: 60_000 });
      // The favicon is fetched by the browser after the load, outside page events: give it time.
      await page.waitForTimeout(1500);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
    }
  }, 120_000);
});
