// Every MLP experiment path through the CLI on the tiny preset: fig2 with and without --from,
// the fig4 and fig5 sets, all, --loss bce, --init-from and --dataset, and `lplr report` (with
// --png) on run, set and all directories. Numbers are checked against CPU computations or
// against the member runs' own files, never against the code path that wrote them.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { findChromium } from '../harness/report/png.js';
import { missing } from './helpers/requirements.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-cli-exp-'));

function lplr(args: string[], timeout = 120_000) {
  // LPLR_CACHE_DIR: no throughput cache from other runs changes what is printed.
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout, env: { ...process.env, LPLR_CACHE_DIR: path.join(tmp, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[]) {
  const r = lplr(args);
  if (r.code !== 0) throw new Error(`lplr ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

/** A JSON file of a run directory, parsed (untyped: the tests read the fields they check). */
function json(...parts: string[]) {
  return JSON.parse(fs.readFileSync(path.join(...parts), 'utf8'));
}

interface Row {
  kind: string;
  epoch: number;
  loss: number;
  gradNormSq: number;
  drift: number;
  acc: number;
}

function epochRows(dir: string): Row[] {
  return fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.kind === 'epoch')
    .map(({ timeMs: _t, ...rest }) => rest);
}

const RUN_FILES = ['config.json', 'metrics.jsonl', 'summary.json', 'report.html'];
const chromium = findChromium();

function expectPngs(files: string[]) {
  for (const f of files) {
    const bytes = fs.readFileSync(f);
    expect(bytes.subarray(0, 8).toString('hex'), f).toBe('89504e470d0a1a0a');
    // A chart with axes and curves, not an empty box.
    expect(bytes.length, f).toBeGreaterThan(2000);
  }
}

describe('lplr run all, fig2, fig4, fig5 (tiny preset)', () => {
  const tiny = ['--preset', 'tiny', '--quiet'];
  const all = path.join(tmp, 'all');
  const fig1 = path.join(all, 'fig1');

  it('all writes fig1, fig2, fig4, fig5, a config.json and an index report linking them', () => {
    ok(['run', 'all', ...tiny, '--widths', '8,16', '--out', all]);
    expect(json(all, 'config.json').experiment).toBe('all');
    const summary = json(all, 'summary.json');
    expect(Object.keys(summary).sort()).toEqual(['fig1', 'fig2', 'fig4', 'fig5']);
    for (const f of RUN_FILES) expect(fs.existsSync(path.join(fig1, f)), f).toBe(true);
    expect(epochRows(path.join(all, 'fig2'))).toEqual(epochRows(fig1));
    for (const set of ['fig4', 'fig5']) expect(json(all, set, 'config.json').experiment).toBe(set);
    const index = fs.readFileSync(path.join(all, 'report.html'), 'utf8');
    for (const part of ['fig1', 'fig2', 'fig4', 'fig5']) {
      expect(index).toContain(`href="${part}/report.html"`);
      expect(fs.existsSync(path.join(all, part, 'report.html'))).toBe(true);
    }
    // Headline numbers: fig1's final loss as the CLI prints it, fig4's comparison verdict.
    expect(index).toContain(summary.fig1.final.loss.toExponential(4));
    expect(index).toContain('enhanced init converges more slowly');
  });

  it('fig2 --from reuses a fig1 run without training; fig2 alone trains the same run', () => {
    const from = path.join(tmp, 'fig2-from');
    ok(['run', 'fig2', ...tiny, '--from', fig1, '--out', from]);
    const alone = path.join(tmp, 'fig2-alone');
    ok(['run', 'fig2', ...tiny, '--out', alone]);
    for (const dir of [from, alone]) {
      for (const f of RUN_FILES) expect(fs.existsSync(path.join(dir, f)), `${dir}/${f}`).toBe(true);
      // Same seed and config: the fig1 rows, whichever way they came.
      expect(epochRows(dir)).toEqual(epochRows(fig1));
      const s = json(dir, 'summary.json');
      expect(s.lStar.min.logLog.n).toBeGreaterThan(1);
      expect(s.verdicts.map((v: { name: string }) => v.name)).toEqual(['linear convergence', 'PL condition (L* = zero)']);
      expect(fs.readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain('Figure 2');
    }
  });

  it('fig4 writes the set files: config.json, per-L* rates and verdicts; report rebuilds it and exports PNGs', async () => {
    const dir = path.join(tmp, 'fig4');
    ok(['run', 'fig4', ...tiny, '--out', dir]);
    for (const f of ['config.json', 'summary.json', 'report.html']) expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    const config = json(dir, 'config.json');
    expect(config.experiment).toBe('fig4');
    expect(config.config.width).toBe(16);
    expect(config.adapter.backend).toBeTruthy();
    expect(config.runs.map((r: { label: string }) => r.label)).toEqual(['he', 'enhanced']);
    const summary = json(dir, 'summary.json');
    for (const run of summary.runs) {
      const member = json(dir, run.dir, 'summary.json');
      expect(json(dir, run.dir, 'config.json').config.init).toBe(run.label);
      for (const c of ['min', 'zero', 'fit']) {
        expect(run.lStar[c].rho).toBe(member.lStar[c].semiLog.rho);
        expect(run.lStar[c].logLogSlope).toBe(member.lStar[c].logLog.slope);
      }
      expect(run.verdicts).toEqual(member.verdicts);
    }
    const [he, enhanced] = summary.runs;
    const verdict = summary.verdicts[0];
    expect(verdict.name).toBe('enhanced init converges more slowly');
    expect(verdict.passed).toBe(enhanced.lStar.min.rho > he.lStar.min.rho);
    expect(fs.readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain('enhanced init converges more slowly');

    // report rebuilds the set's files from the members' metrics (the same numbers) ...
    fs.rmSync(path.join(dir, 'report.html'));
    fs.rmSync(path.join(dir, 'summary.json'));
    fs.rmSync(path.join(dir, he.dir, 'summary.json'));
    const args = ['report', dir, ...(chromium ? ['--png'] : [])];
    const r = ok(args);
    expect(r.stdout).toContain(path.join(dir, 'report.html'));
    expect(json(dir, 'summary.json')).toEqual(summary);
    // ... and with --png writes the figure's charts.
    if (missing('Chromium (for the --png check of lplr report)', chromium !== undefined, "install it with 'apt-get install -y chromium', or set CHROMIUM_PATH")) return;
    const pngs = ['fig4-gap.png', 'fig4-loss.png'].map((f) => path.join(dir, 'figures', f));
    for (const f of pngs) expect(r.stdout).toContain(f);
    expectPngs(pngs);
  });

  it('fig5 --widths 8,16,32 runs each width; the width verdict is the rank correlation of their final losses', () => {
    const dir = path.join(tmp, 'fig5');
    ok(['run', 'fig5', ...tiny, '--widths', '8,16,32', '--out', dir]);
    const config = json(dir, 'config.json');
    expect(config.experiment).toBe('fig5');
    expect(config.widths).toEqual([8, 16, 32]);
    const summary = json(dir, 'summary.json');
    expect(summary.runs.map((r: { width: number }) => r.width)).toEqual([8, 16, 32]);
    const finalLosses = summary.runs.map((run: { dir: string; width: number; finalLoss: number; finalDrift: number; lStar: Record<string, { rho: number }> }) => {
      expect(json(dir, run.dir, 'config.json').config.width).toBe(run.width);
      const member = json(dir, run.dir, 'summary.json');
      for (const c of ['min', 'zero', 'fit']) expect(run.lStar[c].rho).toBe(member.lStar[c].semiLog.rho);
      const rows = epochRows(path.join(dir, run.dir));
      expect(run.finalLoss).toBe(rows[rows.length - 1].loss);
      expect(run.finalDrift).toBe(rows[rows.length - 1].drift);
      return run.finalLoss;
    });
    // Spearman's ρ of (width, final loss) for distinct values: 1 − 6Σd²/(n(n²−1)), widths ascending.
    const ranks = finalLosses.map((l: number) => finalLosses.filter((o: number) => o < l).length + 1);
    const spearman = 1 - (6 * ranks.reduce((s: number, r: number, i: number) => s + (r - (i + 1)) ** 2, 0)) / (3 * 8);
    const verdict = summary.verdicts[0];
    expect(verdict.name).toBe('width effect');
    expect(verdict.values.spearman).toBeCloseTo(spearman, 12);
    expect(verdict.passed).toBe(spearman <= -0.9);
    expect(fs.readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain('Final training loss vs width');
  });

  it('report rebuilds an all directory (every part and the index); --fit-window refits every member', () => {
    fs.rmSync(path.join(all, 'report.html'));
    fs.rmSync(path.join(all, 'fig5', 'report.html'));
    const r = ok(['report', all, '--fit-window', '1:5']);
    expect(r.stdout).toContain(path.join(all, 'report.html'));
    expect(fs.readFileSync(path.join(all, 'report.html'), 'utf8')).toContain('href="fig5/report.html"');
    expect(fs.existsSync(path.join(all, 'fig5', 'report.html'))).toBe(true);
    expect(json(fig1, 'summary.json').window).toMatchObject({ start: 1, end: 5 });
    for (const run of json(all, 'fig5', 'summary.json').runs) expect(json(all, 'fig5', run.dir, 'summary.json').window).toMatchObject({ start: 1, end: 5 });
  });

  it('report on a directory that is neither a run nor a set says what it expects', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    const r = lplr(['report', empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no metrics\.jsonl and is not a fig4, fig5, all, seed-set or sweep directory/);
  });
});

// A small problem with known parameters: the first row's loss and accuracy are a CPU forward.
describe('lplr run fig1 --dataset --init-from (mse and bce)', () => {
  const n = 40;
  const d = 7;
  const width = 5;
  let state = 12345;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const x = Float32Array.from({ length: n * d }, () => 2 * next());
  const y = Float32Array.from({ length: n }, (_, i) => i % 2);
  const w0 = Float32Array.from({ length: width * d }, () => next());
  const b0 = Float32Array.from({ length: width }, () => 0.2 * next());
  const w2 = Float32Array.from({ length: width }, () => next());
  const b2 = Float32Array.from([0.25]);

  // f(x) = W2·relu(W0·x + b0) + b2 in float64 (PyTorch's Linear: W is [out, in]).
  const outputs = Array.from({ length: n }, (_, i) => {
    let out = b2[0];
    for (let j = 0; j < width; j++) {
      let h = b0[j];
      for (let k = 0; k < d; k++) h += w0[j * d + k] * x[i * d + k];
      out += w2[j] * Math.max(h, 0);
    }
    return out;
  });
  const mse = outputs.reduce((s, f, i) => s + (f - y[i]) ** 2, 0) / (2 * n);
  // mean of softplus(f) − y·f, written in the stable form.
  const bce = outputs.reduce((s, f, i) => s + Math.max(f, 0) - y[i] * f + Math.log1p(Math.exp(-Math.abs(f))), 0) / n;
  const accuracy = (threshold: number) => outputs.filter((f, i) => (f > threshold ? 1 : 0) === y[i]).length / n;

  const dataset = path.join(tmp, 'data.safetensors');
  const params = path.join(tmp, 'params.safetensors');
  fs.writeFileSync(dataset, serializeSafetensors([
    { name: 'x', shape: [n, d], data: x },
    { name: 'y', shape: [n], data: y },
  ]));
  fs.writeFileSync(params, serializeSafetensors([
    { name: '0.weight', shape: [width, d], data: w0 },
    { name: '0.bias', shape: [width], data: b0 },
    { name: '2.weight', shape: [1, width], data: w2 },
    { name: '2.bias', shape: [1], data: b2 },
  ]));
  const common = ['run', 'fig1', '--preset', 'tiny', '--quiet', '--dataset', dataset, '--init-from', params, '--width', String(width), '--depth', '2', '--epochs', '3'];

  it('the data puts outputs between the two thresholds, so the accuracy rules differ', () => {
    expect(accuracy(0)).not.toBe(accuracy(0.5));
  });

  it.each([
    ['mse', mse, 0.5],
    ['bce', bce, 0],
  ] as const)('--loss %s: first row = CPU forward of the given weights on the given data', (loss, expected, threshold) => {
    const dir = path.join(tmp, `ds-${loss}`);
    ok([...common, '--loss', loss, '--out', dir]);
    const config = json(dir, 'config.json').config;
    expect(config).toMatchObject({ loss, dataset, initFrom: params, width, depth: 2 });
    const rows = epochRows(dir);
    expect(rows).toHaveLength(4);
    expect(rows[0].drift).toBe(0);
    expect(Math.abs(rows[0].loss - expected) / expected).toBeLessThan(1e-5);
    expect(rows[0].acc).toBe(accuracy(threshold));
    expect(rows[3].loss).toBeLessThan(rows[0].loss);
  });
});
