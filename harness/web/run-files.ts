// The three files of a run directory as text, built the way the CLI writes them
// (metrics.jsonl: one formatMetricRow line per row; summary.json and config.json:
// JSON.stringify(value, null, 2) plus a newline), so a run downloaded from the browser page
// is a run directory that `lplr report DIR` reads. Platform neutral (Web Crypto for the hash).
import type { AdapterDescription, GpuLimitsInUse } from '../../src/gpu/device.js';
import { formatMetricRow, METRICS_SCHEMA_VERSION, type MetricRow } from '../../src/metrics/schema.js';
import { summarizeRun, type RunSummary } from '../analysis/summary.js';
import type { VerdictThresholds } from '../analysis/verdicts.js';
import { cifarIdentity, type CifarRunConfig } from '../experiments/cifar-config.js';
import { mlpIdentity, type MlpRunConfig } from '../experiments/mlp-config.js';
import { cifarTiming, type CifarTiming } from '../experiments/cifar-train.js';

// The page's summary.json uses the CLI's own throughput computation (cifar-train.ts is platform neutral).
export { cifarTiming, type CifarTiming } from '../experiments/cifar-train.js';

export const RUN_FILE_NAMES = ['metrics.jsonl', 'summary.json', 'config.json'] as const;
export type RunFileName = (typeof RUN_FILE_NAMES)[number];

export function metricsJsonl(rows: readonly MetricRow[]): string {
  return rows.map((r) => `${formatMetricRow(r)}\n`).join('');
}

export function jsonFile(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The CLI's summary: the run's fit window, EMA β and verdict thresholds (--threshold). */
export function runSummary(
  rows: readonly MetricRow[],
  config: { fitWindow?: [number, number]; emaBeta?: number; thresholds?: VerdictThresholds; epochs?: number; lstarExtend?: number },
): RunSummary {
  // An extended run (--lstar-extend k ≥ 2) is analysed over epochs 0..E, as the CLI does.
  const extended = config.epochs !== undefined && (config.lstarExtend ?? 0) >= 2 ? { horizon: config.epochs, lstarExtend: config.lstarExtend } : {};
  return summarizeRun(rows, { fitWindow: config.fitWindow, emaBeta: config.emaBeta, thresholds: config.thresholds, ...extended });
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
  const cifar = d.config.kind === 'cifar';
  return {
    experiment: cifar ? 'fig3' : 'mlp',
    config: d.config,
    configHash: d.config.kind === 'cifar' ? await cifarConfigHash(d.config) : await mlpConfigHash(d.config),
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
    ...(cifar ? d.configFields : { gflopPerEpoch: d.gflopPerEpoch }),
  };
}

export async function runFiles(rows: readonly MetricRow[], description: RunDescription): Promise<Record<RunFileName, string>> {
  return {
    'metrics.jsonl': metricsJsonl(rows),
    'summary.json': jsonFile(runSummaryDocument(rows, description.config)),
    'config.json': jsonFile(await configDocument(description)),
  };
}
