// --linearized in the CLI's outputs: the report sections (registered with harness/run/reports)
// and the per-run numbers a set's summary.json carries (fig4, fig5; fig5 with its width verdict).
import { linearizedWidthVerdict, summarizeLinearized, type LinearizedSummary } from '../analysis/linearized-summary.js';
import type { MetricRow } from '../../src/metrics/schema.js';
import type { RunSummary } from '../analysis/summary.js';
import { linearizedSection, linearizedSetSection } from '../report/linearized.js';
import { registerSetSections, registerSingleRunSections, type SetRun } from '../run/reports.js';

function linearizedOf(rows: readonly MetricRow[], summary: RunSummary | undefined): LinearizedSummary | undefined {
  return summary?.linearized ?? summarizeLinearized(rows);
}

registerSingleRunSections((rows, summary) => {
  const lin = linearizedOf(rows, summary);
  return lin ? [linearizedSection(lin, { trainingMs: summary.final?.timeMs, observedRate: summary.rate })] : [];
});

registerSetSections((kind, runs) => linearizedSetSection(kind, runs.map((r) => ({ label: r.label, width: r.config.width, linearized: linearizedOf(r.rows, r.summary), observedRate: r.summary?.rate }))));

/** The `linearized` entry of a set's summary.json: per run t*, deviations, final losses, and (fig5) the width verdict. */
export function linearizedSetSummary(kind: string, runs: readonly SetRun[]): { linearized?: unknown } {
  const per = runs
    .map((r) => ({ label: r.label, width: r.config.width, s: linearizedOf(r.rows, r.summary) }))
    .filter((x): x is { label: string; width: number; s: LinearizedSummary } => x.s !== undefined);
  if (per.length === 0) return {};
  const runsOut = per.map(({ label, width, s }) => ({
    label,
    width,
    samples: s.samples,
    tStar: s.tStar,
    largestDeviation: s.largestDeviation,
    deviationUntilHalved: s.deviationUntilHalved,
    predictedFinalLoss: s.predictedFinalLoss,
    observedFinalLoss: s.observedFinalLoss,
    slowFraction: s.slowFraction,
    etaLambdaMax: s.etaLambdaMax,
    kernelReading: s.kernelRate?.reading ?? null,
    kernelQ: s.kernelRate?.q ?? null,
  }));
  if (kind !== 'fig5') return { linearized: { runs: runsOut } };
  const judged = linearizedWidthVerdict(per.map((x) => ({ width: x.width, largestDeviation: x.s.largestDeviation, tStar: x.s.tStar })));
  return { linearized: { runs: runsOut, verdict: judged.verdict ?? null, note: judged.note, spearman: judged.spearman } };
}
