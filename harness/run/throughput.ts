// Remembers the sustained GFLOP/s of finished runs per adapter, so the next run can print
// an ETA before it starts (~/.cache/lplr/throughput.json, written atomically).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AdapterDescription } from '../../src/gpu/device.js';

function file(): string {
  return path.join(process.env.LPLR_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'lplr'), 'throughput.json');
}

export function adapterKey(info: AdapterDescription): string {
  return [info.backend, info.vendor, info.architecture, info.device, info.description].join('|');
}

function readAll(): Record<string, Record<string, number>> {
  try {
    return JSON.parse(fs.readFileSync(file(), 'utf8'));
  } catch {
    return {};
  }
}

/**
 * The workload key: kind and the order of magnitude of the work per epoch. Small runs are bound by
 * dispatch latency, not arithmetic, so a tiny run's GFLOP/s says nothing about a paper-scale one
 * (a tiny fig1 at 0.3 GFLOP/s once gave the default preset an up-front ETA of 3h44m for 6 minutes).
 */
export function workloadKey(kind: string, flopsPerEpoch: number): string {
  return Number.isFinite(flopsPerEpoch) && flopsPerEpoch > 0 ? `${kind}@1e${Math.round(Math.log10(flopsPerEpoch))}` : kind;
}

/** Last measured GFLOP/s for this adapter and workload key (see workloadKey). */
export function knownThroughput(info: AdapterDescription, kind: string): number | undefined {
  const v = readAll()[adapterKey(info)]?.[kind];
  return typeof v === 'number' && v > 0 ? v : undefined;
}

export function recordThroughput(info: AdapterDescription, kind: string, gflops: number): void {
  if (!(gflops > 0) || !Number.isFinite(gflops)) return;
  try {
    const all = readAll();
    const key = adapterKey(info);
    all[key] = { ...all[key], [kind]: gflops };
    fs.mkdirSync(path.dirname(file()), { recursive: true });
    const tmp = `${file()}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(all, null, 1));
    fs.renameSync(tmp, file());
  } catch {
    // A read-only cache only costs the ETA of the next run.
  }
}
