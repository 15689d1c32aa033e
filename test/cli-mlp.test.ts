// The MLP lab through the CLI: every output file, determinism, validation before any device.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serializeSafetensors } from '../src/io/safetensors.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');

function lplr(args: string[], timeout = 120_000) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

function epochRows(dir: string) {
  return fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.kind === 'epoch')
    .map(({ timeMs: _t, ...rest }) => rest);
}

describe('lplr run fig1 (tiny preset)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-cli-'));

  it('writes config, metrics, summary and report; a second run with the same seed is identical', () => {
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    const ra = lplr(['run', 'fig1', '--preset', 'tiny', '--out', a, '--quiet']);
    expect(ra.stderr).not.toMatch(/internal error/);
    expect(ra.code).toBe(0);
    for (const f of ['config.json', 'metrics.jsonl', 'summary.json', 'report.html']) expect(fs.existsSync(path.join(a, f))).toBe(true);
    const rows = epochRows(a);
    expect(rows.map((r) => r.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const config = JSON.parse(fs.readFileSync(path.join(a, 'config.json'), 'utf8'));
    expect(config.config.width).toBe(16);
    expect(config.adapter.backend).toBeTruthy();
    const summary = JSON.parse(fs.readFileSync(path.join(a, 'summary.json'), 'utf8'));
    expect(summary.lStar.min.semiLog.n).toBeGreaterThan(1);
    expect(fs.readFileSync(path.join(a, 'report.html'), 'utf8')).toContain('Figure 1');
    // Same seed, stricter verdicts: the thresholds are recorded and applied, not part of the hash.
    expect(lplr(['run', 'fig1', '--preset', 'tiny', '--out', b, '--quiet', '--threshold', 'rateRatioMin=1.5']).code).toBe(0);
    expect(epochRows(b)).toEqual(rows);
    const configB = JSON.parse(fs.readFileSync(path.join(b, 'config.json'), 'utf8'));
    expect(configB.config.thresholds).toEqual({ rateRatioMin: 1.5, minThirdPoints: 15, minEfolds: 1, plMedianRatioMin: 0.75, floorRel: 1e-5, risingEpochs: 3, widthSpearmanMax: -0.9, seedPassFraction: 0.8 });
    expect(configB.configHash).toBe(config.configHash);
    const summaryB = JSON.parse(fs.readFileSync(path.join(b, 'summary.json'), 'utf8'));
    expect(summaryB.thresholds.rateRatioMin).toBe(1.5);
    // The tiny preset's 6 epochs cannot decide: no linear-convergence verdict passes.
    const linear = summaryB.verdicts.filter((v: { name: string }) => v.name.startsWith('linear convergence'));
    expect(linear.length).toBeGreaterThan(0);
    expect(linear.every((v: { passed: boolean }) => !v.passed)).toBe(true);

    // lplr report reads the thresholds back from config.json.
    configB.config.thresholds.rateRatioMin = 0.5;
    fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(configB));
    expect(lplr(['report', b]).code).toBe(0);
    const rebuilt = JSON.parse(fs.readFileSync(path.join(b, 'summary.json'), 'utf8'));
    expect(rebuilt.thresholds.rateRatioMin).toBe(0.5);
    expect(rebuilt.verdicts.find((v: { name: string }) => v.name.startsWith('linear convergence')).rule).toContain('q ≥ 0.5');
  });

  it('--dataset runs record the file by content and no MNIST digits or subset', () => {
    const file = path.join(tmp, 'data.safetensors');
    const n = 24;
    const d = 6;
    fs.writeFileSync(
      file,
      serializeSafetensors([
        { name: 'x', shape: [n, d], data: Float32Array.from({ length: n * d }, (_, i) => ((i * 7) % 11) / 11) },
        { name: 'y', shape: [n], data: Float32Array.from({ length: n }, (_, i) => i % 2) },
      ]),
    );
    const out = path.join(tmp, 'ds');
    const r = lplr(['run', 'fig1', '--preset', 'tiny', '--dataset', file, '--out', out, '--quiet']);
    expect(r.stderr).not.toMatch(/lplr:/);
    expect(r.code).toBe(0);
    const { config } = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(config.digits).toBeNull();
    expect(config.subset).toBeNull();
    const bytes = fs.readFileSync(file);
    expect(config.dataContent).toEqual({ kind: 'dataset-file', bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  });

  it('refuses to overwrite a run without --force', () => {
    const r = lplr(['run', 'fig1', '--preset', 'tiny', '--out', path.join(tmp, 'a'), '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already exists and is not empty.*--force/);
  });

  it('a failing --force run leaves the previous run alone and fails before any device', () => {
    const prev = path.join(tmp, 'prev');
    fs.mkdirSync(prev, { recursive: true });
    const files: Record<string, string> = {
      'config.json': '{"experiment":"fig1"}\n',
      'metrics.jsonl': '{"kind":"epoch","epoch":0,"loss":0.5}\n',
      'summary.json': '{}\n',
      'report.html': '<html></html>\n',
    };
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(prev, name), text);
    const bad = path.join(tmp, 'bad-mnist');
    fs.mkdirSync(bad, { recursive: true });
    // Right size for a 1-image file, wrong magic.
    fs.writeFileSync(path.join(bad, 'train-images-idx3-ubyte'), Buffer.alloc(16 + 784, 0x2a));
    fs.writeFileSync(path.join(bad, 'train-labels-idx1-ubyte'), Buffer.from([0, 0, 8, 1, 0, 0, 0, 1, 0]));
    // Without --quiet: the adapter line would show if a device were created first.
    const r = lplr(['run', 'fig1', '--preset', 'tiny', '--data-dir', bad, '--out', prev, '--force']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^lplr: .*train-images-idx3-ubyte has IDX magic 0x2a2a2a2a/);
    expect(fs.readdirSync(prev).sort()).toEqual(Object.keys(files).sort());
    for (const [name, text] of Object.entries(files)) expect(fs.readFileSync(path.join(prev, name), 'utf8')).toBe(text);
  });

  it.each([
    [['run', 'fig1', '--subset', '99999'], /^lplr: --subset 99999 exceeds the 12665 training samples of digits 0 and 1/],
    [['run', 'fig4', '--preset', 'tiny', '--init-from', path.join(root, 'package.json')], /^lplr: .*package\.json/],
  ])('%j fails with one stderr line and creates no run directory', (args, message) => {
    const out = path.join(tmp, `never-${(args as string[]).length}-${Math.random().toString(36).slice(2)}`);
    const r = lplr([...(args as string[]), '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message as RegExp);
    expect(fs.existsSync(out)).toBe(false);
  });

  it.each([
    [['run', 'fig1', '--widht', '8'], /Unknown option --widht\. Did you mean --width\?/],
    [['run', 'fig1', '--threshold', 'rateRatio=0.5'], /--threshold: unknown threshold 'rateRatio'\. Did you mean 'rateRatioMin'\?/],
    [['run', 'fig1', '--width', 'abc'], /--width expects an integer, got 'abc'/],
    [['run', 'fig1', '--lr', '-1'], /--lr must be >= 0/],
    [['run', 'fig1', '--loss', 'mae'], /--loss must be one of mse, bce/],
    [['run', 'fig9'], /Unknown experiment 'fig9'\. Did you mean 'fig1'\?/],
    [['frobnicate'], /Unknown command 'frobnicate'/],
    [['run', 'fig1', '--digits', '3,3'], /two different digits/],
  ])('rejects %j with a one-line error and exit code 2', (args, message) => {
    const r = lplr(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('lplr:'))).toHaveLength(1);
    expect(r.stderr).toMatch(message as RegExp);
  });

  it('prints the options with defaults', () => {
    const r = lplr(['run', 'fig1', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--width', '--depth', '--epochs', '--lr', '--loss', '--init', '--digits', '--subset', '--seed', '--data-dir', '--dataset', '--init-from', '--out', '--preset', '--fit-window', '--threshold']) {
      expect(r.stdout).toContain(flag);
    }
    const line = (flag: string) => r.stdout.split('\n').find((l) => l.trimStart().startsWith(`${flag} `)) ?? '';
    // Options set by the preset show each preset's value (README: default W 256 on 2,000 samples; paper W 2048, all samples).
    expect(line('--width')).toContain('(preset default: 256, paper: 2048, tiny: 16)');
    expect(line('--depth')).toContain('(preset default: 5, paper: 5, tiny: 3)');
    expect(line('--epochs')).toContain('(preset default: 250, paper: 250, tiny: 6)');
    expect(line('--lr')).toContain('(preset default: 0.001, paper: 0.001, tiny: 0.01)');
    expect(line('--init')).toContain('(preset default: he, paper: he, tiny: he)');
    expect(line('--subset')).toContain('(preset default: 2000, paper: all, tiny: 64)');
    // Every other option has its default, and the thresholds list theirs.
    for (const [flag, def] of [['--loss', 'mse'], ['--seed', '0'], ['--digits', '0,1'], ['--preset', 'default']]) expect(line(flag)).toContain(`(default: ${def})`);
    expect(line('--threshold')).toContain('rateRatioMin=0.7, minThirdPoints=15, minEfolds=1, plMedianRatioMin=0.75');
  });
});
