// `lplr verify-browser`: the comparison and the pass/fail rule on constructed streams (they
// must fail on a difference above the tolerance, a missing epoch or row, or other initial
// parameters), option handling, and real runs: fig1 and fig3 (on CIFAR-10 batch files written
// here) in Node and in Chromium on the same adapter (llvmpipe), which must agree within 1e-6.
// The browser part is skipped where /usr/bin/chromium is absent.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError, DataError } from '../src/errors.js';
import type { EpochRow, EvalRow, MetricRow, StepRow } from '../src/metrics/schema.js';
import { parseKernelList, verifyBrowserVerb } from '../harness/cli/verb-verify-browser.js';
import { compareStreams, relativeDifference } from '../harness/web/compare.js';
import { compareRows } from '../harness/web/compare-rows.js';
import { metricsJsonl } from '../harness/web/run-files.js';
import { CIFAR_CROSS_ADAPTER, CIFAR_JUDGED_FIELDS, formatVerifyReport, judgeCifarRun, judgeRun, verifyBrowser, verifyPlan, type VerifyReport } from '../harness/web/verify.js';
import { writeCifarBatches } from './helpers/cifar-batches.js';
import { noChromium } from './helpers/requirements.js';

const hasChromium = !noChromium();

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

/** A made-up fig3 stream: 3 steps per epoch, an epoch row (means), an eval row after each epoch, a full-set row at the start of each. */
function fig3Stream(epochs: number): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let e = 0; e < epochs; e++) {
    rows.push({ kind: 'fullgrad', epoch: e, loss: 1.6 * 0.8 ** e, gradNormSq: 2 * 0.7 ** e });
    const steps: StepRow[] = [0, 1, 2].map((k) => {
      const t = 3 * e + k;
      return { kind: 'step', step: t, epoch: e, loss: 1.6 * 0.93 ** t + 0.01 * (t % 2), gradNormSq: 2.5 * 0.9 ** t, lr: 0.05 * Math.cos(t / 10), timeMs: 10 * t, weightDecayTerm: 0.05 };
    });
    rows.push(...steps);
    const mean = (f: (r: StepRow) => number) => steps.reduce((a, r) => a + f(r), 0) / steps.length;
    rows.push({ kind: 'epoch', epoch: e, loss: mean((r) => r.loss), gradNormSq: mean((r) => r.gradNormSq), drift: 0.5 * (e + 1), acc: 0.4 + 0.1 * e, lr: steps[2].lr, timeMs: 30 * e + 30, weightDecayTerm: 0.05, steps: 3 });
    rows.push({ kind: 'eval', epoch: e + 1, testLoss: 1.5 * 0.85 ** e, testAcc: 3 / 7 + e / 7 });
  }
  return rows;
}

/** The stream with one field of one row changed. */
function tamper(rows: readonly MetricRow[], kind: string, at: number, field: string, change: (v: number) => number): MetricRow[] {
  return rows.map((r) => {
    const where = r.kind === 'step' ? r.step : (r as { epoch: number }).epoch;
    if (r.kind !== kind || where !== at) return r;
    const copy = { ...r } as unknown as Record<string, number>;
    copy[field] = change(copy[field]);
    return copy as unknown as MetricRow;
  });
}

