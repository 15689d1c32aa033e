// Node adapter source: Dawn through the `webgpu` package. The only module in src/
// that knows it runs in Node.
//
// Choice order: explicit backend (option or LPLR_BACKEND), then the platform's native
// backend at core feature level on a real (non-software) GPU, then Dawn's OpenGL ES
// backend in compatibility mode, which runs on Mesa llvmpipe on a machine with no GPU.
// Probing the native backend prints native warnings on machines without a usable
// driver, so it happens in a child process whose output we swallow; the verdict is
// cached on disk. The adapter we keep is requested in this process, where Dawn writes
// its limit-clamping warnings straight to stderr: see captureNativeStderr.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tty from 'node:tty';
import { pathToFileURL } from 'node:url';
import { AdapterError, ConfigError, closest } from '../errors.js';
import { type AcquiredAdapter, type AdapterSource, type FeatureLevel, noAdapterError } from './device.js';

export const KNOWN_BACKENDS = ['vulkan', 'metal', 'd3d12', 'd3d11', 'opengl', 'opengles', 'swiftshader'] as const;
export type BackendName = (typeof KNOWN_BACKENDS)[number];

export interface NodeAdapterOptions {
  backend?: string;
  /** Substring of the adapter description to prefer (Dawn's `adapter=` option). */
  adapter?: string;
  /** Skip the on-disk probe cache. */
  noCache?: boolean;
}

type WebgpuModule = { create: (opts: string[]) => GPU; globals: Record<string, unknown> };

function webgpuEntry(): string {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve('webgpu');
  } catch {
    throw new AdapterError(
      "The 'webgpu' package (Dawn's Node bindings) is not installed. Run 'npm install' in the lplr folder.",
    );
  }
}

let webgpuModule: Promise<WebgpuModule> | undefined;
function loadWebgpu(): Promise<WebgpuModule> {
  webgpuModule ??= import(pathToFileURL(webgpuEntry()).href).then((m) => {
    Object.assign(globalThis, m.globals);
    return m as WebgpuModule;
  });
  return webgpuModule;
}

/** Backends Dawn can offer only on one platform. */
const PLATFORM_OF: Partial<Record<BackendName, { platform: NodeJS.Platform; name: string }>> = {
  metal: { platform: 'darwin', name: 'macOS' },
  d3d12: { platform: 'win32', name: 'Windows' },
  d3d11: { platform: 'win32', name: 'Windows' },
};

/** The backends worth trying on `platform`, native first. */
export function backendsFor(platform: string = process.platform): BackendName[] {
  return KNOWN_BACKENDS.filter((b) => {
    const only = PLATFORM_OF[b];
    if (only) return only.platform === platform;
    // Dawn has no OpenGL backend on macOS, and SwiftShader's ICD path is the Linux one.
    if (platform === 'darwin') return b === 'vulkan';
    return b !== 'swiftshader' || platform === 'linux';
  });
}

function nativeBackend(): BackendName {
  if (process.platform === 'darwin') return 'metal';
  if (process.platform === 'win32') return 'd3d12';
  return 'vulkan';
}

function dawnOptions(backend: string, adapterName?: string): string[] {
  // Chromium's SwiftShader Vulkan ICD is a CPU adapter with core features and
  // timestamp queries: handy for tests, never chosen automatically.
  if (backend === 'swiftshader') {
    const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
    if (!process.env.VK_ICD_FILENAMES && fs.existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
    backend = 'vulkan';
  }
  if (backend === 'opengles' || backend === 'opengl') process.env.EGL_PLATFORM ??= 'surfaceless';
  const opts = [`backend=${backend}`];
  if (adapterName) opts.push(`adapter=${adapterName}`);
  return opts;
}

export function featureLevelFor(backend: string): FeatureLevel {
  return backend === 'opengles' || backend === 'opengl' || backend === 'd3d11' ? 'compatibility' : 'core';
}

interface ProbeResult {
  ok: boolean;
  description?: string;
  software?: boolean;
}

const PROBE_SCRIPT = `
const [entry, backend] = process.argv.slice(1);
const { create } = await import(entry);
try {
  const gpu = create(['backend=' + backend]);
  const a = await gpu.requestAdapter({ featureLevel: 'core' });
  if (!a) { process.stdout.write('@@' + JSON.stringify({ ok: false }) + '@@'); process.exit(0); }
  const i = a.info;
  const text = [i.vendor, i.architecture, i.device, i.description].join(' ');
  const software = /llvmpipe|swiftshader|lavapipe|softpipe|warp/i.test(text) || Boolean(i.isFallbackAdapter);
  process.stdout.write('@@' + JSON.stringify({ ok: true, description: i.description || i.device, software }) + '@@');
} catch (e) { process.stdout.write('@@' + JSON.stringify({ ok: false }) + '@@'); }
process.exit(0);
`;

function probeCachePath(): string {
  const base = process.env.LPLR_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'lplr');
  return path.join(base, 'adapter-probe.json');
}

