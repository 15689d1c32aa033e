// The theory check (paper §4-5) from a run's `ntk` and `hessian` rows: does each assumption of
// Theorems 5.1 and 5.4 hold along the run, by stated thresholds, and how loose are the bounds?
// Predicted vs observed per-epoch contraction, the slack of the PL bound, NTK stability and
// drift. Row fields are documented in docs/metrics.md ("Theory rows"). No Node imports.
import { ConfigError, closest } from '../../src/errors.js';
import { fitLogGap, type LogGapFit } from '../../src/metrics/fit.js';
import type { EpochRow, MetricRow } from '../../src/metrics/schema.js';
import { judged, type Verdict } from './verdicts.js';

export interface TheoryThresholds {
  /** NTK cross-check: max |‖∇L‖² − rᵀKr/n²| / ‖∇L‖² over checks. */
  identityRelErrMax: number;
  /** Positive definiteness: λ_min(K_t)/λ_max(K_t) at every check must be at least this (f32 resolution). */
  pdRelMin: number;
  /** Stability: λ_min(K_t)/λ_min(K_0) must stay ≥ this ... */
  lambdaMinRatioMin: number;
  /** ... and ‖K_t − K_0‖_F / ‖K_0‖_F ≤ this. */
  kernelDriftMax: number;
  /** PL inequality with μ_t = λ_min(K_t)/n: measured ratio / μ_t ≥ 1 − this (rounding allowance). */
  plTolerance: number;
  /** Descent-lemma step condition: η·β < this. */
  etaBetaMax: number;
}

export const DEFAULT_THEORY_THRESHOLDS: Readonly<TheoryThresholds> = Object.freeze({
  identityRelErrMax: 1e-4,
  pdRelMin: 1e-6,
  lambdaMinRatioMin: 0.5,
  kernelDriftMax: 0.5,
  plTolerance: 1e-3,
  etaBetaMax: 2,
});

export function resolveTheoryThresholds(overrides: Partial<TheoryThresholds> = {}): TheoryThresholds {
  const out: TheoryThresholds = { ...DEFAULT_THEORY_THRESHOLDS };
  const known = Object.keys(DEFAULT_THEORY_THRESHOLDS);
  for (const [key, value] of Object.entries(overrides)) {
    if (!known.includes(key)) {
      const hint = closest(key, known);
      throw new ConfigError(`Unknown theory threshold '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}. Known: ${known.join(', ')}.`);
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new ConfigError(`Theory threshold '${key}' must be a finite number, got ${String(value)}.`);
    out[key as keyof TheoryThresholds] = value;
  }
  return out;
}

/** One NTK check as read from a `kind: "ntk"` row (see docs/metrics.md). */
export interface NtkPoint {
  epoch: number;
  samples: number;
  /** 1 when the NTK subset is the whole training set (then GD runs on exactly this loss). */
  coversTrainingSet: number;
  loss: number;
  gradNormSq: number;
  quadForm: number;
  identityRelErr: number;
  lambdaMin: number;
  lambdaMax: number;
  lanczosConverged: number;
  muBound: number;
  muBound0: number;
  plRatio: number;
  slack: number;
  slackLocal: number;
  lambdaMinRatio: number;
  kernelDrift: number;
  drift: number;
  driftRel: number;
}

/** One curvature check as read from a `kind: "hessian"` row. */
export interface HessianPoint {
  epoch: number;
  hessianMax: number;
  hessianMinRitz: number;
  gaussNewtonMax: number;
  beta: number;
  lr: number;
  etaBeta: number;
  predictedContraction: number;
}

const NTK_FIELDS: readonly (keyof NtkPoint)[] = [
  'epoch', 'samples', 'coversTrainingSet', 'loss', 'gradNormSq', 'quadForm', 'identityRelErr', 'lambdaMin', 'lambdaMax',
  'lanczosConverged', 'muBound', 'muBound0', 'plRatio', 'slack', 'slackLocal', 'lambdaMinRatio', 'kernelDrift', 'drift', 'driftRel',
];
const HESSIAN_FIELDS: readonly (keyof HessianPoint)[] = ['epoch', 'hessianMax', 'hessianMinRitz', 'gaussNewtonMax', 'beta', 'lr', 'etaBeta', 'predictedContraction'];

function pick<T>(row: MetricRow, fields: readonly (keyof T)[]): T {
  const out: Record<string, number> = {};
  const rec = row as unknown as Record<string, unknown>;
  for (const f of fields) {
    const v = rec[f as string];
    out[f as string] = typeof v === 'number' ? v : NaN;
  }
  return out as T;
}

/** The contraction factor per GD step that Theorem 5.4 guarantees: 1 − η·μ·(2 − η·β). */
export function predictedContraction(lr: number, mu: number, beta: number): number {
  return 1 - lr * mu * (2 - lr * beta);
}

export interface RateComparison {
  /** Guaranteed per-epoch contraction with μ = min_t λ_min(K_t)/n and β = max_t β_t over the checks. */
  predicted: number;
  mu: number;
  beta: number;
  lr: number;
  /** The same with the initial kernel's μ_0 = λ_min(K_0)/n. */
  predictedWithMu0: number;
  /** Observed per-epoch contraction of the loss (L* = 0), fitted on a semi-log scale. */
  observed: number;
  observedFit: LogGapFit;
  /** Which loss the observed rate comes from. */
  observedFrom: 'training loss (every epoch)' | 'NTK-subset loss (at the checks)';
  /** ln ρ_observed / ln ρ_predicted: how many times faster than guaranteed the loss shrinks (≥ 1 when the bound holds). */
  speedupFactor: number;
  /** The bound holds: observed ≤ predicted. NaN-free only when both are known. */
  boundHolds: boolean;
}

export interface IntervalCheck {
  from: number;
  to: number;
  /** L(to)/L(from). */
  observed: number;
  /** (1 − η·μ·(2 − η·β))^(to − from) with μ = min, β = max of the two ends. */
  bound: number;
  holds: boolean;
}

export interface TheorySummary {
  checks: number;
  samples: number;
  coversTrainingSet: boolean;
  thresholds: TheoryThresholds;
  ntk: NtkPoint[];
  hessian: HessianPoint[];
  initial: { lambdaMin: number; lambdaMax: number; muBound: number };
  final: { epoch: number; drift: number; driftRel: number; kernelDrift: number; lambdaMinRatio: number; slack: number };
  /** Measured PL ratio / (λ_min(K_0)/n) over the checks: how loose the bound of Theorem 5.1 is. */
  slack: { min: number; median: number; max: number };
  rate: RateComparison | null;
  intervals: IntervalCheck[];
  verdicts: Verdict[];
  /** Plain-language findings with the numbers. */
  findings: string[];
}

function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(digits - 1);
  return String(Number(x.toPrecision(digits)));
}

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

