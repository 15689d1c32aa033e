// `lplr verify-browser`: the comparison and the pass/fail rule on constructed streams (they
// must fail on a difference above the tolerance, a missing epoch or other initial parameters),
// option handling, and one real run: Node and Chromium on the same adapter (llvmpipe), which
// must agree within 1e-6 per epoch. The browser part is skipped where /usr/bin/chromium is absent.
import { describe, expect, test } from 'vitest';
import { ConfigError } from '../src/errors.js';
import type { EpochRow } from '../src/metrics/schema.js';
import { parseKernelList, verifyBrowserVerb } from '../harness/cli/verb-verify-browser.js';
import { chromiumPath } from '../harness/web/chromium.js';
import { compareStreams, relativeDifference } from '../harness/web/compare.js';
import { metricsJsonl } from '../harness/web/run-files.js';
import { formatVerifyReport, judgeRun, verifyBrowser, verifyPlan, type VerifyReport } from '../harness/web/verify.js';

const hasChromium = chromiumPath() !== undefined;
if (!hasChromium) console.warn('verify-browser run skipped: /usr/bin/chromium is not installed (apt-get install -y chromium).');

/** A made-up GD-like stream: loss 0.5·0.9^t + 0.01, gradient norm proportional to the gap. */
function stream(epochs: number): EpochRow[] {
  return Array.from({ length: epochs + 1 }, (_, t) => ({
    kind: 'epoch' as const,
    epoch: t,
    loss: 0.5 * 0.9 ** t + 0.01,
    gradNormSq: 3 * 0.9 ** t,
    drift: 0.01 * t,
    acc: 0.9,
    lr: 0.01,
    timeMs: t,
  }));
}

const side = { label: 'run', configHash: 'abc', initialDigest: 'd0', chunks: 1 };

describe('comparison', () => {
  test('relativeDifference', () => {
    expect(relativeDifference(1, 1)).toBe(0);
    expect(relativeDifference(0, 0)).toBe(0);
    expect(relativeDifference(2, 1)).toBe(0.5);
    expect(relativeDifference(-1, 1)).toBe(2);
    expect(relativeDifference(NaN, NaN)).toBe(Infinity);
    expect(relativeDifference(1, Infinity)).toBe(Infinity);
  });

  test('finds the largest difference and its epoch; lists epochs only one side has', () => {
    const a = stream(10);
    const b = stream(10).map((r) => ({ ...r }));
    b[4].loss *= 1 + 3e-5;
    b[7].gradNormSq *= 1 - 5e-5;
    b[8].loss *= 1 + 1e-5;
    const c = compareStreams(a, b.slice(0, 10));
    expect(c.epochs).toBe(10);
    expect(c.unmatched).toEqual([10]);
    expect(c.loss.epoch).toBe(4);
    expect(c.loss.value).toBeCloseTo(3e-5, 8);
    expect(c.gradNormSq.epoch).toBe(7);
    expect(c.gradNormSq.value).toBeCloseTo(5e-5, 8);
  });
});

describe('judgeRun', () => {
  const node = { ...side, rows: stream(25) };
  const page = (rows: EpochRow[], patch: Partial<typeof side> = {}) => ({ ...side, ...patch, metrics: metricsJsonl(rows) });

  test('identical streams pass, with the rates and slopes of both', () => {
    const v = judgeRun(node, page(stream(25)), { tolerance: 1e-6, epochs: 25 });
    expect(v.failures).toEqual([]);
    expect(v.passed).toBe(true);
    expect(v.comparison.a.rho).toBeGreaterThan(0.5);
    expect(v.comparison.a.rho).toBeLessThan(1);
    expect(v.comparison.b.rho).toBe(v.comparison.a.rho);
    expect(v.comparison.b.slope).toBe(v.comparison.a.slope);
  });

  test('a 2e-5 relative difference fails the same-adapter tolerance and passes the other', () => {
    const rows = stream(25);
    rows[13] = { ...rows[13], gradNormSq: rows[13].gradNormSq * (1 + 2e-5) };
    const strict = judgeRun(node, page(rows), { tolerance: 1e-6, epochs: 25 });
    expect(strict.passed).toBe(false);
    expect(strict.failures.join('\n')).toMatch(/‖∇L‖² differs by 2\.00e-5 \(relative\) at epoch 13/);
    expect(judgeRun(node, page(rows), { tolerance: 1e-4, epochs: 25 }).passed).toBe(true);
  });

  test('other initial parameters, chunking, config or a missing epoch fail', () => {
    expect(judgeRun(node, page(stream(25), { initialDigest: 'other' }), { tolerance: 1, epochs: 25 }).failures).toContain('the initial parameters differ');
    expect(judgeRun(node, page(stream(25), { chunks: 2 }), { tolerance: 1, epochs: 25 }).failures.join()).toMatch(/row chunking differs/);
    expect(judgeRun(node, page(stream(25), { configHash: 'zzz' }), { tolerance: 1, epochs: 25 }).failures.join()).toMatch(/configuration hashes differ/);
    expect(judgeRun(node, page(stream(24)), { tolerance: 1, epochs: 25 }).failures.join()).toMatch(/epochs missing on one side: 25/);
    expect(judgeRun(node, undefined, { tolerance: 1, epochs: 25 }).passed).toBe(false);
  });
});