/** Ask a child process whether `backend` offers a real GPU; quiet and cached. */
export function probeBackend(backend: string, noCache = false): ProbeResult {
  const entry = pathToFileURL(webgpuEntry()).href;
  const key = [backend, entry, process.env.VK_ICD_FILENAMES ?? '', process.env.VK_DRIVER_FILES ?? ''].join('|');
  const cacheFile = probeCachePath();
  let cache: Record<string, ProbeResult & { at: number }> = {};
  if (!noCache) {
    try {
      cache = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
      const hit = cache[key];
      if (hit && Date.now() - hit.at < 24 * 3600 * 1000) return hit;
    } catch {
      cache = {};
    }
  }
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, entry, backend], {
    encoding: 'utf8',
    timeout: 20_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const match = /@@(.*)@@/.exec(child.stdout ?? '');
  const result: ProbeResult = match ? JSON.parse(match[1]) : { ok: false };
  try {
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    cache[key] = { ...result, at: Date.now() };
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(cache));
    fs.renameSync(tmp, cacheFile);
  } catch {
    // A read-only home only costs a re-probe next time.
  }
  return result;
}

/**
 * Lines Dawn prints with fprintf(stderr) while it normalizes an adapter's limits (Limits.cpp,
 * once per requestAdapter, no toggle or logging callback reaches them). They only say that
 * dynamic-offset bindings are capped at 16, which lplr never uses.
 */
const BENIGN_DAWN_LINE =
  /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

/** `text` without the benign Dawn warning lines; everything else is kept verbatim. */
export function withoutBenignDawnWarnings(text: string): string {
  return text
    .split(/(?<=\n)/)
    .filter((line) => !BENIGN_DAWN_LINE.test(line.replace(/\r?\n$/, '')))
    .join('');
}

/**
 * withoutBenignDawnWarnings for a stream that arrives in chunks: complete lines are judged as
 * they come; a trailing partial line is passed on at once unless it could still become one of
 * the benign lines, in which case it waits for the rest (or for end()).
 */
export class BenignDawnWarningFilter {
  private pending = '';

  /** What of `chunk` (with what was held back) can be passed on now. */
  push(chunk: string): string {
    const text = this.pending + chunk;
    const cut = text.lastIndexOf('\n') + 1;
    const partial = text.slice(cut);
    const held = BENIGN_PREFIX.startsWith(partial) || partial.startsWith(BENIGN_PREFIX);
    this.pending = held ? partial : '';
    return withoutBenignDawnWarnings(text.slice(0, cut)) + (held ? '' : partial);
  }

  /** The stream ended: what was held back, unless it is a benign line. */
  end(): string {
    const rest = withoutBenignDawnWarnings(this.pending);
    this.pending = '';
    return rest;
  }
}

const BENIGN_PREFIX = 'Warning: maxDynamic';

interface StderrCapture {
  /** Put the real stderr back and return what native code wrote meanwhile. */
  end(): string;
}

/**
 * Point file descriptor 2 at an unlinked temporary file so that native code run
 * synchronously next writes there instead of the terminal. Node has no dup2, so this
 * closes fd 2 and relies on open() returning the lowest free descriptor, and it restores
 * stderr by reopening it through /proc/self/fd (Linux) or /dev/fd (macOS, where that is a
 * dup). Done only when reopening gives back an equivalent stream: a terminal or a pipe.
 * A regular file is left alone (a reopened description would not share the original's
 * offset, so `> log 2>&1` could overwrite lines: the CLI filters that case from a parent
 * process instead, harness/cli/stderr-relay.ts), and so is a socket (cannot be reopened;
 * Node's own child_process pipes are sockets), as well as Windows.
 */