// "At every check" needs every check: one non-finite value (or none at all) makes the extreme NaN,
// and a verdict on NaN is inconclusive, never a pass.
const finiteMin = (xs: number[]) => (xs.length > 0 && xs.every(Number.isFinite) ? Math.min(...xs) : NaN);
const finiteMax = (xs: number[]) => (xs.length > 0 && xs.every(Number.isFinite) ? Math.max(...xs) : NaN);

/** A verdict whose outcome is inconclusive when any of its values is not finite. */
function checked(v: Omit<Verdict, 'outcome'>): Verdict {
  const outcome = judged(v.passed, ...Object.values(v.values));
  return { ...v, outcome, passed: outcome === 'pass', ...(outcome === 'inconclusive' && !v.note ? { note: 'a measured value is not finite' } : {}) };
}

/** Summarize a run's theory rows; null when it has no `ntk` rows (checks were off). */
export function summarizeTheory(rows: readonly MetricRow[], opts: { thresholds?: Partial<TheoryThresholds> } = {}): TheorySummary | null {
  const th = resolveTheoryThresholds(opts.thresholds);
  const ntk = rows.filter((r) => r.kind === 'ntk').map((r) => pick<NtkPoint>(r, NTK_FIELDS)).sort((a, b) => a.epoch - b.epoch);
  if (ntk.length === 0) return null;
  const hessian = rows.filter((r) => r.kind === 'hessian').map((r) => pick<HessianPoint>(r, HESSIAN_FIELDS)).sort((a, b) => a.epoch - b.epoch);
  const epochs = rows.filter((r): r is EpochRow => r.kind === 'epoch').sort((a, b) => a.epoch - b.epoch);
  const first = ntk[0];
  const last = ntk[ntk.length - 1];
  const covers = ntk.every((p) => p.coversTrainingSet === 1);
  const slacks = ntk.map((p) => p.slack);
  const verdicts: Verdict[] = [];
  const findings: string[] = [];

  // 1. The kernel is what backprop says it is.
  const idMax = finiteMax(ntk.map((p) => p.identityRelErr));
  verdicts.push(checked({
    name: 'NTK cross-check against backprop',
    passed: idMax <= th.identityRelErrMax,
    values: { maxRelError: idMax, checks: ntk.length },
    rule: `|‖∇L_S‖² − rᵀKr/|S|²| / ‖∇L_S‖² ≤ ${fmt(th.identityRelErrMax)} at every check`,
  }));

  // 2. Assumption 5.2, positive definiteness.
  const pdRel = ntk.map((p) => p.lambdaMin / p.lambdaMax);
  const pdMin = finiteMin(pdRel);
  const allConverged = ntk.every((p) => p.lanczosConverged === 1);
  verdicts.push(checked({
    name: 'NTK positive definite (Assumption 5.2)',
    passed: pdMin >= th.pdRelMin && allConverged,
    values: { minLambdaMin: finiteMin(ntk.map((p) => p.lambdaMin)), minRelative: pdMin },
    rule: `λ_min(K_t) ≥ ${fmt(th.pdRelMin)}·λ_max(K_t) at every check (below that f32 cannot tell λ_min from 0), with the eigensolver converged`,
    ...(allConverged ? {} : { note: 'the eigensolver did not converge at some check' }),
  }));

  // 3. Assumption 5.2, stability.
  const ratioMin = finiteMin(ntk.map((p) => p.lambdaMinRatio));
  const kdMax = finiteMax(ntk.map((p) => p.kernelDrift));
  verdicts.push(checked({
    name: 'NTK stable along the run (Assumption 5.2)',
    passed: ratioMin >= th.lambdaMinRatioMin && kdMax <= th.kernelDriftMax,
    values: { minLambdaMinRatio: ratioMin, maxKernelDrift: kdMax },
    rule: `λ_min(K_t)/λ_min(K_0) ≥ ${fmt(th.lambdaMinRatioMin)} and ‖K_t − K_0‖_F/‖K_0‖_F ≤ ${fmt(th.kernelDriftMax)} at every check`,
  }));

  // 4. Theorem 5.1 at each check with the current kernel (a mathematical identity if K is right).
  const localMin = finiteMin(ntk.map((p) => p.slackLocal));
  verdicts.push(checked({
    name: 'PL inequality with μ_t = λ_min(K_t)/|S| (Theorem 5.1)',
    passed: localMin >= 1 - th.plTolerance,
    values: { minRatioOverBound: localMin },
    rule: `‖∇L_S‖²/(2L_S) ≥ (1 − ${fmt(th.plTolerance)})·λ_min(K_t)/|S| at every check`,
  }));

  // 5. Theorem 5.4's step-size condition and the rate.
  let rate: RateComparison | null = null;
  const intervals: IntervalCheck[] = [];
  if (hessian.length > 0) {
    const betaMax = finiteMax(hessian.map((h) => h.beta));
    const lr = hessian[0].lr;
    const etaBeta = lr * betaMax;
    verdicts.push(checked({
      name: 'step size within the descent-lemma range (Theorem 5.4)',
      passed: etaBeta < th.etaBetaMax,
      values: { etaBeta, beta: betaMax, lr },
      rule: `η·β < ${fmt(th.etaBetaMax)} with β = max over checks of max(λ_max(H) Ritz estimate, λ_max(K)/|S|)`,
    }));
    const mu = finiteMin(ntk.map((p) => p.muBound));
    const predicted = predictedContraction(lr, mu, betaMax);
    const predictedWithMu0 = predictedContraction(lr, first.muBound0, betaMax);
    // Observed: every epoch's training loss when S is the training set, else L_S at the checks.
    const useEpochs = covers && epochs.length >= 2;
    const tt = useEpochs ? epochs.map((e) => e.epoch) : ntk.map((p) => p.epoch);
    const ll = useEpochs ? epochs.map((e) => e.loss) : ntk.map((p) => p.loss);
    const span: [number, number] = [first.epoch, last.epoch];
    const observedFit = fitLogGap(tt, ll, span);
    const observed = observedFit.rho;
    const speedupFactor = Math.log(observed) / Math.log(predicted);
    const boundHolds = Number.isFinite(observed) && Number.isFinite(predicted) && observed <= predicted;
    rate = {
      predicted,
      mu,
      beta: betaMax,
      lr,
      predictedWithMu0,
      observed,
      observedFit,
      observedFrom: useEpochs ? 'training loss (every epoch)' : 'NTK-subset loss (at the checks)',
      speedupFactor,
      boundHolds,
    };
    if (covers) {
      const betaAt = new Map(hessian.map((h) => [h.epoch, h.beta]));
      for (let i = 1; i < ntk.length; i++) {
        const a = ntk[i - 1];
        const b = ntk[i];
        const beta = Math.max(betaAt.get(a.epoch) ?? NaN, betaAt.get(b.epoch) ?? NaN);
        const q = predictedContraction(lr, Math.min(a.muBound, b.muBound), beta);
        const bound = q ** (b.epoch - a.epoch);
        const obs = b.loss / a.loss;
        intervals.push({ from: a.epoch, to: b.epoch, observed: obs, bound, holds: obs <= bound * (1 + 1e-6) });
      }
      const held = intervals.filter((iv) => iv.holds).length;
      verdicts.push(checked({
        name: 'linear-rate bound between checks (Theorem 5.4)',
        passed: intervals.length > 0 && held === intervals.length,
        values: { intervals: intervals.length, held },
        rule: 'L(t₂)/L(t₁) ≤ (1 − η·μ·(2 − η·β))^(t₂−t₁) between consecutive checks, with μ the smaller λ_min(K)/|S| and β the larger curvature of the two ends',
        ...(intervals.length === 0 ? { note: 'fewer than two checks' } : {}),
      }));
    }
    verdicts.push(checked({
      name: 'observed rate at least the guaranteed one (Theorem 5.4)',
      passed: boundHolds,
      values: { observed, predicted, speedupFactor },
      rule: `fitted per-epoch contraction ρ of the ${rate.observedFrom} (L* = 0, epochs ${span[0]}–${span[1]}) ≤ 1 − η·μ·(2 − η·β) with μ = min_t λ_min(K_t)/|S| and β as above`,
      ...(etaBeta >= 2 ? { note: 'η·β ≥ 2: the guarantee is vacuous (predicted contraction ≥ 1)' } : {}),
    }));
  }

  const slack = { min: finiteMin(slacks), median: median(slacks), max: finiteMax(slacks) };
  findings.push(
    `λ_min(K_0)/|S| = ${fmt(first.muBound0)} (|S| = ${first.samples}${covers ? ', the whole training set' : ', a subset of the training set'}); ` +
      `the measured PL ratio ‖∇L‖²/(2L) is ${fmt(slack.min)}× to ${fmt(slack.max)}× that bound (median ${fmt(slack.median)}×).`,
  );
  findings.push(
    `Across ${ntk.length} checks λ_min(K_t)/λ_min(K_0) ranged ${fmt(ratioMin)}–${fmt(finiteMax(ntk.map((p) => p.lambdaMinRatio)))}, ` +
      `‖K_t − K_0‖_F/‖K_0‖_F reached ${fmt(kdMax)}, and ‖θ_t − θ_0‖ reached ${fmt(last.drift)} (${fmt(100 * last.driftRel)}% of ‖θ_0‖).`,
  );
  if (rate) {
    findings.push(
      `Guaranteed per-epoch contraction 1 − ημ(2 − ηβ) = ${rate.predicted.toPrecision(8)} (η = ${fmt(rate.lr)}, μ = ${fmt(rate.mu)}, β = ${fmt(rate.beta)}); ` +
        `observed ${Number.isFinite(rate.observed) ? rate.observed.toPrecision(6) : 'n/a'} from the ${rate.observedFrom}: ` +
        (Number.isFinite(rate.speedupFactor) ? `the loss exponent shrinks ${fmt(rate.speedupFactor)}× faster than the bound guarantees.` : 'no factor (a rate is not finite).'),
    );
  }
  if (!covers) {
    findings.push('The NTK subset is smaller than the training set: GD minimizes the full training loss, so the rate comparison on the subset loss is indicative, not a test of Theorem 5.4.');
  }
  return {
    checks: ntk.length,
    samples: first.samples,
    coversTrainingSet: covers,
    thresholds: th,
    ntk,
    hessian,
    initial: { lambdaMin: first.lambdaMin, lambdaMax: first.lambdaMax, muBound: first.muBound0 },
    final: { epoch: last.epoch, drift: last.drift, driftRel: last.driftRel, kernelDrift: last.kernelDrift, lambdaMinRatio: last.lambdaMinRatio, slack: last.slack },
    slack,
    rate,
    intervals,
    verdicts,
    findings,
  };
}

/** One width of the ablation (paper Figure 5) for the theory table. */
export interface TheoryWidthPoint {
  width: number;
  muBound0: number;
  finalDrift: number;
  finalDriftRel: number;
  medianSlack: number;
  finalKernelDrift: number;
}

export function theoryWidthPoint(width: number, s: TheorySummary): TheoryWidthPoint {
  return {
    width,
    muBound0: s.initial.muBound,
    finalDrift: s.final.drift,
    finalDriftRel: s.final.driftRel,
    medianSlack: s.slack.median,
    finalKernelDrift: s.final.kernelDrift,
  };
}
