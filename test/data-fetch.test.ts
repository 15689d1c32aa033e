import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DataError } from '../src/errors.js';
import { loadCifar } from '../harness/data/cifar.js';
import { defaultCacheDir } from '../harness/data/cache.js';
import { CIFAR_ARCHIVE, MNIST_FILES, downloadVerified, fetchDataset } from '../harness/data/fetch.js';
import { loadMnist } from '../harness/data/mnist.js';
import { extractTar, readTar } from '../harness/data/tar.js';
import { sharedData } from './helpers/requirements.js';

// The official .gz files in ../shared/data/mnist beside the repository.
const SHARED_MNIST = sharedData('mnist', Object.keys(MNIST_FILES));
const hasSharedMnist = SHARED_MNIST !== undefined;

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

// ---------------------------------------------------------------- a local HTTP server

interface ServerOptions {
  /** Per path: how many more requests to cut off, and after how many body bytes. */
  drop?: Map<string, { times: number; after: number }>;
  /** Answer 200 with the whole file even when a Range is asked for. */
  ignoreRange?: boolean;
}
interface Served {
  url: string;
  requests: { path: string; range: string | undefined }[];
  close: () => Promise<void>;
}

const servers: Served[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(files: Map<string, Uint8Array>, opts: ServerOptions = {}): Promise<Served> {
  const requests: Served['requests'] = [];
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const range = req.headers.range;
    requests.push({ path, range });
    const body = files.get(path);
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(range ?? '');
    if (m !== null && !opts.ignoreRange) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'content-length': body.length - start });
    } else {
      res.writeHead(200, { 'content-length': body.length });
    }
    const drop = opts.drop?.get(path);
    if (drop !== undefined && drop.times > 0) {
      drop.times--;
      // Send part of the body, then cut the connection.
      res.write(body.subarray(start, Math.min(body.length, start + drop.after)), () => res.socket?.destroy());
      return;
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const s: Served = {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}

// ---------------------------------------------------------------- tar archives built by hand

interface TarSpec {
  name: string;
  data?: Uint8Array;
  type?: string;
  linkname?: string;
}

function tarHeader(spec: TarSpec, size: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (at: number, text: string): void => h.set(new TextEncoder().encode(text), at);
  put(0, spec.name);
  put(100, '0000644\0');
  put(108, '0000000\0');
  put(116, '0000000\0');
  put(124, size.toString(8).padStart(11, '0') + '\0');
  put(136, '00000000000\0');
  put(148, '        ');
  put(156, spec.type ?? '0');
  put(157, spec.linkname ?? '');
  put(257, 'ustar\0');
  put(263, '00');
  let sum = 0;
  for (const b of h) sum += b;
  put(148, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

function makeTar(entries: TarSpec[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    parts.push(tarHeader(e, data.length), data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

function cifarRecords(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((l, r) => {
    out[r * 3073] = l;
    out.fill((r * 37 + l) % 256, r * 3073 + 1, (r + 1) * 3073);
  });
  return out;
}

const CIFAR_NAMES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
function cifarLikeEntries(): TarSpec[] {
  return [
    { name: 'cifar-10-batches-bin/', type: '5' },
    ...CIFAR_NAMES.map((n, i) => ({ name: `cifar-10-batches-bin/${n}`, data: cifarRecords([i, (i + 3) % 10]) })),
    { name: 'cifar-10-batches-bin/batches.meta.txt', data: new TextEncoder().encode('airplane\n') },
  ];
}

// ---------------------------------------------------------------- tests

const root = mkdtempSync(join(tmpdir(), 'lplr-fetch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let k = 0;
const freshDir = (): string => {
  const d = join(root, `c${k++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** Small stand-ins for the four MNIST files, with their MD5s as `expected`. */
function fakeMnist(): { files: Map<string, Uint8Array>; expected: Record<string, string> } {
  const files = new Map<string, Uint8Array>();
  const expected: Record<string, string> = {};
  Object.keys(MNIST_FILES).forEach((name, i) => {
    const body = new Uint8Array(50_000 + i * 1000).map((_, j) => (j * (i + 3)) % 251);
    files.set(`/mnist/${name}`, body);
    expected[name] = md5(body);
  });
  return { files, expected };
}

describe('fetchDataset mnist', () => {
  it('downloads, verifies and renames each file; a second run downloads nothing', async () => {
    const { files, expected } = fakeMnist();
    const s = await serve(files);
    const cacheDir = freshDir();
    const r = await fetchDataset('mnist', { cacheDir, baseUrl: `${s.url}/mnist/`, expected });
    expect(r.dir).toBe(join(cacheDir, 'mnist'));
    expect(readdirSync(r.dir).sort()).toEqual(Object.keys(MNIST_FILES).sort());
    for (const name of Object.keys(MNIST_FILES)) expect(md5(readFileSync(join(r.dir, name)))).toBe(expected[name]);
    expect(s.requests.length).toBe(4);
    await fetchDataset('mnist', { cacheDir, baseUrl: `${s.url}/mnist/`, expected });
    expect(s.requests.length).toBe(4);
  });

  it('resumes with a Range request after the server drops the connection mid-file', async () => {
    const { files, expected } = fakeMnist();
    const path = '/mnist/train-labels-idx1-ubyte.gz';
    const s = await serve(files, { drop: new Map([[path, { times: 2, after: 20_000 }]]) });
    const cacheDir = freshDir();
    const lines: string[] = [];
    await fetchDataset('mnist', { cacheDir, baseUrl: `${s.url}/mnist/`, expected, log: (l) => lines.push(l) });
    const tries = s.requests.filter((q) => q.path === path);
    expect(tries.length).toBe(3);
    expect(tries[0].range).toBeUndefined();
    expect(tries[1].range).toMatch(/^bytes=\d+-$/);
    const firstResume = Number(/(\d+)/.exec(tries[1].range!)![1]);
    expect(firstResume).toBeGreaterThan(0);
    expect(firstResume).toBeLessThanOrEqual(20_000);
    expect(Number(/(\d+)/.exec(tries[2].range!)![1])).toBeGreaterThan(firstResume);
    expect(md5(readFileSync(join(cacheDir, 'mnist', 'train-labels-idx1-ubyte.gz')))).toBe(expected['train-labels-idx1-ubyte.gz']);
    expect(existsSync(join(cacheDir, 'mnist', 'train-labels-idx1-ubyte.gz.part'))).toBe(false);
    expect(lines.some((l) => l.includes('resuming'))).toBe(true);
  });

  it('keeps the partial file when it gives up, and the next run resumes it', async () => {
    const { files, expected } = fakeMnist();
    const path = '/mnist/train-images-idx3-ubyte.gz';
    const flaky = await serve(files, { drop: new Map([[path, { times: 1, after: 30_000 }]]) });
    const cacheDir = freshDir();
    const part = join(cacheDir, 'mnist', 'train-images-idx3-ubyte.gz.part');
    const err = await fetchDataset('mnist', { cacheDir, baseUrl: `${flaky.url}/mnist/`, expected, attempts: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(
      new RegExp(`^Download of ${flaky.url}/mnist/train-images-idx3-ubyte\\.gz failed after 1 attempts \\(.+\\); \\d+ bytes are kept in ${part.replace(/[.]/g, '\\.')}\\. Run the same command again to resume`),
    );
    const kept = statSync(part).size;
    expect(kept).toBeGreaterThan(0);
    expect(existsSync(join(cacheDir, 'mnist', 'train-images-idx3-ubyte.gz'))).toBe(false);

    const good = await serve(files);
    await fetchDataset('mnist', { cacheDir, baseUrl: `${good.url}/mnist/`, expected });
    expect(good.requests.find((q) => q.path === path)?.range).toBe(`bytes=${kept}-`);
    expect(md5(readFileSync(join(cacheDir, 'mnist', 'train-images-idx3-ubyte.gz')))).toBe(expected['train-images-idx3-ubyte.gz']);
  });

  it('a checksum mismatch leaves nothing in the cache', async () => {
    const { files, expected } = fakeMnist();
    const s = await serve(files);
    const cacheDir = freshDir();
    const wrong = { ...expected, 'train-images-idx3-ubyte.gz': '0'.repeat(32) };
    const err = await fetchDataset('mnist', { cacheDir, baseUrl: `${s.url}/mnist/`, expected: wrong }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe(
      `Checksum mismatch for ${s.url}/mnist/train-images-idx3-ubyte.gz: expected MD5 ${'0'.repeat(32)}, got ${expected['train-images-idx3-ubyte.gz']}. ` +
        'The download was deleted. Try again later, or check that --base-url serves the official files.',
    );
    expect(readdirSync(join(cacheDir, 'mnist'))).toEqual([]);
  });

  it('handles a stale partial file, a complete partial file and a server without Range support', async () => {
    const { files, expected } = fakeMnist();
    const name = 't10k-labels-idx1-ubyte.gz';
    const body = files.get(`/mnist/${name}`)!;
    const cacheDir = freshDir();
    const dest = join(cacheDir, name);

    // A partial file from some other copy: resuming gives a bad checksum, so it starts over once.
    writeFileSync(`${dest}.part`, new Uint8Array(100).fill(7));
    const s1 = await serve(files);
    await downloadVerified(`${s1.url}/mnist/${name}`, dest, expected[name]);
    expect(s1.requests.map((q) => q.range)).toEqual(['bytes=100-', undefined]);
    expect(md5(readFileSync(dest))).toBe(expected[name]);

    // Interrupted between the last byte and the rename: the server answers 416, the file is kept.
    rmSync(dest);
    writeFileSync(`${dest}.part`, body);
    const s2 = await serve(files);
    await downloadVerified(`${s2.url}/mnist/${name}`, dest, expected[name]);
    expect(s2.requests.map((q) => q.range)).toEqual([`bytes=${body.length}-`]);
    expect(md5(readFileSync(dest))).toBe(expected[name]);

    // The server ignores Range and sends everything: the partial file is overwritten, not appended to.
    rmSync(dest);
    writeFileSync(`${dest}.part`, body.subarray(0, 500));
    const s3 = await serve(files, { ignoreRange: true });
    await downloadVerified(`${s3.url}/mnist/${name}`, dest, expected[name]);
    expect(md5(readFileSync(dest))).toBe(expected[name]);
  });

  it('reports HTTP errors with the URL', async () => {
    const s = await serve(new Map());
    const err = await fetchDataset('mnist', { cacheDir: freshDir(), baseUrl: `${s.url}/nothing/` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe(
      `HTTP 404 Not Found for ${s.url}/nothing/train-images-idx3-ubyte.gz. Check the URL (--base-url) or download the files by hand and pass --data-dir.`,
    );
  });

  it.skipIf(!hasSharedMnist)('(needs ../shared/data/mnist) fetches the real MNIST .gz files with the official checksums, and loadMnist reads them', async () => {
    const files = new Map(Object.keys(MNIST_FILES).map((f) => [`/m/${f}`, readFileSync(join(SHARED_MNIST!, f))] as [string, Uint8Array]));
    const s = await serve(files, { drop: new Map([['/m/t10k-images-idx3-ubyte.gz', { times: 1, after: 400_000 }]]) });
    const cacheDir = freshDir();
    const r = await fetchDataset('mnist', { cacheDir, baseUrl: `${s.url}/m` });
    const test = loadMnist({ dataDir: r.dir, split: 'test' });
    expect(test.count).toBe(10000);
    expect(test.files[0]).toBe(join(r.dir, 't10k-images-idx3-ubyte.gz'));
    expect(s.requests.filter((q) => q.range !== undefined).length).toBe(1);
  });
});

describe('fetchDataset cifar10', () => {
  async function serveArchive(entries: TarSpec[]): Promise<{ s: Served; expected: Record<string, string> }> {
    const gz = gzipSync(makeTar(entries));
    const s = await serve(new Map([[`/c/${CIFAR_ARCHIVE}`, gz]]));
    return { s, expected: { [CIFAR_ARCHIVE]: md5(gz) } };
  }

  it('downloads, verifies and unpacks the archive; loadCifar reads the result', async () => {
    const { s, expected } = await serveArchive(cifarLikeEntries());
    const cacheDir = freshDir();
    const r = await fetchDataset('cifar10', { cacheDir, baseUrl: `${s.url}/c/`, expected });
    expect(r.dir).toBe(join(cacheDir, 'cifar10'));
    expect(r.files).toEqual(CIFAR_NAMES.map((n) => join(r.dir, 'cifar-10-batches-bin', n)));
    const train = loadCifar({ dataDir: r.dir, split: 'train' });
    expect(train.count).toBe(10);
    expect([...train.labels]).toEqual([0, 3, 1, 4, 2, 5, 3, 6, 4, 7]);
    expect([...loadCifar({ dataDir: r.dir, split: 'test' }).labels]).toEqual([5, 8]);
    expect(existsSync(join(r.dir, CIFAR_ARCHIVE))).toBe(false); // the archive is removed after unpacking
    await fetchDataset('cifar10', { cacheDir, baseUrl: `${s.url}/c/`, expected });
    expect(s.requests.length).toBe(1);
  });

  const evil: [string, (base: string) => TarSpec][] = [
    ['a ../ path', () => ({ name: '../evil', data: new Uint8Array([1]) })],
    ['a nested ../ path', () => ({ name: 'cifar-10-batches-bin/../../evil', data: new Uint8Array([1]) })],
    ['an absolute path', (base) => ({ name: join(base, 'abs-evil'), data: new Uint8Array([1]) })],
    ['a symlink', () => ({ name: 'cifar-10-batches-bin/link', type: '2', linkname: '/etc/passwd' })],
    ['a hard link', () => ({ name: 'cifar-10-batches-bin/hard', type: '1', linkname: 'cifar-10-batches-bin/test_batch.bin' })],
  ];
  it.each(evil)('refuses an archive with %s and writes nothing', async (_label, make) => {
    const cacheDir = freshDir();
    const bad = make(cacheDir);
    // The bad entry comes last: nothing before it may be written either.
    const { s, expected } = await serveArchive([...cifarLikeEntries(), bad]);
    const err = await fetchDataset('cifar10', { cacheDir, baseUrl: `${s.url}/c/`, expected }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/refusing tar entry ".*": (path contains '\.\.'|absolute path|it is a symbolic link|it is a hard link)\. Nothing was extracted/);
    expect(existsSync(join(cacheDir, 'evil'))).toBe(false);
    expect(existsSync(join(cacheDir, 'abs-evil'))).toBe(false);
    expect(existsSync(join(root, 'evil'))).toBe(false);
    // Only the (now removed) archive's folder remains, empty.
    expect(readdirSync(join(cacheDir, 'cifar10'))).toEqual([]);
  });
});

describe('tar reader', () => {
  it('reads POSIX prefixes, GNU long names and pax paths', () => {
    const longName = `deep/${'x'.repeat(150)}/file.bin`;
    const h = tarHeader({ name: 'file.bin' }, 3);
    h.set(new TextEncoder().encode('some/prefix'), 345);
    // Recompute the checksum after adding the prefix.
    h.fill(0x20, 148, 156);
    const sum = h.reduce((a, b) => a + b, 0);
    h.set(new TextEncoder().encode(sum.toString(8).padStart(6, '0') + '\0 '), 148);
    const withPrefix = Buffer.concat([h, new Uint8Array([1, 2, 3]), new Uint8Array(509)]);
    const paxRecord = (key: string, value: string): string => {
      const body = ` ${key}=${value}\n`;
      let len = body.length + 1;
      while (`${len}${body}`.length !== len) len++;
      return `${len}${body}`;
    };
    const tar = Buffer.concat([
      withPrefix,
      makeTar([
        { name: '././@LongLink', type: 'L', data: new TextEncoder().encode(longName + '\0') },
        { name: 'truncated-name', data: new Uint8Array([9]) },
        { name: 'PaxHeader', type: 'x', data: new TextEncoder().encode(paxRecord('path', 'pax/named.txt')) },
        { name: 'short', data: new Uint8Array([4, 5]) },
        { name: 'plain.txt', data: new Uint8Array([6]) },
      ]),
    ]);
    const entries = readTar(tar, 't');
    expect(entries.map((e) => [e.path, [...e.data]])).toEqual([
      ['some/prefix/file.bin', [1, 2, 3]],
      [longName, [9]],
      ['pax/named.txt', [4, 5]],
      ['plain.txt', [6]],
    ]);
  });

  it('rejects corrupt and truncated archives', () => {
    const good = makeTar([{ name: 'a.bin', data: new Uint8Array(700) }]);
    const flipped = Uint8Array.from(good);
    flipped[3] ^= 1;
    expect(() => readTar(flipped, 't')).toThrow(/^t: tar header at byte 0 has checksum \d+ but its bytes sum to \d+\. The archive is corrupt/);
    expect(() => readTar(good.subarray(0, 1000), 't')).toThrow('t: tar entry at byte 0 declares 700 bytes but the archive ends after 488. Download it again.');
    expect(() => readTar(good.subarray(0, 1536), 't')).toThrow('t: tar archive is truncated (no end-of-archive block after byte 1536). Download it again.');
    expect(() => readTar(makeTar([{ name: 'fifo', type: '6' }]), 't')).toThrow(`t: refusing tar entry "fifo" of unsupported type '6'`);
  });

  it('extracts through temporary names into the destination only', () => {
    const dest = join(freshDir(), 'out');
    const written = extractTar(makeTar([{ name: './sub/./f.bin', data: new Uint8Array([1, 2]) }, { name: 'g.txt', data: new Uint8Array([3]) }]), dest, 't');
    expect(written).toEqual([join(dest, 'sub', 'f.bin'), join(dest, 'g.txt')]);
    expect([...readFileSync(join(dest, 'sub', 'f.bin'))]).toEqual([1, 2]);
    expect(readdirSync(dest).sort()).toEqual(['g.txt', 'sub']);
  });
});

describe('cache location', () => {
  it('uses $LPLR_CACHE_DIR when set', () => {
    const before = process.env.LPLR_CACHE_DIR;
    try {
      process.env.LPLR_CACHE_DIR = '/some/where';
      expect(defaultCacheDir()).toBe('/some/where');
      delete process.env.LPLR_CACHE_DIR;
      expect(defaultCacheDir()).toMatch(/[/\\]\.cache[/\\]lplr[/\\]data$/);
    } finally {
      if (before === undefined) delete process.env.LPLR_CACHE_DIR;
      else process.env.LPLR_CACHE_DIR = before;
    }
  });
});
