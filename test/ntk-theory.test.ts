// The theory summary on synthetic rows with known answers (each verdict can fail), and the probe
// on a small real run: rows at the check epochs, identity and PL inequality holding, and the
// training trajectory bit-identical to a run without the probe (the checks must not perturb θ).
import { describe, expect, it } from 'vitest';
import { TheoryProbe } from '../harness/experiments/ntk.js';
import { createMlpState, disposeMlpState, trainMlp, type EpochRow } from '../harness/experiments/mlp-train.js';
import { parseMetricsJsonl, type MetricRow } from '../src/metrics/schema.js';
import { predictedContraction, summarizeTheory } from '../harness/analysis/theory.js';
import { Rng } from '../src/rng.js';
import { useGpu } from './helpers/gpu.js';

const LR = 0.1;
const RHO = 0.9;

/** A run whose loss is 0.5·0.9^t, NTK checks every 5 epochs with μ = 0.01, β = 10. */
function syntheticRows(patch: (epoch: number) => Record<string, number | undefined> = () => ({})): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let t = 0; t <= 20; t++) {
    const loss = 0.5 * RHO ** t;
    rows.push({ kind: 'epoch', epoch: t, loss, gradNormSq: 1, drift: 0.01 * t, acc: 1, lr: LR, timeMs: t });
    if (t % 5 !== 0) continue;
    const mu = 0.01;
    const plRatio = 0.02 + t * 0.001;
    rows.push({
      kind: 'ntk',
      epoch: t,
      samples: 100,
      coversTrainingSet: 1,
      loss,
      gradNormSq: 2 * loss * plRatio,
      quadForm: 2 * loss * plRatio,
      identityRelErr: 1e-7,
      lambdaMin: mu * 100,
      lambdaMax: 1000,
      lanczosConverged: 1,
      muBound: mu,
      muBound0: mu,
      plRatio,
      slack: plRatio / mu,
      slackLocal: plRatio / mu,
      lambdaMinRatio: 1,
      kernelDrift: 0.01 * t,
      drift: 0.01 * t,
      driftRel: 0.001 * t,
      ...(Object.fromEntries(Object.entries(patch(t)).filter(([, v]) => v !== undefined)) as Record<string, number>),
    });
    rows.push({ kind: 'hessian', epoch: t, hessianMax: 10, hessianMinRitz: -1, gaussNewtonMax: 10, beta: 10, lr: LR, etaBeta: LR * 10, predictedContraction: 0 });
  }
  return rows;
}

function verdict(rows: MetricRow[], name: string): boolean {
  const s = summarizeTheory(rows)!;
  const v = s.verdicts.find((x) => x.name.startsWith(name));
  if (!v) throw new Error(`no verdict '${name}' in ${s.verdicts.map((x) => x.name).join(', ')}`);
  return v.passed;
}

describe('summarizeTheory', () => {
  it('returns null without ntk rows', () => {
    expect(summarizeTheory(syntheticRows().filter((r) => r.kind === 'epoch'))).toBeNull();
  });

  it('computes the predicted and observed rates, the factor and the slack', () => {
    const s = summarizeTheory(syntheticRows())!;
    const predicted = 1 - LR * 0.01 * (2 - LR * 10);
    expect(predictedContraction(LR, 0.01, 10)).toBeCloseTo(predicted, 15);
    expect(s.rate!.predicted).toBeCloseTo(0.999, 12);
    expect(s.rate!.observed).toBeCloseTo(RHO, 10);
    expect(s.rate!.observedFrom).toBe('training loss (every epoch)');
    expect(s.rate!.speedupFactor).toBeCloseTo(Math.log(RHO) / Math.log(0.999), 6);
    expect(s.slack.min).toBeCloseTo(2, 12);
    expect(s.slack.max).toBeCloseTo(4, 12);
    expect(s.slack.median).toBeCloseTo(3, 12);
    expect(s.intervals).toHaveLength(4);
    expect(s.intervals[0].bound).toBeCloseTo(0.999 ** 5, 12);
    expect(s.verdicts.every((v) => v.passed)).toBe(true);
    expect(s.findings.join(' ')).toMatch(/2× to 4×/);
  });

  it('each verdict fails when its assumption is broken', () => {
    expect(verdict(syntheticRows((t) => (t === 10 ? { identityRelErr: 1e-3 } : {})), 'NTK cross-check')).toBe(false);
    expect(verdict(syntheticRows((t) => (t === 15 ? { lambdaMin: 1e-4, lambdaMax: 1e3 } : {})), 'NTK positive definite')).toBe(false);
    expect(verdict(syntheticRows((t) => (t === 5 ? { lanczosConverged: 0 } : {})), 'NTK positive definite')).toBe(false);
    expect(verdict(syntheticRows((t) => (t === 20 ? { lambdaMinRatio: 0.3 } : {})), 'NTK stable')).toBe(false);
    expect(verdict(syntheticRows((t) => (t === 20 ? { kernelDrift: 0.8 } : {})), 'NTK stable')).toBe(false);
    expect(verdict(syntheticRows((t) => (t === 10 ? { slackLocal: 0.5 } : {})), 'PL inequality')).toBe(false);
    const steep = syntheticRows().map((r) => (r.kind === 'hessian' ? { ...r, beta: 25 } : r));
    expect(verdict(steep, 'step size')).toBe(false);
    // A loss that stalls breaks the rate bound (observed ρ = 1 > 0.999).
    const stalled = syntheticRows().map((r) => (r.kind === 'epoch' || r.kind === 'ntk' ? { ...r, loss: 0.5 } : r));
    expect(verdict(stalled, 'observed rate')).toBe(false);
    expect(verdict(stalled, 'linear-rate bound between checks')).toBe(false);
  });

  it('a check that produced NaN makes its verdict inconclusive, never a pass', () => {
    const all = (field: string) => syntheticRows(() => ({ [field]: NaN }));
    const outcome = (rows: MetricRow[], name: string) => summarizeTheory(rows)!.verdicts.find((v) => v.name.startsWith(name))!.outcome;
    expect(outcome(all('identityRelErr'), 'NTK cross-check')).toBe('inconclusive');
    expect(outcome(all('lambdaMin'), 'NTK positive definite')).toBe('inconclusive');
    expect(outcome(all('kernelDrift'), 'NTK stable')).toBe('inconclusive');
    expect(outcome(all('slackLocal'), 'PL inequality')).toBe('inconclusive');
    // One NaN among finite checks is enough: "at every check" cannot be claimed.
    expect(outcome(syntheticRows((t) => (t === 10 ? { identityRelErr: NaN } : {})), 'NTK cross-check')).toBe('inconclusive');
    const nanBeta = syntheticRows().map((r) => (r.kind === 'hessian' ? { ...r, beta: NaN } : r));
    expect(outcome(nanBeta, 'step size')).toBe('inconclusive');
    for (const v of summarizeTheory(all('identityRelErr'))!.verdicts.filter((x) => x.name.startsWith('NTK cross-check'))) expect(v.passed).toBe(false);
  });

  it('uses the subset loss and skips the interval test when S is not the training set', () => {
    const s = summarizeTheory(syntheticRows(() => ({ coversTrainingSet: 0 })))!;
    expect(s.rate!.observedFrom).toBe('NTK-subset loss (at the checks)');
    expect(s.rate!.observed).toBeCloseTo(RHO, 10);
    expect(s.intervals).toHaveLength(0);
    expect(s.findings.join(' ')).toMatch(/indicative/);
  });
});

