// Peer: TensorFlow.js's WebGPU backend on the same Dawn adapter, in a child process so
// that its device never shares ours. The parent spawns `lplr bench --peer-child tfjs`
// with the cases as JSON; the child prints one marked JSON line with its timings.
//
// On Dawn in Node the backend needs `globalThis.navigator = { gpu }` before it is
// imported, and on a compatibility-mode adapter (GL/GLES, D3D11) `requestAdapter` must ask
// for featureLevel 'compatibility' or it gets no adapter. `tf.setBackend('webgpu')`
// returns false when the backend failed to initialize while `tf.getBackend()` still says
// 'webgpu', so the boolean is checked and the run refused, never timed on the CPU backend.
import { spawnSync } from 'node:child_process';
import type * as TfCore from '@tensorflow/tfjs-core';
import { lplrCommand, median, type PeerInfo } from './harness.js';

export interface PeerMatmulCase {
  name: string;
  /** Stored operand shapes (before the transposes). */
  a: [number, number];
  b: [number, number];
  transA: boolean;
  transB: boolean;
}

export interface PeerSpec {
  cases: PeerMatmulCase[];
  warmup: number;
  trials: number;
  maxRunS: number;
  /** Repeat short work inside a trial until it lasts this long (as for the engine). */
  minTrialMs?: number;
  /** Our adapter's Dawn backend and feature level, so the peer runs on the same adapter. */
  backend: string;
  featureLevel: 'core' | 'compatibility';
  adapter?: string;
}

export interface PeerCaseResult {
  name: string;
  status: 'ok' | 'skipped' | 'failed';
  medianMs: number | null;
  trialsMs?: number[];
  note?: string;
}

export interface PeerOutput {
  peer: PeerInfo;
  results: PeerCaseResult[];
}

export const PEER_MARK = '@@LPLR-PEER@@';

/** Parent side: run the TF.js peer in a child process; never throws (a failure is reported as such). */
export function runTfjsPeer(spec: PeerSpec): PeerOutput {
  const [exe, ...args] = lplrCommand();
  const budgetS = 60 + spec.cases.length * (spec.warmup + spec.trials + 1) * Math.max(spec.maxRunS, 5);
  const child = spawnSync(exe, [...args, 'bench', '--peer-child', 'tfjs', '--peer-spec', JSON.stringify(spec)], {
    encoding: 'utf8',
    timeout: budgetS * 1000,
    maxBuffer: 16 << 20,
    env: process.env,
  });
  return parsePeerOutput('tfjs-webgpu', child.stdout ?? '', child.stderr ?? '', child.status, child.signal, spec.cases);
}

export function parsePeerOutput(
  name: string,
  stdout: string,
  stderr: string,
  status: number | null,
  signal: NodeJS.Signals | null,
  cases: readonly { name: string }[],
): PeerOutput {
  const line = stdout.split('\n').find((l) => l.startsWith(PEER_MARK));
  if (line) return JSON.parse(line.slice(PEER_MARK.length)) as PeerOutput;
  const why = signal ? `the child process was stopped (${signal})` : `the child process exited with code ${status}`;
  const tail = stderr.trim().split('\n').slice(-3).join(' | ');
  return {
    peer: { name, status: 'failed', detail: `${why}${tail ? `: ${tail}` : ''}` },
    results: cases.map((c) => ({ name: c.name, status: 'failed', medianMs: null })),
  };
}

function dawnOptions(spec: PeerSpec): string[] {
  // Mirrors src/gpu/node.ts: SwiftShader is Dawn's Vulkan backend with the ICD in
  // VK_ICD_FILENAMES (inherited from the parent), GL needs a surfaceless EGL platform.
  const backend = spec.backend === 'swiftshader' ? 'vulkan' : spec.backend;
  if (backend === 'opengles' || backend === 'opengl') process.env.EGL_PLATFORM ??= 'surfaceless';
  return [`backend=${backend}`, ...(spec.adapter ? [`adapter=${spec.adapter}`] : [])];
}

type Tf = typeof TfCore;

