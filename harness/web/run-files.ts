// The three files of a run directory as text, built the way the CLI writes them
// (metrics.jsonl: one formatMetricRow line per row; summary.json and config.json:
// JSON.stringify(value, null, 2) plus a newline), so a run downloaded from the browser page
// is a run directory that `lplr report DIR` reads. Platform neutral (Web Crypto for the hash).
import type { AdapterDescription, GpuLimitsInUse } from '../../src/gpu/device.js';
import { formatMetricRow, isStepRow, METRICS_SCHEMA_VERSION, type MetricRow } from '../../src/metrics/schema.js';
import { summarizeRun, type RunSummary } from '../../src/metrics/summary.js';
import { cifarIdentity, type CifarRunConfig } from '../experiments/cifar-config.js';
import { mlpIdentity, type MlpRunConfig } from '../experiments/mlp-config.js';

export const RUN_FILE_NAMES = ['metrics.jsonl', 'summary.json', 'config.json'] as const;
export type RunFileName = (typeof RUN_FILE_NAMES)[number];

export function metricsJsonl(rows: readonly MetricRow[]): string {
  return rows.map((r) => `${formatMetricRow(r)}\n`).join('');
}

export function jsonFile(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function runSummary(rows: readonly MetricRow[], config: { fitWindow?: [number, number] }): RunSummary {
  return summarizeRun(rows, { fitWindow: config.fitWindow });
}

/** Figure 3's mini-batch throughput, as summary.json's `timing` (the CLI's cifarTiming). */
export interface CifarTiming {
  msPerStep: number;
  imagesPerSecond: number;
  intervals: number;
  wallSeconds: number;
}

/**
 * The same computation as harness/experiments/cifar-lab.ts's cifarTiming, which the page cannot
 * import (that module writes run directories with node:fs); test/web-fig3.test.ts keeps the two
 * equal. Per epoch, the time from its first to its last step row (step 0, which compiles the
 * pipelines, left out) over the steps between them.
 */
export function cifarTiming(rows: readonly MetricRow[], batchSize: number): CifarTiming {
  const byEpoch = new Map<number, number[]>();
  for (const r of rows.filter(isStepRow).sort((a, b) => a.step - b.step)) {
    if (r.step === 0) continue;
    const list = byEpoch.get(r.epoch) ?? [];
    list.push(r.timeMs);
    byEpoch.set(r.epoch, list);
  }
  let spanMs = 0;
  let intervals = 0;
  for (const times of byEpoch.values()) {
    if (times.length < 2) continue;
    spanMs += times[times.length - 1] - times[0];
    intervals += times.length - 1;
  }
  const ms = intervals > 0 ? spanMs / intervals : NaN;
  const last = rows.reduce((m, r) => Math.max(m, typeof (r as { timeMs?: unknown }).timeMs === 'number' ? (r as { timeMs: number }).timeMs : 0), 0);
  return { msPerStep: ms, imagesPerSecond: ms > 0 ? (1000 * batchSize) / ms : NaN, intervals, wallSeconds: last / 1000 };
}

/** summary.json's content: the CLI's summary of the run's kind. */
export function runSummaryDocument(rows: readonly MetricRow[], config: MlpRunConfig | CifarRunConfig): RunSummary & { timing?: CifarTiming } {
  const summary = runSummary(rows, config);
  return config.kind === 'cifar' ? { ...summary, timing: cifarTiming(rows, config.batchSize) } : summary;
}

/**
 * Stable JSON with sorted keys and undefined members left out. The same rule as
 * harness/run/run-dir.ts's canonicalJson (which needs node:crypto for its hash); a test keeps
 * the two hashes equal.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The run's identity hash, equal to the CLI's configHash(mlpIdentity(config)). */
export async function mlpConfigHash(config: MlpRunConfig): Promise<string> {
  return (await sha256Hex(canonicalJson(mlpIdentity(config)))).slice(0, 16);
}

/** A fig3 run's identity hash, equal to the CLI's configHash(cifarIdentity(config)). */
export async function cifarConfigHash(config: CifarRunConfig): Promise<string> {
  return (await sha256Hex(canonicalJson(cifarIdentity(config)))).slice(0, 16);
}

export interface RunDescription {
  config: MlpRunConfig | CifarRunConfig;
  adapter: AdapterDescription;
  limits: GpuLimitsInUse;
  features: string[];
  kernels: Record<string, string>;
  version: string;
  /** Where the run happened, e.g. the browser's user agent. */
  platform: string;
  startedAt: string;
  data: { source: string; samples: number; features: number };
  parameters: number;
  gflopPerEpoch: number;
  /** Fields of the run's kind that replace or follow the common ones (fig3: data files, steps, GFLOP per step). */
  configFields?: Record<string, unknown>;
}

/**
 * config.json: the fields the CLI writes (describeRun for the MLP figures, runCifar's for
 * fig3), with `browser` where the CLI has `node`.
 */
export async function configDocument(d: RunDescription): Promise<Record<string, unknown>> {
  if (d.config.kind === 'cifar') {
    return {
      experiment: 'fig3',
      config: d.config,
      configHash: await cifarConfigHash(d.config),
      metricsSchemaVersion: METRICS_SCHEMA_VERSION,
      adapter: d.adapter,
      limits: d.limits,
      features: d.features,
      kernels: d.kernels,
      version: d.version,
      gitCommit: null,
      browser: d.platform,
      startedAt: d.startedAt,
      data: d.data,
      parameters: d.parameters,
      ...d.configFields,
    };
  }
  return {
    experiment: 'mlp',
    config: d.config,
    configHash: await mlpConfigHash(d.config),
    metricsSchemaVersion: METRICS_SCHEMA_VERSION,
    adapter: d.adapter,
    limits: d.limits,
    features: d.features,
    kernels: d.kernels,
    version: d.version,
    gitCommit: null,
    browser: d.platform,
    startedAt: d.startedAt,
    data: d.data,
    parameters: d.parameters,
    gflopPerEpoch: d.gflopPerEpoch,
  };
}

export async function runFiles(rows: readonly MetricRow[], description: RunDescription): Promise<Record<RunFileName, string>> {
  return {
    'metrics.jsonl': metricsJsonl(rows),
    'summary.json': jsonFile(runSummaryDocument(rows, description.config)),
    'config.json': jsonFile(await configDocument(description)),
  };
}
