// Metric rows: one JSON object per line of `metrics.jsonl`, each tagged with `kind`.
// The training loop writes them, and the summary, the HTML report and the browser page read
// them. Field meanings are documented in docs/metrics.md. No Node imports: this runs in
// browsers too.
import { DataError, closest } from '../errors.js';

/** Bump when a field changes meaning or a required field is added. */
export const METRICS_SCHEMA_VERSION = 1;

/**
 * Optional first line of a metrics file: names the schema version the file was written with,
 * plus free-form run information (config, engine version, adapter...).
 */
export interface HeaderRow {
  kind: 'header';
  schemaVersion: number;
  [key: string]: unknown;
}

/**
 * Row t (t = 0..E, so E+1 rows for E updates) holds the metrics at θ_t, before update t:
 * L_t, ‖∇L(θ_t)‖² (the gradient update t uses), ‖θ_t − θ_0‖, training accuracy, the learning
 * rate of update t and the wall time since the run started.
 */
export interface EpochRow {
  kind: 'epoch';
  epoch: number;
  loss: number;
  gradNormSq: number;
  drift: number;
  acc: number;
  lr: number;
  timeMs: number;
  testLoss?: number;
  testAcc?: number;
  /** Mini-batch runs: updates in this epoch (the row then holds means over them). */
  steps?: number;
  /** Mini-batch runs: ½·wd·‖θ‖², kept out of the reported loss. */
  weightDecayTerm?: number;
}

/** One mini-batch update: the mini-batch loss and squared gradient norm before the update. */
export interface StepRow {
  kind: 'step';
  step: number;
  epoch: number;
  loss: number;
  gradNormSq: number;
  lr: number;
  timeMs: number;
  /** ½·wd·‖θ‖² at this step, kept out of the reported loss. */
  weightDecayTerm?: number;
}

/** Held-out evaluation at θ_epoch. */
export interface EvalRow {
  kind: 'eval';
  epoch: number;
  testLoss: number;
  testAcc: number;
}

/** Full-batch loss and gradient measured during a mini-batch run (no update is made). */
export interface FullGradRow {
  kind: 'fullgrad';
  epoch: number;
  loss: number;
  gradNormSq: number;
}

/** Rows whose fields another module defines; only `kind` and `epoch` are fixed here. */
export interface OpenRow<K extends string> {
  kind: K;
  epoch: number;
  [key: string]: number | string;
}

export type NtkRow = OpenRow<'ntk'>;
export type HessianRow = OpenRow<'hessian'>;
/** The linearized model's prediction (--linearized): per-epoch loss, Gauss nodes, and how it was made. */
export type LinearizedKind = 'linearized' | 'linearized-node' | 'linearized-info';
export type LinearizedOpenRow = OpenRow<LinearizedKind>;

export type MetricRow = HeaderRow | EpochRow | StepRow | EvalRow | FullGradRow | NtkRow | HessianRow | LinearizedOpenRow;
export type MetricKind = MetricRow['kind'];

export const METRIC_KINDS: readonly MetricKind[] = ['header', 'epoch', 'step', 'eval', 'fullgrad', 'ntk', 'hessian', 'linearized', 'linearized-node', 'linearized-info'];

/** Kinds whose fields another module defines (numbers or strings, checked loosely). */
const OPEN_KINDS: ReadonlySet<string> = new Set(['ntk', 'hessian', 'linearized', 'linearized-node', 'linearized-info']);

// Required numeric fields per kind (optional ones listed separately). JSON has no NaN or
// Infinity: JSON.stringify writes them as null, so the parser reads null back as NaN.
const REQUIRED: Record<Exclude<MetricKind, 'header' | 'ntk' | 'hessian' | LinearizedKind>, readonly string[]> = {
  epoch: ['epoch', 'loss', 'gradNormSq', 'drift', 'acc', 'lr', 'timeMs'],
  step: ['step', 'epoch', 'loss', 'gradNormSq', 'lr', 'timeMs'],
  eval: ['epoch', 'testLoss', 'testAcc'],
  fullgrad: ['epoch', 'loss', 'gradNormSq'],
};
const OPTIONAL: Partial<Record<MetricKind, readonly string[]>> = {
  epoch: ['testLoss', 'testAcc', 'steps', 'weightDecayTerm'],
  step: ['weightDecayTerm'],
};

