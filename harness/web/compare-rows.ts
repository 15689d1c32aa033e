// Row-by-row comparison of two metric streams of a mini-batch run (Figure 3): every numeric
// field of every row kind, step rows matched by step number and the other kinds by epoch,
// reduced to the largest relative difference per (kind, field) and where it occurs. Which
// fields count toward pass or fail is the caller's choice; the rest are reported. Pure
// functions, no platform dependencies.
import type { MetricRow } from '../../src/metrics/schema.js';
import { summarizeRun, type SummaryConfig } from '../analysis/summary.js';
import { relativeDifference, type FitNumbers } from './compare.js';

export interface FieldDifference {
  /** Row kind: 'step', 'epoch', 'eval', 'fullgrad', ... */
  kind: string;
  field: string;
  /** Largest relative difference over the rows both streams have (∞ when one side lacks the field). */
  value: number;
  /** Step (step rows) or epoch (other kinds) where it first occurs; NaN when no rows were compared. */
  at: number;
  /** Rows of this kind compared. */
  rows: number;
  /** Step or epoch of the first row whose difference exceeds the tolerance given to compareRows (null: none does). */
  firstAbove: number | null;
  /** Whether it counts toward pass or fail. */
  judged: boolean;
}

export interface RowsComparison {
  fields: FieldDifference[];
  /** Rows present on one side only, e.g. 'step 12 (Node only)'. */
  unmatched: string[];
  /** Rows per kind on each side. */
  counts: Record<string, { a: number; b: number }>;
}

/** Fields that identify a row or measure wall-clock time: never compared as numbers. */
const NOT_COMPARED = new Set(['kind', 'step', 'epoch', 'timeMs']);

/** The order kinds are listed in; others follow alphabetically. */
const KIND_ORDER = ['step', 'epoch', 'eval', 'fullgrad'];

function position(row: MetricRow): number {
  return row.kind === 'step' ? row.step : (row as { epoch: number }).epoch;
}

function keyed(rows: readonly MetricRow[]): Map<string, MetricRow> {
  const out = new Map<string, MetricRow>();
  for (const r of rows) if (r.kind !== 'header') out.set(`${r.kind} ${position(r)}`, r);
  return out;
}

function numericFields(row: MetricRow): string[] {
  return Object.entries(row)
    .filter(([k, v]) => !NOT_COMPARED.has(k) && typeof v === 'number')
    .map(([k]) => k);
}

/**
 * Compare the rows of streams a and b. `judged` lists, per kind, the fields whose differences
 * count toward pass or fail (FieldDifference.judged); `tolerance` marks where each field first
 * exceeds it (where two runs start to drift apart).
 */
export function compareRows(a: readonly MetricRow[], b: readonly MetricRow[], judged: Readonly<Record<string, readonly string[]>>, tolerance = Infinity): RowsComparison {
  const ka = keyed(a);
  const kb = keyed(b);
  const byField = new Map<string, FieldDifference>();
  const counts: Record<string, { a: number; b: number }> = {};
  for (const r of ka.values()) (counts[r.kind] ??= { a: 0, b: 0 }).a++;
  for (const r of kb.values()) (counts[r.kind] ??= { a: 0, b: 0 }).b++;
  const unmatched: string[] = [];
  const matched = new Map<string, number>();
  const sorted = [...ka.entries()].sort((x, y) => position(x[1]) - position(y[1]));
  for (const [key, ra] of sorted) {
    const rb = kb.get(key);
    if (!rb) {
      unmatched.push(`${key} (Node only)`);
      continue;
    }
    matched.set(ra.kind, (matched.get(ra.kind) ?? 0) + 1);
    const fields = new Set([...numericFields(ra), ...numericFields(rb)]);
    for (const field of fields) {
      const id = `${ra.kind}.${field}`;
      let d = byField.get(id);
      if (!d) {
        d = { kind: ra.kind, field, value: 0, at: NaN, rows: 0, firstAbove: null, judged: judged[ra.kind]?.includes(field) ?? false };
        byField.set(id, d);
      }
      const va = (ra as unknown as Record<string, unknown>)[field];
      const vb = (rb as unknown as Record<string, unknown>)[field];
      const diff = typeof va === 'number' && typeof vb === 'number' ? relativeDifference(va, vb) : Infinity;
      if (d.firstAbove === null && !(diff <= tolerance)) d.firstAbove = position(ra);
      if (Number.isNaN(d.at) || diff > d.value) {
        d.value = diff;
        d.at = position(ra);
      }
    }
  }
  for (const [key, rb] of kb) if (!ka.has(key)) unmatched.push(`${key} (browser only)`);
  for (const d of byField.values()) d.rows = matched.get(d.kind) ?? 0;
  const rank = (kind: string) => {
    const i = KIND_ORDER.indexOf(kind);
    return i >= 0 ? i : KIND_ORDER.length;
  };
  const fields = [...byField.values()].sort((x, y) => rank(x.kind) - rank(y.kind) || x.kind.localeCompare(y.kind));
  return { fields, unmatched, counts };
}

/**
 * The fits of Figure 3: the EMA-smoothed mini-batch loss against step (ρ per step) and the
 * smoothed PL plot (log-log slope), with L* = the smallest smoothed loss. NaN without step rows.
 */
export function smoothedFitNumbers(rows: readonly MetricRow[], config: SummaryConfig = {}): FitNumbers {
  const s = summarizeRun(rows, config);
  const min = s.smoothed?.lStar.min;
  return {
    rho: min?.semiLog.rho ?? NaN,
    rhoR2: min?.semiLog.r2 ?? NaN,
    slope: min?.logLog.slope ?? NaN,
    slopeR2: min?.logLog.r2 ?? NaN,
    finalLoss: s.final.loss,
  };
}