describe('TheoryProbe on a real run', () => {
  const gpu = useGpu();

  function synthetic(n: number, d: number) {
    const rng = new Rng(5, 'theory-data');
    const x = rng.uniforms(n * d);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) y[i] = x[i * d] + x[i * d + 1] > 1 ? 1 : 0;
    return { x, y, n, d };
  }

  it('writes ntk/hessian rows that pass the identity and PL checks without perturbing training', async () => {
    const config = { width: 16, depth: 3, epochs: 6, lr: 0.05, loss: 'mse' as const, init: 'he' as const, seed: 1 };
    const data = synthetic(40, 7);
    const run = async (withProbe: boolean) => {
      const state = createMlpState(gpu.rt(), config, data);
      const probe = new TheoryProbe({ every: 4, samples: 1024, seed: 0, epochs: config.epochs, lr: config.lr });
      const extra: MetricRow[] = [];
      try {
        const epochs: EpochRow[] = [];
        await trainMlp(state, {
          onRow: (r) => void epochs.push(r),
          measure: withProbe ? async (t, s) => void extra.push(...(await probe.measure(t, s))) : undefined,
        });
        return { epochs, extra };
      } finally {
        probe.dispose();
        disposeMlpState(state);
      }
    };
    const plain = await run(false);
    const probed = await run(true);
    // Checks at 0, 4 and the last epoch 6; each gives one ntk and one hessian row.
    expect(probed.extra.map((r) => `${r.kind}@${r.epoch}`)).toEqual(['ntk@0', 'hessian@0', 'ntk@4', 'hessian@4', 'ntk@6', 'hessian@6']);
    // The checks restore θ and leave the trajectory untouched.
    expect(probed.epochs.map((r) => r.loss)).toEqual(plain.epochs.map((r) => r.loss));
    // Rows survive the metrics file format.
    const parsed = parseMetricsJsonl(probed.extra.map((r) => JSON.stringify(r)).join('\n'));
    const ntk = parsed.filter((r) => r.kind === 'ntk') as unknown as Record<string, number>[];
    for (const r of ntk) {
      expect(r.identityRelErr).toBeLessThanOrEqual(1e-4);
      expect(r.slackLocal).toBeGreaterThanOrEqual(1 - 1e-3);
      expect(r.coversTrainingSet).toBe(1);
      expect(r.samples).toBe(40);
    }
    expect(ntk[0].drift).toBe(0);
    expect(ntk[0].kernelDrift).toBe(0);
    expect(ntk[0].lambdaMinRatio).toBe(1);
    expect(ntk[2].drift).toBeCloseTo(plain.epochs[6].drift, 4);
    // The NTK-subset loss is the training loss here (S = all 40 samples).
    expect(ntk[1].loss).toBeCloseTo(plain.epochs[4].loss, 5);
    const summary = summarizeTheory([...probed.epochs, ...parsed])!;
    expect(summary.checks).toBe(3);
    expect(summary.rate).not.toBeNull();
  });
});