describe('fig3: row-by-row comparison and judgement', () => {
  const node = { ...side, rows: fig3Stream(2) };
  const page = (rows: readonly MetricRow[]) => ({ ...side, metrics: metricsJsonl(rows) });

  test('every numeric field of every row kind, the largest difference and where; judged fields marked', () => {
    let b = tamper(fig3Stream(2), 'step', 4, 'loss', (v) => v * (1 + 3e-5));
    b = tamper(b, 'step', 1, 'loss', (v) => v * (1 - 1e-5));
    b = tamper(b, 'eval', 2, 'testAcc', (v) => v - 1 / 7);
    const c = compareRows(fig3Stream(2), b, CIFAR_JUDGED_FIELDS);
    expect(c.unmatched).toEqual([]);
    expect(c.counts).toEqual({ fullgrad: { a: 2, b: 2 }, step: { a: 6, b: 6 }, epoch: { a: 2, b: 2 }, eval: { a: 2, b: 2 } });
    const field = (kind: string, name: string) => c.fields.find((d) => d.kind === kind && d.field === name)!;
    expect(field('step', 'loss').at).toBe(4);
    expect(field('step', 'loss').value).toBeCloseTo(3e-5 / (1 + 3e-5), 12);
    expect(field('step', 'loss')).toMatchObject({ rows: 6, judged: true });
    expect(field('step', 'gradNormSq')).toMatchObject({ value: 0, judged: true });
    // Wall-clock time and the row's place are not compared; lr is, but only reported.
    expect(c.fields.some((d) => d.field === 'timeMs' || d.field === 'step' || d.field === 'epoch')).toBe(false);
    expect(field('step', 'lr').judged).toBe(false);
    expect(field('eval', 'testAcc')).toMatchObject({ at: 2, judged: false, rows: 2 });
    expect(field('eval', 'testAcc').value).toBeCloseTo(1 / 4, 12);
    expect(field('eval', 'testLoss').judged).toBe(true);
    expect(c.fields.map((d) => d.kind).filter((k, i, all) => all.indexOf(k) === i)).toEqual(['step', 'epoch', 'eval', 'fullgrad']);
    // Without a tolerance nothing is above it; with one, the first row that is.
    expect(field('step', 'loss').firstAbove).toBeNull();
    const strict = compareRows(fig3Stream(2), b, CIFAR_JUDGED_FIELDS, 5e-6);
    expect(strict.fields.find((d) => d.kind === 'step' && d.field === 'loss')!.firstAbove).toBe(1);
    expect(strict.fields.find((d) => d.kind === 'step' && d.field === 'gradNormSq')!.firstAbove).toBeNull();
  });

  test('rows on one side only, and a field one side lacks, are found', () => {
    const a = fig3Stream(2);
    const b = a.filter((r) => !(r.kind === 'step' && r.step === 5)).map((r) => (r.kind === 'epoch' && r.epoch === 1 ? { ...r, drift: undefined } : r)) as MetricRow[];
    const c = compareRows(a, [...b, { kind: 'eval', epoch: 9, testLoss: 1, testAcc: 0 } as EvalRow], CIFAR_JUDGED_FIELDS);
    expect(c.unmatched).toEqual(['step 5 (Node only)', 'eval 9 (browser only)']);
    expect(c.fields.find((d) => d.kind === 'epoch' && d.field === 'drift')).toMatchObject({ value: Infinity, at: 1 });
  });

  test('identical streams pass; the smoothed fits of both are reported', () => {
    const v = judgeCifarRun(node, page(fig3Stream(2)), { tolerance: 1e-6, epochs: 2 });
    expect(v.failures).toEqual([]);
    expect(v.passed).toBe(true);
    expect(v.fitBasis).toBe('smoothed steps');
    expect(v.comparison.a.rho).toBeGreaterThan(0);
    expect(v.comparison.a.rho).toBeLessThan(1);
    expect(v.comparison.b.rho).toBe(v.comparison.a.rho);
  });

  test('a tampered step, epoch, fullgrad or eval row fails; a tampered accuracy is only reported', () => {
    const fails = (rows: MetricRow[], tolerance = 1e-4) => judgeCifarRun(node, page(rows), { tolerance, epochs: 2 }).failures.join('\n');
    expect(fails(tamper(node.rows, 'step', 3, 'loss', (v) => v * (1 + 2e-4)))).toMatch(/step rows: loss differs by 2\.00e-4 \(relative\) at step 3, above 0\.0001/);
    // A drift that grows: the largest difference, and where it first exceeded the tolerance.
    const drifting = tamper(tamper(node.rows, 'step', 1, 'loss', (v) => v * (1 + 2e-4)), 'step', 4, 'loss', (v) => v * (1 + 5e-3));
    expect(fails(drifting)).toMatch(/step rows: loss differs by 4\.98e-3 \(relative\) at step 4, above 0\.0001; first above it at step 1/);
    expect(fails(tamper(node.rows, 'step', 3, 'loss', (v) => v * (1 + 2e-5)))).toBe('');
    expect(fails(tamper(node.rows, 'step', 3, 'loss', (v) => v * (1 + 2e-5)), 1e-6)).toMatch(/step rows: loss differs by 2\.00e-5/);
    expect(fails(tamper(node.rows, 'epoch', 1, 'gradNormSq', (v) => v * 1.01))).toMatch(/epoch rows: ‖∇L‖² differs by 9\.90e-3 \(relative\) at epoch 1/);
    expect(fails(tamper(node.rows, 'fullgrad', 0, 'loss', (v) => v * 1.01))).toMatch(/fullgrad rows: loss differs .* at epoch 0/);
    expect(fails(tamper(node.rows, 'eval', 2, 'testLoss', (v) => v * 1.5))).toMatch(/eval rows: test loss differs by 3\.33e-1 \(relative\) at epoch 2/);
    expect(fails(tamper(node.rows, 'eval', 2, 'testAcc', (v) => v - 1 / 7))).toBe('');
    expect(fails(node.rows.filter((r) => !(r.kind === 'step' && r.step === 2)))).toMatch(/rows on one side only: step 2 \(Node only\)/);
    expect(fails(node.rows.filter((r) => !(r.kind === 'epoch' && r.epoch === 1)))).toMatch(/epoch rows: Node 2, browser 1, expected 2/);
    expect(judgeCifarRun(node, page(node.rows), { tolerance: 1, epochs: 3 }).failures.join()).toMatch(/expected 3/);
    expect(judgeCifarRun(node, { ...page(node.rows), initialDigest: 'other' }, { tolerance: 1, epochs: 2 }).failures).toContain('the initial parameters differ');
    expect(judgeCifarRun(node, undefined, { tolerance: 1, epochs: 2 }).passed).toBe(false);
  });
});