/** Child side: time tf.matMul on every case; the result goes to stdout behind PEER_MARK. */
export async function tfjsChildMain(specJson: string): Promise<number> {
  const spec = JSON.parse(specJson) as PeerSpec;
  const out = await runTfjs(spec).catch(
    (err: unknown): PeerOutput => ({
      peer: { name: 'tfjs-webgpu', status: 'failed', detail: err instanceof Error ? err.message : String(err) },
      results: spec.cases.map((c) => ({ name: c.name, status: 'failed', medianMs: null })),
    }),
  );
  process.stdout.write(`${PEER_MARK}${JSON.stringify(out)}\n`);
  return 0;
}

async function runTfjs(spec: PeerSpec): Promise<PeerOutput> {
  // Specifiers in variables: the packages are dev dependencies, loaded at run time, never bundled.
  const webgpuName = 'webgpu';
  const coreName = '@tensorflow/tfjs-core';
  const backendName = '@tensorflow/tfjs-backend-webgpu';
  const { create, globals } = (await import(webgpuName)) as { create(o: string[]): GPU; globals: Record<string, unknown> };
  Object.assign(globalThis, globals);
  const gpu = create(dawnOptions(spec));
  if (spec.featureLevel === 'compatibility') {
    const request = gpu.requestAdapter.bind(gpu);
    gpu.requestAdapter = (opts?: GPURequestAdapterOptions) => request({ ...opts, featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  }
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  let tf: Tf;
  let version = '?';
  try {
    tf = (await import(coreName)) as Tf;
    await import(backendName);
    version = tf.version_core;
  } catch (err) {
    return unavailable(spec, `TF.js is not installed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); it is a dev dependency: run 'npm install'.`);
  }
  // Small operands would otherwise run on the CPU inside the WebGPU backend.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const ok = await tf.setBackend('webgpu');
  if (!ok) return unavailable(spec, "tf.setBackend('webgpu') returned false: the WebGPU backend did not initialize on this adapter (tf.getBackend() would still say 'webgpu').");
  await tf.ready();
  const adapterInfo = (tf.backend() as unknown as { adapterInfo?: unknown }).adapterInfo;
  const results: PeerCaseResult[] = [];
  for (const c of spec.cases) results.push(await timeCase(tf, c, spec));
  return {
    peer: { name: 'tfjs-webgpu', status: 'ok', detail: `TF.js ${version}, backend ${tf.getBackend()}, ${spec.backend} (${spec.featureLevel})`, info: { version, adapterInfo: adapterInfo ?? null } },
    results,
  };
}

function unavailable(spec: PeerSpec, detail: string): PeerOutput {
  return { peer: { name: 'tfjs-webgpu', status: 'unavailable', detail }, results: spec.cases.map((c) => ({ name: c.name, status: 'failed', medianMs: null })) };
}

async function timeCase(tf: Tf, c: PeerMatmulCase, spec: PeerSpec): Promise<PeerCaseResult> {
  const a = tf.randomUniform(c.a);
  const b = tf.randomUniform(c.b);
  // A 1x1 slice read back forces completion without timing a large readback.
  const once = async (repeats: number) => {
    let last: TfCore.Tensor | undefined;
    for (let r = 0; r < repeats; r++) {
      last?.dispose();
      last = tf.matMul(a, b, c.transA, c.transB);
    }
    const corner = tf.slice(last!, [0, 0], [1, 1]);
    await corner.data();
    corner.dispose();
    last!.dispose();
  };
  try {
    let warmMs = 0;
    for (let i = 0; i < Math.max(1, spec.warmup); i++) {
      const t0 = performance.now();
      await once(1);
      warmMs = performance.now() - t0;
      if (i === 0 && spec.maxRunS > 0 && warmMs > spec.maxRunS * 1000) {
        return { name: c.name, status: 'skipped', medianMs: null, note: `one run took ${(warmMs / 1000).toFixed(1)} s, over --max-run-s ${spec.maxRunS}` };
      }
    }
    const minTrial = spec.minTrialMs ?? 20;
    const repeats = warmMs < minTrial ? Math.min(100, Math.ceil(minTrial / Math.max(warmMs, 0.05))) : 1;
    const trialsMs: number[] = [];
    for (let t = 0; t < spec.trials; t++) {
      const t0 = performance.now();
      await once(repeats);
      trialsMs.push((performance.now() - t0) / repeats);
    }
    return { name: c.name, status: 'ok', medianMs: median(trialsMs), trialsMs };
  } catch (err) {
    return { name: c.name, status: 'failed', medianMs: null, note: err instanceof Error ? err.message : String(err) };
  } finally {
    a.dispose();
    b.dispose();
  }
}
