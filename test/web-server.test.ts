// The page's static server: it hands out exactly the bundle, the MNIST files and the optional
// dataset, refuses traversal in every spelling, lists no directory and sends data uncached.
// Also: the page bundle builds for the browser (no Node built-ins in it). No GPU, no browser.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildWebBundle, type WebBundle } from '../harness/web/bundle.js';
import { routeKey, startLabServer, type LabServer } from '../harness/web/server.js';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request whose path goes out byte for byte (fetch and URL would normalize '..' away). */
function rawRequest(port: number, rawPath: string, method = 'GET'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('routeKey', () => {
  test('maps / to the index and keeps plain paths', () => {
    expect(routeKey('/')).toBe('/index.html');
    expect(routeKey('/app.js?v=1#x')).toBe('/app.js');
    expect(routeKey('/data/mnist/train-images-idx3-ubyte')).toBe('/data/mnist/train-images-idx3-ubyte');
  });
  test.each([
    '/../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
    '/data/mnist/..%2f..%2f..%2fetc%2fpasswd',
    '/data/%2e%2e%5c%2e%2e%5cpackage.json',
    '/data/./mnist/train-images-idx3-ubyte',
    '/index.html%00.js',
    '/%E0%A4%A', // malformed percent-encoding
    'etc/passwd',
  ])('refuses %s', (p) => {
    expect(routeKey(p)).toBeUndefined();
  });
});

describe('lab server', () => {
  let dir: string;
  let server: LabServer;
  const trainImages = Buffer.from([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28, ...new Array(784).fill(7)]);
  const trainLabels = Buffer.from([0, 0, 8, 1, 0, 0, 0, 1, 5]);
  const files: WebBundle = new Map([
    ['index.html', Buffer.from('<!doctype html><title>lab</title>')],
    ['app.js', Buffer.from('console.log(1)')],
  ]);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-web-server-'));
    fs.mkdirSync(path.join(dir, 'mnist'));
    fs.writeFileSync(path.join(dir, 'mnist', 'train-images-idx3-ubyte'), trainImages);
    fs.writeFileSync(path.join(dir, 'mnist', 'train-labels-idx1-ubyte'), trainLabels);
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'root:x:0:0');
    fs.writeFileSync(path.join(dir, 'mine.safetensors'), 'dataset-bytes');
    server = await startLabServer({ files, mnistDir: path.join(dir, 'mnist'), dataset: path.join(dir, 'mine.safetensors') });
  });
  afterAll(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('listens on 127.0.0.1 by default', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  test('serves the page and the bundle, revalidated on each load', async () => {
    const index = await rawRequest(server.port, '/');
    expect(index.status).toBe(200);
    expect(index.body.toString()).toBe('<!doctype html><title>lab</title>');
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['cache-control']).toBe('no-cache');
    const js = await rawRequest(server.port, '/app.js');
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.body.toString()).toBe('console.log(1)');
  });

  test('serves the MNIST files and the dataset byte for byte, never cached', async () => {
    const images = await rawRequest(server.port, '/data/mnist/train-images-idx3-ubyte');
    expect(images.status).toBe(200);
    expect(Buffer.compare(images.body, trainImages)).toBe(0);
    expect(images.headers['cache-control']).toContain('no-store');
    expect(images.headers.pragma).toBe('no-cache');
    const dataset = await rawRequest(server.port, '/data/dataset.safetensors');
    expect(dataset.body.toString()).toBe('dataset-bytes');
    expect(dataset.headers['cache-control']).toContain('no-store');
    const head = await rawRequest(server.port, '/data/mnist/train-labels-idx1-ubyte', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(trainLabels.length));
    expect(head.body.length).toBe(0);
  });

  test('the manifest says what is served; absent files are 404', async () => {
    const manifest = await rawRequest(server.port, '/data/manifest.json');
    expect(JSON.parse(manifest.body.toString())).toEqual({ mnist: true, dataset: 'mine.safetensors' });
    expect((await rawRequest(server.port, '/data/mnist/t10k-images-idx3-ubyte')).status).toBe(404);
  });

  test.each([
    '/../../etc/passwd',
    '/..%2f..%2fetc%2fpasswd',
    '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/%252e%252e/%252e%252e/etc/passwd',
    '/data/mnist/../../secret.txt',
    '/data/mnist/%2e%2e/%2e%2e/secret.txt',
    '/data/mnist/..%5c..%5csecret.txt',
    '/secret.txt',
    '/mine.safetensors',
    '//etc/passwd',
    '/etc/passwd',
  ])('refuses %s', async (p) => {
    const res = await rawRequest(server.port, p);
    expect([400, 404]).toContain(res.status);
    expect(res.body.toString()).not.toContain('root:');
  });

  test.each(['/data/', '/data/mnist/', '/data/mnist', '/harness/web/'])('lists no directory: %s', async (p) => {
    const res = await rawRequest(server.port, p);
    expect(res.status).toBe(404);
    expect(res.body.toString()).not.toContain('train-images');
  });

  test('only GET and HEAD', async () => {
    const res = await rawRequest(server.port, '/', 'POST');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
  });

  test('a missing dataset file is a ConfigError that names it', async () => {
    await expect(startLabServer({ files, dataset: path.join(dir, 'nope.safetensors') })).rejects.toThrow(/nope\.safetensors: no such file/);
  });
});

test('the page bundle builds for the browser: no Node built-ins, the files index.html links', async () => {
  const bundle = await buildWebBundle();
  for (const name of ['index.html', 'app.js', 'app.css', 'style.css']) expect(bundle.has(name)).toBe(true);
  const js = Buffer.from(bundle.get('app.js')!).toString('utf8');
  expect(js).not.toMatch(/from\s*["']node:/);
  expect(js).not.toMatch(/require\(["'](fs|path|node:)/);
  const html = Buffer.from(bundle.get('index.html')!).toString('utf8');
  for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) if (!m[1].startsWith('data:')) expect(bundle.has(m[1])).toBe(true);
  // uPlot's stylesheet travels in app.css.
  expect(Buffer.from(bundle.get('app.css')!).toString('utf8')).toContain('.uplot');
});