describe('fig3 on different adapters: the first steps row by row, then the run by its statistics', () => {
  const node = { label: 'fig3', configHash: 'h', initialDigest: 'd', chunks: 0, rows: fig3Stream(2) };
  const page = (rows: MetricRow[]) => ({ label: 'fig3', configHash: 'h', initialDigest: 'd', chunks: 0, metrics: metricsJsonl(rows) });
  const fails = (rows: MetricRow[]) => judgeCifarRun(node, page(rows), { tolerance: 1e-4, epochs: 2, crossAdapter: true }).failures.join('\n');

  test('later steps may drift apart (SGD amplifies last-bit differences); the first steps may not', () => {
    const late = tamper(node.rows, 'step', CIFAR_CROSS_ADAPTER.strictSteps + 1, 'loss', (v) => v * 1.01);
    expect(fails(late)).toBe('');
    // The same drift fails the row-by-row rule of the same adapter.
    expect(judgeCifarRun(node, page(late), { tolerance: 1e-4, epochs: 2 }).passed).toBe(false);
    expect(fails(tamper(node.rows, 'step', 2, 'gradNormSq', (v) => v * (1 + 2e-4)))).toMatch(/step rows before step 4: ‖∇L‖² differs by 2\.00e-4 .* at step 2/);
  });

  test('the final loss, the smoothed rate and the test accuracy must agree', () => {
    expect(fails(tamper(node.rows, 'epoch', 1, 'loss', (v) => v * 1.05))).toMatch(/final epoch loss: .*allowed 3 %/);
    expect(fails(tamper(node.rows, 'eval', 2, 'testAcc', (v) => v - 0.1))).toMatch(/final test accuracy: .*allowed ±0\.05/);
    // Steps after the strict ones decay much faster on one side: a different rate.
    const faster = node.rows.map((r) => (r.kind === 'step' && r.step >= CIFAR_CROSS_ADAPTER.strictSteps ? { ...r, loss: r.loss * 0.5 ** (r.step - 3) } : r));
    expect(fails(faster)).toMatch(/smoothed rate 1 − ρ: .*allowed 25 %/);
    expect(fails(node.rows)).toBe('');
  });
});

