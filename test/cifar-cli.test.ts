// `lplr run fig3` through the CLI on CIFAR-10 records written here: every output file, the
// cosine schedule in the rows, the missing-data message, kill + resume giving the rows of an
// uninterrupted run (data order and augmentation streams restored from the checkpoint), the
// full-gradient report section, and --loss mse with --ntk-every: NTK rows and the theory
// section, with the training rows bit for bit those of the same run without the checks.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeCifarRecords } from './helpers/cifar-records.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');

function lplr(args: string[], timeout = 120_000) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const writeRecords = writeCifarRecords;

function rows(dir: string) {
  const text = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const withoutTime = (list: Record<string, unknown>[]) => list.map(({ timeMs: _t, ...rest }) => rest);

describe('lplr run fig3', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-fig3-'));
  const data = path.join(tmp, 'data');
  fs.mkdirSync(data);
  // 13 training records, 8 of them in classes 0-4; 10 test records, 5 in classes 0-4.
  writeRecords(path.join(data, 'data_batch_1.bin'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2], 1);
  writeRecords(path.join(data, 'test_batch.bin'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 2);

  it('the tiny preset (2 steps) writes every output file', () => {
    const out = path.join(tmp, 'tiny');
    const r = lplr(['run', 'fig3', '--preset', 'tiny', '--data-dir', data, '--out', out, '--quiet', '--save-params']);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    for (const f of ['config.json', 'invocation.json', 'metrics.jsonl', 'summary.json', 'report.html']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    // torchvision names, batch-norm buffers included.
    const params = fs.readFileSync(path.join(out, 'params.safetensors'));
    const header = params.subarray(8, 8 + Number(params.readBigUInt64LE(0))).toString('utf8');
    // A PyTorch CIFAR ResNet's names (docs/resnet.md): shortcut for our downsample, linear for fc.
    for (const name of ['conv1.weight', 'layer3.0.shortcut.1.running_var', 'linear.bias']) expect(header).toContain(`"${name}"`);
    const list = rows(out);
    const steps = list.filter((x) => x.kind === 'step');
    // Cosine over 2 steps: lr·(1 + cos(π·s/2))/2.
    expect(steps).toHaveLength(2);
    expect(steps[0].lr).toBe(0.05);
    expect(steps[1].lr).toBeCloseTo(0.025, 15);
    expect(list.filter((x) => x.kind === 'epoch').map((x) => x.epoch)).toEqual([0, 1]);
    expect(list.filter((x) => x.kind === 'eval').map((x) => x.epoch)).toEqual([1, 2]);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(config.config).toMatchObject({ kind: 'cifar', depth: 8, widths: [4, 8, 8], batchSize: 8, classes: [0, 1, 2, 3, 4] });
    expect(config.data.trainFiles).toEqual([{ path: path.join(data, 'data_batch_1.bin'), records: 13 }]);
    expect(config.data.trainImages).toBe(8);
    expect(config.data.testImages).toBe(5);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.final.testAcc * 5).toBeCloseTo(Math.round(summary.final.testAcc * 5), 9);
    expect(summary.smoothed.steps).toEqual([0, 1]);
    expect(summary.timing).toBeDefined();
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('Figure 3');
    expect(html).toContain('id="cifar-acc"');
  });

  it('without CIFAR-10 it says how to get it, before creating the run directory', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-fig3-none-'));
    const out = path.join(tmp, 'none');
    const r = lplr(['run', 'fig3', '--data-dir', empty, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/CIFAR-10 train data not found/);
    expect(r.stderr).toMatch(/npx lplr data fetch cifar10.*--data-dir/);
    expect(fs.existsSync(out)).toBe(false);
  });

  describe('--loss mse with --ntk-every', () => {
    const base = ['run', 'fig3', '--preset', 'tiny', '--data-dir', data, '--loss', 'mse', '--quiet'];
    const training = (list: Record<string, unknown>[]) => withoutTime(list.filter((x) => x.kind === 'step' || x.kind === 'epoch' || x.kind === 'eval'));

    it('writes ntk rows and the theory section, and the training rows equal those of the run without checks', () => {
      const plain = path.join(tmp, 'mse');
      const checked = path.join(tmp, 'mse-ntk');
      expect(lplr([...base, '--out', plain]).code).toBe(0);
      const r = lplr([...base, '--ntk-every', '1', '--ntk-samples', '3', '--ema-beta', '0.5', '--out', checked]);
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.code).toBe(0);
      const list = rows(checked);
      const ntk = list.filter((x) => x.kind === 'ntk');
      expect(ntk.map((x) => x.epoch)).toEqual([0, 1, 2]);
      for (const x of ntk) {
        expect(x).toMatchObject({ model: 'cnn', lossKind: 'mse', bnMode: 'eval', samples: 3, outputs: 5, kernelSize: 15, lanczosConverged: 1 });
        expect(x.identityRelErr as number).toBeLessThanOrEqual(1e-4);
        expect(x.lambdaMin as number).toBeGreaterThan(0);
        // The PL inequality on S with the current kernel (Theorem 5.1 with n = |S|).
        expect(x.slackLocal as number).toBeGreaterThanOrEqual(1 - 1e-3);
        expect(x.muBound as number).toBeCloseTo((x.lambdaMin as number) / 3, 12);
      }
      expect(ntk[0]).toMatchObject({ lambdaMinRatio: 1, kernelDrift: 0, drift: 0 });
      // Measuring changes nothing: step, epoch and eval rows as without --ntk-every, bit for bit.
      expect(training(list)).toEqual(training(rows(plain)));
      expect(training(list).length).toBe(6);
      // ntk rows come before their epoch's steps (epoch 0) and after the last eval (epoch E).
      expect(list.findIndex((x) => x.kind === 'ntk')).toBeLessThan(list.findIndex((x) => x.kind === 'step'));
      expect(list[list.length - 1]).toMatchObject({ kind: 'ntk', epoch: 2 });
      const html = fs.readFileSync(path.join(checked, 'report.html'), 'utf8');
      expect(html).toContain('id="cifar-theory"');
      expect(html).toContain('id="cifar-theory-pl"');
      expect(html).not.toContain('id="theory"');
      const config = JSON.parse(fs.readFileSync(path.join(checked, 'config.json'), 'utf8'));
      expect(config.config).toMatchObject({ loss: 'mse', ntkEvery: 1, ntkSamples: 3, emaBeta: 0.5 });
      const plainConfig = JSON.parse(fs.readFileSync(path.join(plain, 'config.json'), 'utf8'));
      expect(config.configHash).not.toBe(plainConfig.configHash);
      // --ema-beta reaches the summary (the smoothing of Figure 3) and only it.
      expect(JSON.parse(fs.readFileSync(path.join(checked, 'summary.json'), 'utf8')).smoothed.beta).toBe(0.5);
      expect(JSON.parse(fs.readFileSync(path.join(plain, 'summary.json'), 'utf8')).smoothed.beta).toBe(0.98);
    });

    it('lplr report rebuilds a fig3 run with its own EMA β and throughput: the same summary.json', () => {
      const checked = path.join(tmp, 'mse-ntk');
      const before = fs.readFileSync(path.join(checked, 'summary.json'), 'utf8');
      fs.rmSync(path.join(checked, 'summary.json'));
      fs.rmSync(path.join(checked, 'report.html'));
      const r = lplr(['report', checked]);
      expect(r.code, r.stderr).toBe(0);
      const after = fs.readFileSync(path.join(checked, 'summary.json'), 'utf8');
      expect(JSON.parse(after)).toEqual(JSON.parse(before));
      expect(JSON.parse(after).smoothed.beta).toBe(0.5);
      expect(JSON.parse(after).timing).toBeDefined();
      const html = fs.readFileSync(path.join(checked, 'report.html'), 'utf8');
      expect(html).toContain('Figure 3');
      expect(html).toContain('id="cifar-theory"');
    });

    it('an invalid --ema-beta says what to use', () => {
      const bad = lplr(['run', 'fig3', '--preset', 'tiny', '--data-dir', data, '--ema-beta', '1', '--out', path.join(tmp, 'bad')]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--ema-beta must be in \[0, 1\), got 1/);
    });
  });

  describe('kill and resume', () => {
    // A checkpoint at every epoch end and (tiny --checkpoint-minutes) between every two steps.
    const args = ['run', 'fig3', '--preset', 'tiny', '--data-dir', data, '--batch-size', '4', '--epochs', '8', '--augment', '--full-grad-every', '3', '--checkpoint-every', '1', '--checkpoint-minutes', '0.000001', '--quiet'];
    const reference = path.join(tmp, 'reference');

    it('an uninterrupted run follows the cosine schedule', () => {
      const r = lplr([...args, '--out', reference]);
      expect(r.code).toBe(0);
      const steps = rows(reference).filter((x) => x.kind === 'step');
      expect(steps).toHaveLength(16); // 8 images in batches of 4, 8 epochs
      steps.forEach((x, s) => expect(x.lr).toBeCloseTo(0.025 * (1 + Math.cos((Math.PI * s) / 16)), 15));
      expect(rows(reference).filter((x) => x.kind === 'fullgrad').map((x) => x.epoch)).toEqual([0, 3, 6]);
      // The full-gradient points get their own PL section and chart.
      const html = fs.readFileSync(path.join(reference, 'report.html'), 'utf8');
      expect(html).toContain('id="cifar-fullgrad"');
      expect(html).toContain('id="cifar-fullgrad-pl"');
      expect(html).toContain('id="cifar-fullgrad-table"');
    });

    it('SIGKILL after a checkpoint, then lplr resume, gives identical rows', async () => {
      const dir = path.join(tmp, 'killed');
      const child = spawn(process.execPath, [cli, ...args, '--out', dir], { cwd: root, stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
      const ckpt = path.join(dir, 'checkpoints', 'checkpoint.json');
      // Kill once a checkpoint taken inside an epoch is there (the run goes on for a moment).
      const midEpoch = () => fs.existsSync(ckpt) && JSON.parse(fs.readFileSync(ckpt, 'utf8')).extra?.midEpoch !== undefined;
      for (let i = 0; i < 6000 && !midEpoch(); i++) await new Promise((r) => setTimeout(r, 10));
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      const record = JSON.parse(fs.readFileSync(ckpt, 'utf8'));
      expect(record.nextEpoch).toBeLessThan(8);
      expect(Object.keys(record.rng)).toEqual(['shuffle', 'augment']);
      // The resume pins the kernels the checkpoint recorded: a copy whose record names a
      // kernel that does not exist is refused with the reason, before any step.
      const bad = path.join(tmp, 'killed-bad-kernel');
      fs.cpSync(dir, bad, { recursive: true });
      const badCkpt = path.join(bad, 'checkpoints', 'checkpoint.json');
      fs.writeFileSync(badCkpt, JSON.stringify({ ...record, kernelChoices: { ...record.kernelChoices, 'conv@forward:1x3x32x32*4x3x3s1p1': 'warp-drive' } }));
      const refused = lplr(['resume', bad, '--quiet']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/warp-drive is not a variant/);
      const r = lplr(['resume', dir, '--quiet']);
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.code).toBe(0);
      expect(withoutTime(rows(dir))).toEqual(withoutTime(rows(reference)));
    }, 60_000);
  });
});
