// The static page: `node build.mjs --web` (npm run build:web) writes the page's files, and
// `lplr serve --static DIR --port 0` serves exactly those files until it is stopped. The build
// runs in a temporary folder whose sources link to this checkout's, so dist/web/ here is left
// alone.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = path.resolve(__dirname, '..');

/** Wait for `lplr serve` to print its URL (or exit). */
function servedUrl(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`lplr serve printed no URL within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Serving the lplr lab at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lplr serve exited with ${code}; stdout: ${out}; stderr: ${err}`));
    });
  });
}

describe('static build and serve --static', () => {
  let tmp: string;
  let webDir: string;
  let server: ChildProcess | undefined;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-web-static-'));
    // build.mjs writes dist/web under its working directory: give it one of its own.
    for (const entry of ['build.mjs', 'package.json', 'harness', 'src', 'shaders', 'node_modules']) {
      fs.symlinkSync(path.join(root, entry), path.join(tmp, entry));
    }
    webDir = path.join(tmp, 'dist', 'web');
  });
  afterAll(() => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('node build.mjs --web writes the page, its script, styles and source map', () => {
    const r = spawnSync(process.execPath, ['build.mjs', '--web'], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const files = fs.readdirSync(webDir).sort();
    expect(files).toEqual(expect.arrayContaining(['app.css', 'app.js', 'app.js.map', 'index.html', 'style.css']));
    // Only the page's files.
    expect(files.every((f) => /^(app\.(js|css)(\.map)?|index\.html|style\.css)$/.test(f)), files.join(', ')).toBe(true);
    const html = fs.readFileSync(path.join(webDir, 'index.html'), 'utf8');
    expect(html).toContain('src="app.js"');
    const js = fs.readFileSync(path.join(webDir, 'app.js'), 'utf8');
    // The bundle carries the package version and the engine's WGSL, and imports nothing at run time.
    const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(js).toContain(JSON.stringify(version));
    expect(js).toMatch(/@compute/);
    expect(js).not.toMatch(/^\s*import\s.*from\s/m);
  });

  test('lplr serve --static DIR --port 0 serves those files, then stops on SIGTERM', async () => {
    server = spawn(process.execPath, [path.join(root, 'bin', 'lplr.mjs'), 'serve', '--static', webDir, '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await servedUrl(server, 60_000);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(new URL(url).port).not.toBe('0');

    const index = await fetch(new URL('index.html', url));
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await index.text()).toBe(fs.readFileSync(path.join(webDir, 'index.html'), 'utf8'));
    const home = await fetch(url);
    expect(await home.text()).toBe(fs.readFileSync(path.join(webDir, 'index.html'), 'utf8'));

    const app = await fetch(new URL('app.js', url));
    expect(app.status).toBe(200);
    expect(app.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(Buffer.from(await app.arrayBuffer()).equals(fs.readFileSync(path.join(webDir, 'app.js')))).toBe(true);
    expect((await fetch(new URL('app.css', url))).status).toBe(200);
    expect((await fetch(new URL('no-such-file.js', url))).status).toBe(404);

    const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });
});