function beginStderrCapture(): StderrCapture | undefined {
  const fdDir = process.platform === 'linux' ? '/proc/self/fd' : process.platform === 'darwin' ? '/dev/fd' : undefined;
  if (!fdDir || process.env.LPLR_RAW_STDERR === '1') return undefined;
  const { O_WRONLY, O_NOCTTY, O_NONBLOCK } = fs.constants;
  let flags: number;
  try {
    const st = fs.fstatSync(2);
    if (tty.isatty(2)) flags = O_WRONLY | O_NOCTTY;
    // Non-blocking so that reopening a pipe whose reader is gone fails instead of hanging
    // (libuv makes Node's stdio pipes non-blocking anyway).
    else if (st.isFIFO()) flags = O_WRONLY | O_NONBLOCK;
    else return undefined;
  } catch {
    return undefined;
  }
  let original: number;
  try {
    original = fs.openSync(`${fdDir}/2`, flags);
  } catch {
    return undefined;
  }
  const tmp = path.join(os.tmpdir(), `lplr-native-stderr-${process.pid}-${Math.random().toString(36).slice(2)}`);
  fs.closeSync(2);
  let capture: number;
  try {
    capture = fs.openSync(tmp, 'wx+');
  } catch {
    capture = -1;
  }
  if (capture !== 2) {
    // Another thread took fd 2 between close and open (or the temp folder is unwritable):
    // give up capturing and put stderr back if the slot is still free.
    if (capture >= 0) fs.closeSync(capture);
    fs.rmSync(tmp, { force: true });
    reopenAsStderr(`${fdDir}/${original}`, flags);
    fs.closeSync(original);
    return undefined;
  }
  fs.unlinkSync(tmp);
  return {
    end(): string {
      const size = fs.fstatSync(2).size;
      const bytes = Buffer.alloc(size);
      if (size > 0) fs.readSync(2, bytes, 0, size, 0);
      fs.closeSync(2);
      reopenAsStderr(`${fdDir}/${original}`, flags);
      fs.closeSync(original);
      return bytes.toString('utf8');
    },
  };
}

/** Open `file` into the free fd 2; if another thread took that slot meanwhile, do not leak. */
function reopenAsStderr(file: string, flags: number): void {
  const fd = fs.openSync(file, flags);
  if (fd !== 2) fs.closeSync(fd);
}

/**
 * Run `call` (synchronous native code) with its stderr output filtered: the benign Dawn
 * warnings are dropped, anything else is written to stderr after the call.
 */
export function captureNativeStderr<T>(call: () => T): T {
  const capture = beginStderrCapture();
  if (!capture) return call();
  try {
    return call();
  } finally {
    const kept = withoutBenignDawnWarnings(capture.end());
    if (kept) process.stderr.write(kept);
  }
}

export function nodeAdapterSource(options: NodeAdapterOptions = {}): AdapterSource {
  return async (): Promise<AcquiredAdapter> => {
    const explicit = options.backend ?? (process.env.LPLR_BACKEND || undefined);
    const from = options.backend !== undefined ? '' : ' (from LPLR_BACKEND)';
    const adapterName = options.adapter ?? process.env.LPLR_ADAPTER;
    const usable = backendsFor();
    if (explicit !== undefined && !(KNOWN_BACKENDS as readonly string[]).includes(explicit)) {
      const hint = closest(explicit, KNOWN_BACKENDS);
      throw new ConfigError(
        `Unknown backend '${explicit}'${from}.${hint ? ` Did you mean '${hint}'?` : ''} Use one of: ${usable.join(', ')}, or leave it unset to pick one automatically.`,
      );
    }
    const only = explicit ? PLATFORM_OF[explicit as BackendName] : undefined;
    if (only && only.platform !== process.platform) {
      throw new ConfigError(
        `Backend '${explicit}'${from} exists only on ${only.name}; this machine runs ${process.platform}. ` +
          `Use --backend ${usable.join('|')}, or leave it unset to pick one automatically.`,
      );
    }
    let backend: string;
    if (explicit) {
      backend = explicit;
    } else {
      const native = nativeBackend();
      const probe = probeBackend(native, options.noCache);
      backend = probe.ok && !probe.software ? native : 'opengles';
    }
    const { create } = await loadWebgpu();
    const featureLevel = featureLevelFor(backend === 'swiftshader' ? 'vulkan' : backend);
    let gpu: GPU | undefined = create(dawnOptions(backend, adapterName));
    // Dawn enumerates and clamps the adapters' limits synchronously inside requestAdapter
    // (the promise is already settled when it returns), so the capture covers its output.
    const request = captureNativeStderr(() => gpu!.requestAdapter({ featureLevel } as GPURequestAdapterOptions));
    const adapter = await request;
    if (!adapter) {
      gpu = undefined;
      throw noAdapterError(
        `Dawn backend '${backend}' offered none`,
        usable.filter((b) => b !== backend),
      );
    }
    return {
      adapter,
      backend,
      featureLevel,
      // Dropping the last reference to the GPU object is what lets Node exit.
      release: () => {
        gpu = undefined;
      },
    };
  };
}