describe('options', () => {
  test('epochs default to the preset capped at 25; more is refused', () => {
    expect(verifyPlan('fig1', ['--preset', 'tiny']).plan[0].config.epochs).toBe(6);
    expect(verifyPlan('fig1', ['--preset', 'default']).plan[0].config.epochs).toBe(25);
    expect(verifyPlan('fig4', ['--preset', 'tiny', '--epochs', '3']).plan.map((p) => p.config.epochs)).toEqual([3, 3]);
    expect(() => verifyPlan('fig1', ['--epochs', '30'])).toThrow(/at most 25 epochs/);
    expect(() => verifyPlan('fig1', ['--dataset', 'x.safetensors'])).toThrow(ConfigError);
  });

  test('--kernels pairs', () => {
    expect(parseKernelList([])).toBeUndefined();
    expect(parseKernelList(['matmul=register', 'matmul@8x8x8:nn=naive'])).toEqual({ matmul: 'register', 'matmul@8x8x8:nn': 'naive' });
    expect(() => parseKernelList(['matmul'])).toThrow(/NAME=VARIANT/);
  });

  test('the verb validates before starting anything', async () => {
    await expect(verifyBrowserVerb.run(['fig1', '--epochs', '40'])).rejects.toThrow(/at most 25 epochs/);
    await expect(verifyBrowserVerb.run(['fig7'])).rejects.toThrow(/Unknown experiment 'fig7'/);
    await expect(verifyBrowserVerb.run(['fig3'])).rejects.toThrow(/CIFAR-10/);
  });
});

describe.skipIf(!hasChromium)('Node vs Chromium', () => {
  test('on the same adapter (llvmpipe) the streams agree within 1e-6 and the report names both adapters', async () => {
    // matmul pinned to the register kernel: the texture kernel is correct there too, but its
    // first pipeline takes minutes to compile in Chromium's ANGLE GL path on llvmpipe.
    const report: VerifyReport = await verifyBrowser({ experiment: 'fig1', argv: ['--preset', 'tiny', '--epochs', '10'], mode: 'same-as-node', kernels: { matmul: 'register' } });
    const text = formatVerifyReport(report);
    expect(report.passed, text).toBe(true);
    expect(report.tolerance).toBe(1e-6);
    expect(report.adapters.node.backend).toBe('opengles');
    expect(report.adapters.browser.backend).toBe('browser');
    expect(report.adapters.browser.featureLevel).toBe('compatibility');
    expect(report.adapters.browser.description).toMatch(/llvmpipe/);
    const run = report.runs[0];
    expect(run.comparison.epochs).toBe(11);
    expect(run.initialDigest.node).toBe(run.initialDigest.browser);
    expect(report.kernels.node.matmul).toBe('register');
    expect(report.kernels.browser).toEqual(report.kernels.node);
    expect(text).toMatch(/Chromium: ANGLE .*llvmpipe/);
    expect(text).toMatch(/max relative difference: loss .* over 11 epochs/);
    expect(text).toMatch(/rate ρ\/epoch \(L\* = min\): Node [\d.]+, Chromium [\d.]+/);
    expect(text).toMatch(/^PASS/m);
  });
});
