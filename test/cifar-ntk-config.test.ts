// fig3's --loss, --ntk-every, --ntk-samples and --ema-beta without a GPU: defaults, the
// ConfigError messages, hashes of runs at the defaults unchanged by the new fields, and the
// report's theory section for both losses from rows written here.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import type { MetricRow, NtkRow } from '../src/metrics/schema.js';
import { parseArgs } from '../harness/options/args.js';
import { CIFAR_OPTIONS, cifarIdentity, resolveCifarConfig } from '../harness/experiments/cifar-config.js';
import { cifarTheorySections } from '../harness/experiments/cifar-lab.js';
import { configHash } from '../harness/run/run-dir.js';

const resolve = (argv: string[]) => resolveCifarConfig(parseArgs(argv, CIFAR_OPTIONS));

function configError(argv: string[]): string {
  try {
    resolve(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('fig3 options', () => {
  it('default to cross-entropy, no NTK checks, 16 samples and β = 0.98', () => {
    expect(resolve([])).toMatchObject({ loss: 'ce', ntkEvery: 0, ntkSamples: 16, emaBeta: 0.98 });
    expect(resolve(['--loss', 'mse', '--ntk-every', '2', '--ntk-samples', '8', '--ema-beta', '0.9'])).toMatchObject({ loss: 'mse', ntkEvery: 2, ntkSamples: 8, emaBeta: 0.9 });
  });

  it('refuse invalid values with the fix', () => {
    expect(configError(['--loss', 'msе'])).toMatch(/--loss must be one of ce, mse/);
    expect(configError(['--loss', 'cross'])).toMatch(/--loss must be one of ce, mse, got 'cross'/);
    expect(configError(['--ntk-every', '-1'])).toMatch(/--ntk-every must be >= 0/);
    expect(configError(['--ntk-samples', '1', '--ntk-every', '1'])).toMatch(/--ntk-samples must be >= 2/);
    expect(configError(['--ntk-samples', '8'])).toMatch(/Add --ntk-every k/);
    expect(configError(['--ema-beta', '1'])).toMatch(/--ema-beta must be in \[0, 1\), got 1\. Use e\.g\. 0\.98/);
    expect(configError(['--ema-beta', '-0.5'])).toMatch(/--ema-beta must be >= 0/);
  });

  it('leave the hash of a run at the defaults as it was before they existed', () => {
    for (const preset of ['default', 'tiny', 'paper']) {
      const config = resolve(['--preset', preset, '--ema-beta', '0.5']);
      // What the hash covered before: the config without the new fields.
      const { loss: _l, ntkEvery: _e, ntkSamples: _s, emaBeta: _b, ...before } = config;
      expect(configHash(cifarIdentity(config))).toBe(configHash({ ...before, preset: undefined, evalBatchSize: undefined, fitWindow: undefined }));
    }
    // Pinned: the tiny preset's hash as computed before these options were added.
    expect(configHash(cifarIdentity(resolve(['--preset', 'tiny'])))).toBe(TINY_HASH);
    const base = configHash(cifarIdentity(resolve(['--preset', 'tiny'])));
    expect(configHash(cifarIdentity(resolve(['--preset', 'tiny', '--loss', 'mse'])))).not.toBe(base);
    expect(configHash(cifarIdentity(resolve(['--preset', 'tiny', '--ntk-every', '1'])))).not.toBe(base);
    // The NTK subset's size matters only while the checks are on.
    const a = configHash(cifarIdentity(resolve(['--preset', 'tiny', '--ntk-every', '1', '--ntk-samples', '4'])));
    expect(configHash(cifarIdentity(resolve(['--preset', 'tiny', '--ntk-every', '1', '--ntk-samples', '5'])))).not.toBe(a);
  });
});

// configHash(cifarIdentity(tiny preset)) before --loss/--ntk-*/--ema-beta were added (commit 65a1f8b's cifar-config.ts).
const TINY_HASH = 'a9abda60cd619f41';

function ntkRow(epoch: number, loss: 'mse' | 'ce', extra: Record<string, number> = {}): NtkRow {
  const lambdaMin = 2 - epoch * 0.1;
  const row: NtkRow = {
    kind: 'ntk',
    epoch,
    model: 'cnn',
    lossKind: loss,
    bnMode: 'eval',
    samples: 4,
    outputs: 3,
    kernelSize: 12,
    parameters: 500,
    coversTrainingSet: 0,
    loss: 1 / (epoch + 1),
    gradNormSq: 10 / (epoch + 1),
    quadForm: 10 / (epoch + 1),
    identityRelErr: 1e-7,
    lambdaMin,
    lambdaMax: 100,
    cond: 100 / lambdaMin,
    lanczosIterations: 12,
    lanczosResidualMin: 0,
    lanczosConverged: 1,
    lambdaMin0: 2,
    lambdaMinRatio: lambdaMin / 2,
    kernelDrift: epoch * 0.05,
    drift: epoch * 0.1,
    driftRel: epoch * 0.01,
    jacobianPasses: 1,
    timeMs: 100,
    ...extra,
  };
  if (loss === 'mse') {
    const plRatio = 5;
    Object.assign(row, { muBound: lambdaMin / 4, muBound0: 0.5, plRatio, slack: plRatio / 0.5, slackLocal: plRatio / (lambdaMin / 4), rayleighOverMin: 3 });
  }
  return row;
}

describe('fig3 theory section', () => {
  it('with mse: the PL ratio against λ_min(K)/|S|, verdicts from the theory summary', () => {
    const rows: MetricRow[] = [0, 1, 2].map((e) => ntkRow(e, 'mse'));
    const [section] = cifarTheorySections(rows);
    expect(section.id).toBe('cifar-theory');
    expect(section.charts!.map((c) => c.id)).toContain('cifar-theory-pl');
    expect(section.paragraphs!.join(' ')).toMatch(/½·mean over S of ‖logits − onehot‖²/);
    expect(section.paragraphs!.join(' ')).toMatch(/K is 12 × 12/);
    expect(section.verdicts!.find((v) => v.name.startsWith('PL inequality'))!.passed).toBe(true);
    expect(section.paragraphs!.join(' ')).not.toMatch(/rate comparison/);
  });

  it('with cross-entropy: diagnostic only, no PL numbers or claims', () => {
    const rows: MetricRow[] = [0, 2].map((e) => ntkRow(e, 'ce'));
    const [section] = cifarTheorySections(rows);
    expect(section.id).toBe('cifar-theory');
    expect(section.title).toMatch(/diagnostic only/);
    expect(section.paragraphs![0]).toMatch(/PL link of Theorem 5\.1 does not apply/);
    expect(section.paragraphs![0]).toMatch(/--loss mse/);
    expect(section.charts!.map((c) => c.id)).toEqual(['cifar-theory-lambda', 'cifar-theory-drift']);
    expect(section.verdicts!.map((v) => v.name)).toEqual(['NTK cross-check against backprop']);
    // The cross-check must pass on rows whose identity error is 1e-7, not merely exist ...
    expect(section.verdicts![0].outcome).toBe('pass');
    expect(section.tables![0].rows.map((r) => r[0])).toEqual([0, 2]);
    // ... fail when one check misses the tolerance, and never pass on a NaN.
    const bad = cifarTheorySections([ntkRow(0, 'ce'), ntkRow(2, 'ce', { identityRelErr: 1e-3 })])[0];
    expect(bad.verdicts![0].outcome).toBe('fail');
    const nan = cifarTheorySections([ntkRow(0, 'ce'), ntkRow(2, 'ce', { identityRelErr: NaN })])[0];
    expect(nan.verdicts![0].outcome).toBe('inconclusive');
    expect(nan.verdicts![0].passed).toBe(false);
  });

  it('nothing without CNN ntk rows', () => {
    expect(cifarTheorySections([])).toEqual([]);
    // The MLP lab's rows (no model field) belong to its own section.
    const mlpRow = { ...ntkRow(0, 'mse') } as Record<string, unknown>;
    delete mlpRow.model;
    expect(cifarTheorySections([mlpRow as NtkRow])).toEqual([]);
  });
});
