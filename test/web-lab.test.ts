// The page's platform-neutral parts, run in Node: the Lab trains exactly what the CLI trains
// (same data selection, same rows bit for bit on one adapter), stop/resume continues from the
// in-memory state without changing a number, the downloadable files are a run directory that
// `lplr report` reads, the data loaders (served, gzipped, picked) give the CLI's MNIST, and
// kernel choices and experiment plans behave.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError, DataError } from '../src/errors.js';
import { matmul } from '../src/ops/matmul.js';
import { fromData } from '../src/tensor.js';
import { parseArgs } from '../harness/options/args.js';
import { reportVerb } from '../harness/cli/verb-report.js';
import { loadMnist, mnistPackageDir } from '../harness/data/mnist.js';
import { runMlp } from '../harness/experiments/mlp-lab.js';
import type { MlpRunConfig } from '../harness/experiments/mlp-config.js';
import { createProgress } from '../harness/run/progress.js';
import { configHash, readJson, readMetrics } from '../harness/run/run-dir.js';
import { classifyMnistFileName, dataLoaderFor, fetchMnist, mnistFromBytes, mnistFromPicked, mnistProvider } from '../harness/web/data-sources.js';
import { experimentOptions, findWebExperiment } from '../harness/web/experiments.js';
import { applyKernelChoices, recordKernelChoices } from '../harness/web/kernel-choices.js';
import { Lab, type LabRun } from '../harness/web/lab.js';
import { mlpConfigHash, runFiles, runSummary } from '../harness/web/run-files.js';
import { startLabServer } from '../harness/web/server.js';
import { mlpIdentity } from '../harness/experiments/mlp-config.js';
import { useGpu } from './helpers/gpu.js';

const gpu = useGpu();
const mnist = loadMnist({ split: 'train' });

function plan(experiment: string, argv: string[]) {
  const exp = findWebExperiment(experiment);
  return exp.plan(parseArgs(argv, experimentOptions(exp)));
}

/** The numbers of a row (timeMs is wall time and differs between runs). */
const numbers = (rows: readonly { epoch: number; loss: number; gradNormSq: number; drift: number; acc: number; lr: number }[]) =>
  rows.map((r) => ({ epoch: r.epoch, loss: r.loss, gradNormSq: r.gradNormSq, drift: r.drift, acc: r.acc, lr: r.lr }));