/** Serialize one row as a JSON line (no trailing newline). Non-finite numbers become null. */
export function formatMetricRow(row: MetricRow): string {
  return JSON.stringify(row);
}

/**
 * Validate one parsed JSON value as a metric row. `where` names the source (e.g.
 * "runs/x/metrics.jsonl line 3") for the error message.
 */
export function parseMetricRow(value: unknown, where = 'metric row'): MetricRow {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataError(`${where} is not a JSON object. Each line of metrics.jsonl must be one object with a "kind" field.`);
  }
  const obj = value as Record<string, unknown>;
  const kind = obj.kind;
  if (typeof kind !== 'string' || !(METRIC_KINDS as readonly string[]).includes(kind)) {
    const hint = typeof kind === 'string' ? closest(kind, METRIC_KINDS) : undefined;
    throw new DataError(
      `${where} has kind ${JSON.stringify(kind)}, which schema version ${METRICS_SCHEMA_VERSION} does not know` +
        (hint ? ` (did you mean '${hint}'?)` : '') +
        `. Known kinds: ${METRIC_KINDS.join(', ')}; a file from a newer lplr needs that version to read it.`,
    );
  }
  if (kind === 'header') {
    if (typeof obj.schemaVersion !== 'number') {
      throw new DataError(`${where} is a header without a numeric "schemaVersion". Write { "kind": "header", "schemaVersion": ${METRICS_SCHEMA_VERSION} }.`);
    }
    if (obj.schemaVersion > METRICS_SCHEMA_VERSION) {
      throw new DataError(
        `${where} was written with metrics schema version ${obj.schemaVersion}, newer than this reader's ${METRICS_SCHEMA_VERSION}. Read it with the lplr version that wrote it.`,
      );
    }
    return obj as HeaderRow;
  }
  const out: Record<string, number | string> = { kind };
  if (OPEN_KINDS.has(kind)) {
    out.epoch = readNumber(obj, 'epoch', where, kind);
    for (const [key, v] of Object.entries(obj)) {
      if (key === 'kind' || key === 'epoch') continue;
      if (typeof v === 'string' || typeof v === 'number') out[key] = v;
      else if (v === null) out[key] = NaN;
      else throw new DataError(`${where}: field "${key}" of a '${kind}' row must be a number or a string, found ${typeof v}. Flatten nested values into separate fields.`);
    }
    return out as MetricRow;
  }
  for (const key of REQUIRED[kind as keyof typeof REQUIRED]) out[key] = readNumber(obj, key, where, kind);
  for (const key of OPTIONAL[kind as MetricKind] ?? []) {
    if (obj[key] !== undefined) out[key] = readNumber(obj, key, where, kind);
  }
  return out as MetricRow;
}

function readNumber(obj: Record<string, unknown>, key: string, where: string, kind: string): number {
  const v = obj[key];
  if (v === null) return NaN;
  if (typeof v !== 'number') {
    throw new DataError(
      `${where}: a '${kind}' row needs a number in "${key}", found ${v === undefined ? 'nothing' : JSON.stringify(v)}. ` +
        `See docs/metrics.md for the fields of each kind.`,
    );
  }
  return v;
}

/** Parse the text of a metrics.jsonl file; blank lines are skipped. */
export function parseMetricsJsonl(text: string, source = 'metrics.jsonl'): MetricRow[] {
  const rows: MetricRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      // A run killed mid-write leaves a partial last line; name it so the user knows why.
      const last = lines.slice(i + 1).every((l) => l.trim() === '');
      throw new DataError(
        `${source} line ${i + 1} is not valid JSON${last ? ' (probably cut off when the run stopped)' : ''}. ` +
          `Delete that line or rerun the experiment.`,
      );
    }
    rows.push(parseMetricRow(value, `${source} line ${i + 1}`));
  }
  return rows;
}

export function isEpochRow(row: MetricRow): row is EpochRow {
  return row.kind === 'epoch';
}
export function isStepRow(row: MetricRow): row is StepRow {
  return row.kind === 'step';
}
export function isEvalRow(row: MetricRow): row is EvalRow {
  return row.kind === 'eval';
}
export function isFullGradRow(row: MetricRow): row is FullGradRow {
  return row.kind === 'fullgrad';
}