describe('fig3: options and data', () => {
  let empty: string;
  beforeAll(() => {
    empty = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-verify-nodata-'));
  });
  afterAll(() => fs.rmSync(empty, { recursive: true, force: true }));

  test('the tiny preset by default; epochs from the preset, capped; the data folder is not an experiment setting', () => {
    const p = verifyPlan('fig3', ['--preset', 'tiny']);
    expect(p.kind).toBe('cifar');
    expect(p.plan.map((r) => [r.label, r.trainer, r.config.epochs])).toEqual([['run', 'cifar', 2]]);
    expect(p.argv).toEqual(['--preset', 'tiny', '--epochs', '2']);
    expect(verifyPlan('fig3', ['--preset', 'default', '--epochs', '3']).plan[0].config.epochs).toBe(3);
    expect(() => verifyPlan('fig3', ['--epochs', '26'])).toThrow(/at most 25 epochs/);
    expect(() => verifyPlan('fig3', ['--data-dir', '/somewhere'])).toThrow(/give it to 'lplr verify-browser' itself/);
  });

  test('no CIFAR-10 files: the message of lplr run fig3, before anything starts', async () => {
    const run = verifyBrowserVerb.run(['fig3', '--data-dir', empty]);
    await expect(run).rejects.toThrow(DataError);
    await expect(run).rejects.toThrow(/CIFAR-10 train data not found: looked for data_batch_1\.bin .*npx lplr data fetch cifar10/);
    // Files of the wrong kind are not taken in their place.
    fs.writeFileSync(path.join(empty, 'train-images-idx3-ubyte'), new Uint8Array(16));
    await expect(verifyBrowser({ experiment: 'fig3', argv: ['--preset', 'tiny'], mode: 'default', cifarDir: empty })).rejects.toThrow(/CIFAR-10 train data not found/);
  });

  test('the help lists the CIFAR-10 options and one --data-dir', async () => {
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => out.push(chunk) > 0) as typeof process.stdout.write;
    try {
      expect(await verifyBrowserVerb.run(['fig3', '--help'])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const text = out.join('');
    expect(text).toMatch(/--batch-size/);
    expect(text).toMatch(/--same-adapter/);
    expect(text.match(/--data-dir/g)).toHaveLength(1);
    expect(text).toMatch(/compared row by row/);
    expect(text).not.toMatch(/lookupWebExperiment|findWebExperiment/);
  });
});

describe.skipIf(!hasChromium)('fig3: Node vs Chromium', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-verify-fig3-'));
    writeCifarBatches(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Widths 4,4,4: every convolution has at most 4 output channels, so conv2d_texture.wgsl is
  // compiled once (GROUPS = 1) instead of twice; its GROUPS = 4 variant alone takes Chromium
  // tens of seconds to compile on these CPU adapters.
  test('tiny preset on the same adapter: every row agrees within 1e-6, the page fetched the served batch files', { timeout: 300_000 }, async () => {
    const report = await verifyBrowser({ experiment: 'fig3', argv: ['--preset', 'tiny', '--widths', '4,4,4'], mode: 'same-as-node', cifarDir: dir });
    const text = formatVerifyReport(report);
    expect(report.passed, text).toBe(true);
    expect(report.kind).toBe('cifar');
    expect(report.epochs).toBe(2);
    expect(report.adapters.browser.description).toMatch(/llvmpipe/);
    const run = report.runs[0];
    expect(run.initialDigest.node).toBe(run.initialDigest.browser);
    // 18 training images of classes 0..4 in batches of 8: 3 steps per epoch.
    expect(run.rows!.counts).toEqual({ step: { a: 6, b: 6 }, epoch: { a: 2, b: 2 }, eval: { a: 2, b: 2 } });
    const judged = run.rows!.fields.filter((d) => d.judged).map((d) => `${d.kind}.${d.field}`);
    expect(judged).toEqual(['step.loss', 'step.gradNormSq', 'epoch.loss', 'epoch.gradNormSq', 'eval.testLoss']);
    for (const d of run.rows!.fields) if (d.judged) expect(d.value, `${d.kind}.${d.field}`).toBeLessThanOrEqual(1e-6);
    expect(text).toMatch(/step rows \(6\): loss\* [\d.e+-]+/);
    expect(text).toMatch(/eval rows \(2\): test loss\* /);
    expect(text).toMatch(/rate ρ\/step \(smoothed mini-batch loss, L\* = min\): Node [\d.]+, Chromium [\d.]+/);
    expect(text).toMatch(/^PASS/m);
  });
});