describe('Lab vs the CLI', () => {
  let tmp: string;
  let cliDir: string;
  let cliRows: ReturnType<typeof numbers>;
  const tiny = ['--preset', 'tiny', '--epochs', '8'];

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-web-lab-'));
    cliDir = path.join(tmp, 'cli');
    fs.mkdirSync(cliDir);
    const config = plan('fig1', tiny)[0].config;
    const res = await runMlp(gpu.rt(), config, cliDir, createProgress({ quiet: true }));
    cliRows = numbers(res.rows as LabRun['rows']);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('an uninterrupted Lab run gives the CLI run bit for bit', async () => {
    const lab = new Lab({ rt: gpu.rt(), plan: plan('fig1', tiny), data: mnistProvider(mnist), yieldToUi: async () => {} });
    await lab.run();
    expect(lab.status).toBe('done');
    expect(lab.runs[0].done).toBe(true);
    expect(numbers(lab.runs[0].rows)).toEqual(cliRows);
  });

  test('stop after epoch 2, resume: the same rows, no epoch lost or repeated', async () => {
    let lab!: Lab;
    let stops = 0;
    lab = new Lab({
      rt: gpu.rt(),
      plan: plan('fig1', tiny),
      data: mnistProvider(mnist),
      yieldToUi: async () => {},
      onUpdate: (l) => {
        if (l.runs[0].rows.length === 3 && stops === 0) {
          stops++;
          void lab.stop();
        }
      },
    });
    await lab.run();
    expect(lab.status).toBe('stopped');
    expect(lab.runs[0].rows.map((r) => r.epoch)).toEqual([0, 1, 2]);
    await lab.run();
    expect(lab.status).toBe('done');
    expect(numbers(lab.runs[0].rows)).toEqual(cliRows);
    // Time keeps counting from the stop, it does not restart at 0.
    const t = lab.runs[0].rows.map((r) => r.timeMs);
    expect(t.every((v, i) => i === 0 || v >= t[i - 1])).toBe(true);
  });

  test('the downloadable files are a run directory: CLI config hash, rows, and lplr report renders it', async () => {
    const lab = new Lab({ rt: gpu.rt(), plan: plan('fig1', tiny), data: mnistProvider(mnist), yieldToUi: async () => {} });
    await lab.run();
    const run = lab.runs[0];
    const rt = gpu.rt();
    const files = await runFiles(run.rows, {
      config: run.config,
      adapter: rt.ctx.info,
      limits: rt.ctx.limits,
      features: rt.ctx.features,
      kernels: lab.kernels,
      version: 'test',
      platform: 'vitest',
      startedAt: run.info!.startedAt,
      data: run.info!.data,
      parameters: run.info!.parameters,
      gflopPerEpoch: run.info!.gflopPerEpoch,
    });
    const dir = path.join(tmp, 'browser');
    fs.mkdirSync(dir);
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    const cliConfig = readJson<{ configHash: string; config: MlpRunConfig; data: unknown; parameters: number }>(path.join(cliDir, 'config.json'));
    const browserConfig = readJson<typeof cliConfig>(path.join(dir, 'config.json'));
    expect(browserConfig.configHash).toBe(cliConfig.configHash);
    expect(browserConfig.config).toEqual(cliConfig.config);
    expect(browserConfig.data).toEqual(cliConfig.data);
    expect(browserConfig.parameters).toBe(cliConfig.parameters);
    expect(numbers(readMetrics(path.join(dir, 'metrics.jsonl')) as unknown as LabRun['rows'])).toEqual(cliRows);
    const summary = readJson<{ final: { loss: number }; lStar: unknown }>(path.join(dir, 'summary.json'));
    const cliSummary = readJson<typeof summary>(path.join(cliDir, 'summary.json'));
    expect(summary.final.loss).toBe(cliSummary.final.loss);
    expect(summary.lStar).toEqual(cliSummary.lStar);
    const out = process.stdout.write;
    process.stdout.write = () => true;
    try {
      expect(await reportVerb.run([dir])).toBe(0);
    } finally {
      process.stdout.write = out;
    }
    expect(fs.readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain('id="fig1-gap"');
  });
});

describe('config hash', () => {
  test.each([
    ['--preset', 'tiny'],
    ['--preset', 'paper', '--fit-window', '5:200', '--digits', '3,8'],
    ['--preset', 'default', '--init', 'enhanced', '--depth-factor', '0.25', '--subset', 'all'],
  ])('equals the CLI configHash for %s …', async (...argv) => {
    const config = plan('fig1', argv)[0].config;
    expect(await mlpConfigHash(config)).toBe(configHash(mlpIdentity(config)));
  });
});

describe('verdict thresholds in the page', () => {
  test('--threshold reaches the page summary and its verdicts, as in the CLI', () => {
    const rows = Array.from({ length: 121 }, (_, t) => ({ kind: 'epoch' as const, epoch: t, loss: 0.4 * 0.9 ** t, gradNormSq: 0.3 * 0.9 ** t * (1 + 0.01 * Math.sin(t)), drift: 0.01 * t, acc: 0.9, lr: 0.01, timeMs: t }));
    const config = plan('fig1', ['--preset', 'tiny', '--epochs', '120', '--lstar-extend', '0', '--threshold', 'rateRatioMin=1.5'])[0].config as MlpRunConfig;
    expect(config.thresholds?.rateRatioMin).toBe(1.5);
    const strict = runSummary(rows, config);
    const loose = runSummary(rows, plan('fig1', ['--preset', 'tiny', '--epochs', '120', '--lstar-extend', '0'])[0].config as MlpRunConfig);
    expect(strict.thresholds.rateRatioMin).toBe(1.5);
    const linear = (s: typeof strict) => s.verdicts.filter((v) => /linear/i.test(v.name)).map((v) => v.passed);
    expect(linear(loose)).toContain(true);
    expect(linear(strict).every((p) => !p)).toBe(true);
  });
});

describe('data sources', () => {
  test('served MNIST over HTTP equals the CLI loader; the registered loader loads it once', async () => {
    const server = await startLabServer({ files: new Map([['index.html', Buffer.from('x')]]) });
    try {
      const served = await fetchMnist(server.url);
      expect(served.count).toBe(mnist.count);
      expect(Buffer.compare(Buffer.from(served.labels), Buffer.from(mnist.labels))).toBe(0);
      expect(Buffer.compare(Buffer.from(served.images), Buffer.from(mnist.images))).toBe(0);
      const choice = { from: 'served' as const, pageUrl: server.url, url: '', files: [] };
      const first = dataLoaderFor('mnist')(choice);
      expect(dataLoaderFor('mnist')(choice)).toBe(first);
      const config = plan('fig1', ['--preset', 'tiny'])[0].config;
      expect((await (await first)(config)).n).toBe(64);
      // CIFAR-10 has its own loader now (test/web-fig3.test.ts covers it).
      expect(typeof dataLoaderFor('cifar')).toBe('function');
    } finally {
      await server.close();
    }
  });

  test('gzipped picked files decompress to the same data; the selection equals the CLI subset', async () => {
    const dir = mnistPackageDir()!;
    const images = fs.readFileSync(path.join(dir, 'train-images-idx3-ubyte'));
    const labels = fs.readFileSync(path.join(dir, 'train-labels-idx1-ubyte'));
    const picked = [
      { name: 'train-labels-idx1-ubyte.gz', arrayBuffer: async () => new Uint8Array(gzipSync(labels)).buffer },
      { name: 'train-images.idx3-ubyte', arrayBuffer: async () => new Uint8Array(images).buffer },
    ];
    const data = await mnistFromPicked(picked);
    expect(Buffer.compare(Buffer.from(data.labels), Buffer.from(mnist.labels))).toBe(0);
    const config = plan('fig1', ['--preset', 'tiny', '--digits', '3,8', '--seed', '4'])[0].config;
    const selected = await mnistProvider(data)(config);
    expect(selected.source).toBe('MNIST train, digits 3/8, stratified subset of 64');
    const { binaryMnist } = await import('../harness/data/mnist.js');
    const cli = binaryMnist('train', { digits: [3, 8], subset: 64, seed: 4, data: mnist });
    expect(Buffer.compare(Buffer.from(selected.x.buffer), Buffer.from(cli.x.buffer))).toBe(0);
    expect([...selected.y]).toEqual([...cli.y]);
  });

  test('bad picks and bad bytes are DataErrors that say what to do', async () => {
    await expect(mnistFromPicked([{ name: 'train-images-idx3-ubyte', arrayBuffer: async () => new ArrayBuffer(4) }])).rejects.toThrow(/lack train-labels-idx1-ubyte\. Pick/);
    await expect(mnistFromBytes(new Uint8Array([0x1f, 0x8b, 1, 2, 3]), new Uint8Array(8), 'a.gz', 'b')).rejects.toThrow(DataError);
    await expect(mnistFromBytes(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1]), new Uint8Array(9), 'imgs', 'labs')).rejects.toThrow(/imgs is truncated/);
  });

  test.each([
    ['train-images-idx3-ubyte', 'train-images'],
    ['train-labels-idx1-ubyte.gz', 'train-labels'],
    ['t10k-images.idx3-ubyte', 'test-images'],
    ['Downloads/T10K-LABELS-IDX1-UBYTE', 'test-labels'],
    ['train-images.png', undefined],
  ])('classifies %s', (name, kind) => {
    expect(classifyMnistFileName(name)).toBe(kind);
  });
});

describe('kernel choices', () => {
  test('recorded choices include the matmul setting; per-class pins are applied as given', () => {
    const rt = gpu.rt();
    const recorded = recordKernelChoices(rt);
    expect(Object.keys(recorded)).toContain('matmul');
    applyKernelChoices(rt, { 'matmul@2x2x2:nn': 'naive' });
    expect(rt.kernelChoices.get('matmul@2x2x2:nn')).toBe('naive');
    // The pin is used: a 2×2 product is still right with the pinned naive kernel.
    const c = matmul(fromData(new Float32Array([1, 2, 3, 4]), [2, 2], rt), fromData(new Float32Array([5, 6, 7, 8]), [2, 2], rt));
    return c.read().then((v) => expect([...v]).toEqual([19, 22, 43, 50]));
  });

  test('unknown names and values are ConfigErrors', () => {
    expect(() => applyKernelChoices(gpu.rt(), { conv9: 'x' })).toThrow(/Unknown kernel choice 'conv9'/);
    expect(() => applyKernelChoices(gpu.rt(), { matmul: 'fastest' })).toThrow(ConfigError);
    expect(() => applyKernelChoices(gpu.rt(), { 'matmul@4x4x4:nn': 'auto' })).toThrow(/not a variant/);
  });
});

describe('experiment plans', () => {
  test('fig4 trains He then enhanced; fig5 one run per width, same base config', () => {
    const fig4 = plan('fig4', ['--preset', 'tiny']);
    expect(fig4.map((r) => [r.label, r.config.init])).toEqual([
      ['he', 'he'],
      ['enhanced', 'enhanced'],
    ]);
    const fig5 = plan('fig5', ['--preset', 'tiny', '--widths', '8,16,32']);
    expect(fig5.map((r) => r.config.width)).toEqual([8, 16, 32]);
    expect(new Set(fig5.map((r) => r.config.subset))).toEqual(new Set([64]));
  });

  test('what the page cannot do is refused with the reason', () => {
    expect(() => findWebExperiment('fig3')).toThrow(/CIFAR-10/);
    expect(() => findWebExperiment('fig9')).toThrow(/Unknown experiment 'fig9'/);
    expect(() => plan('fig1', ['--ntk-every', '5'])).toThrow(/not available in the browser/);
    expect(() => plan('fig5', ['--widths', '8,8'])).toThrow(/duplicates/);
  });
});
