// The page's Figure 3 path, run in Node: CIFAR-10 batch files written here are picked (or
// fetched from a URL folder) through the page's 'cifar' loader, the Lab trains them with the
// tiny preset, and rows and downloads equal what the CLI's runCifar writes for the same
// records and seed on the same adapter; stop inside an epoch and resume changes no number; the
// live sections are the report's Figure 3 charts; without data the loader says how to get it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DataError } from '../src/errors.js';
import type { MetricRow } from '../src/metrics/schema.js';
import { parseArgs } from '../harness/options/args.js';
import { reportVerb } from '../harness/cli/verb-report.js';
import { cifarTiming as cliCifarTiming, loadCifarRunData, runCifar } from '../harness/experiments/cifar-lab.js';
import { CIFAR_OPTIONS, resolveCifarConfig, type CifarRunConfig } from '../harness/experiments/cifar-config.js';
import { createProgress } from '../harness/run/progress.js';
import { readJson, readMetrics } from '../harness/run/run-dir.js';
import { classifyCifarFileName, dataLoaderFor } from '../harness/web/data-sources.js';
import { cifarWebExperiment, experimentOptions, findWebExperiment } from '../harness/web/experiments.js';
import { Lab, type CifarLabData } from '../harness/web/lab.js';
import { cifarTiming, runFiles } from '../harness/web/run-files.js';
import { startLabServer } from '../harness/web/server.js';
import { useGpu } from './helpers/gpu.js';

const gpu = useGpu();
const PIXELS = 3072;

/** CIFAR-10 records: label bytes as given, pixels from a fixed integer pattern per file. */
function records(labels: readonly number[], seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(labels.length * (PIXELS + 1));
  labels.forEach((label, i) => {
    const at = i * (PIXELS + 1);
    out[at] = label;
    // Class-dependent brightness so that training has something to learn.
    for (let p = 0; p < PIXELS; p++) out[at + 1 + p] = (seed + 37 * label + 7 * i + 3 * p + ((p * p) % 23)) % 256;
  });
  return out;
}

// Classes 0..4 are the tiny preset's; 7 and 9 must be left out.
const TRAIN_LABELS = [0, 1, 2, 3, 4, 7, 0, 1, 2, 3, 4, 9, 0, 1, 2, 3, 4, 0, 1, 2];
const TEST_LABELS = [4, 3, 2, 1, 0, 8, 0, 1];
// Two epochs, a full-training-set measurement every epoch (fullgrad rows too).
const ARGV = ['--preset', 'tiny', '--full-grad-every', '1'];

/** A row without its wall-clock time (differs between runs). */
const numbers = (rows: readonly MetricRow[]) => rows.map((r) => ({ ...r, timeMs: undefined }));

function pickedFile(dir: string, name: string): File {
  return new File([fs.readFileSync(path.join(dir, name))], name, { lastModified: 1 });
}

function webPlan(argv: string[] = ARGV) {
  const exp = cifarWebExperiment();
  return exp.plan(parseArgs(argv, experimentOptions(exp)));
}

describe('fig3 in the page vs the CLI', () => {
  let tmp: string;
  let dataDir: string;
  let cliDir: string;
  let cliRows: MetricRow[];
  let config: CifarRunConfig;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-web-fig3-'));
    dataDir = path.join(tmp, 'data');
    cliDir = path.join(tmp, 'cli');
    fs.mkdirSync(dataDir);
    fs.mkdirSync(cliDir);
    fs.writeFileSync(path.join(dataDir, 'data_batch_1.bin'), records(TRAIN_LABELS, 5));
    fs.writeFileSync(path.join(dataDir, 'test_batch.bin'), records(TEST_LABELS, 90));
    config = resolveCifarConfig(parseArgs(ARGV, CIFAR_OPTIONS));
    const loaded = loadCifarRunData({ ...config, dataDir });
    const res = await runCifar(gpu.rt(), config, loaded, cliDir, createProgress({ quiet: true }));
    cliRows = res.rows;
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function pickedProvider() {
    return dataLoaderFor('cifar')({
      from: 'files',
      pageUrl: 'http://localhost/',
      url: '',
      files: ['data_batch_1.bin', 'test_batch.bin'].map((n) => pickedFile(dataDir, n)),
    });
  }

  test('the page plans the CLI configuration and selects the same images', async () => {
    const plan = webPlan();
    expect(plan).toHaveLength(1);
    expect(plan[0].config).toEqual(config);
    const data: CifarLabData = await (await pickedProvider())(plan[0].config);
    const cli = loadCifarRunData({ ...config, dataDir });
    expect(data.train.train.labels).toEqual(cli.data.train.labels);
    expect(data.train.train.images).toEqual(cli.data.train.images);
    expect(data.train.test.labels).toEqual(cli.data.test.labels);
    expect(data.train.stats).toEqual(cli.data.stats);
    // 18 of the 20 training records and 7 of the 8 test records are of classes 0..4.
    expect([data.info.trainImages, data.info.testImages]).toEqual([18, 7]);
    expect({ ...data.info, trainFiles: undefined, testFiles: undefined }).toEqual({ ...cli.info, trainFiles: undefined, testFiles: undefined });
  });

  test('an uninterrupted Lab run gives the CLI rows bit for bit; the live sections are Figure 3', async () => {
    const lab = new Lab<CifarRunConfig, MetricRow, CifarLabData>({ rt: gpu.rt(), plan: webPlan(), data: await pickedProvider(), yieldToUi: async () => {} });
    await lab.run();
    expect(lab.status).toBe('done');
    const rows = lab.runs[0].rows;
    expect(rows.map((r) => r.kind)).toEqual(cliRows.map((r) => r.kind));
    expect(numbers(rows)).toEqual(numbers(cliRows));
    // 18 images in batches of 8: 3 steps per epoch, 2 epochs.
    expect(rows.filter((r) => r.kind === 'step')).toHaveLength(6);
    const sections = cifarWebExperiment().sections(lab.runs);
    const charts = sections.flatMap((s) => s.charts ?? []);
    expect(charts.map((c) => c.id)).toEqual(expect.arrayContaining(['fig3-loss', 'fig3-gap', 'fig3-pl']));
    const loss = charts.find((c) => c.id === 'fig3-loss')!;
    expect(loss.y.scale).toBe('log');
    // The raw mini-batch series is the step rows' losses.
    expect(loss.series[0].y).toEqual(rows.flatMap((r) => (r.kind === 'step' ? [r.loss] : [])));
  });

  test('stop inside an epoch, resume: the same rows, no step lost or repeated', async () => {
    let stops = 0;
    const lab: Lab<CifarRunConfig, MetricRow, CifarLabData> = new Lab({
      rt: gpu.rt(),
      plan: webPlan(),
      data: await pickedProvider(),
      yieldToUi: async () => {},
      onUpdate: (l) => {
        const steps = l.runs[0].rows.filter((r) => r.kind === 'step').length;
        if (steps === 1 && stops === 0) {
          stops++;
          void lab.stop();
        }
      },
    });
    await lab.run();
    expect(lab.status).toBe('stopped');
    // Asked to stop when step 0's row came out, with step 1 already on the GPU (steps are
    // pipelined): stopped after step 1, inside epoch 0 (3 steps).
    expect(lab.runs[0].rows.map((r) => r.kind)).toEqual(['fullgrad', 'step', 'step']);
    await lab.run();
    expect(lab.status).toBe('done');
    expect(numbers(lab.runs[0].rows)).toEqual(numbers(cliRows));
    const t = lab.runs[0].rows.flatMap((r) => ('timeMs' in r && typeof r.timeMs === 'number' ? [r.timeMs] : []));
    expect(t.every((v, i) => i === 0 || v >= t[i - 1])).toBe(true);
  });

  test('the downloads are a CLI run directory: config, rows, summary, and lplr report renders Figure 3', async () => {
    const rt = gpu.rt();
    const lab = new Lab<CifarRunConfig, MetricRow, CifarLabData>({ rt, plan: webPlan(), data: await pickedProvider(), yieldToUi: async () => {} });
    await lab.run();
    const run = lab.runs[0];
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
      configFields: run.info!.configFields,
    });
    const dir = path.join(tmp, 'browser');
    fs.mkdirSync(dir);
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);

    type ConfigJson = Record<string, unknown> & { data: { trainFiles: { path: string; records: number }[]; testFiles: { path: string; records: number }[] } };
    const cli = readJson<ConfigJson>(path.join(cliDir, 'config.json'));
    const web = readJson<ConfigJson>(path.join(dir, 'config.json'));
    // Local paths there, picked file names here.
    const baseNames = (c: ConfigJson) => ({
      ...c.data,
      trainFiles: c.data.trainFiles.map((f) => ({ ...f, path: path.basename(f.path) })),
      testFiles: c.data.testFiles.map((f) => ({ ...f, path: path.basename(f.path) })),
    });
    expect(baseNames(web)).toEqual(baseNames(cli));
    // (kernels: the CLI records the choices made before its run, the page every choice so far.)
    for (const key of ['experiment', 'config', 'configHash', 'metricsSchemaVersion', 'adapter', 'parameters', 'stepsPerEpoch', 'totalSteps', 'gflopPerStep', 'rows']) {
      expect([key, web[key]]).toEqual([key, cli[key]]);
    }
    // Every field the CLI writes is there (browser in place of node).
    expect(Object.keys(web).sort()).toEqual(Object.keys(cli).map((k) => (k === 'node' ? 'browser' : k)).sort());

    expect(numbers(readMetrics(path.join(dir, 'metrics.jsonl')) as MetricRow[])).toEqual(numbers(cliRows));
    type SummaryJson = Record<string, unknown> & { timing: Record<string, number> };
    const summary = readJson<SummaryJson>(path.join(dir, 'summary.json'));
    const cliSummary = readJson<SummaryJson>(path.join(cliDir, 'summary.json'));
    // Wall-clock times differ between the two runs; every other number is the same.
    const withoutTimes = (v: unknown) => JSON.parse(JSON.stringify(v), (k, x: unknown) => (k === 'timeMs' ? undefined : x)) as unknown;
    for (const key of ['final', 'lStar', 'smoothed', 'epochs', 'verdicts']) expect([key, withoutTimes(summary[key])]).toEqual([key, withoutTimes(cliSummary[key])]);
    expect(Object.keys(summary).sort()).toEqual(Object.keys(cliSummary).sort());
    expect(summary.timing.intervals).toBe(cliSummary.timing.intervals);
    // The page's copy of the CLI's timing rule (it cannot import cifar-lab.ts) gives the same numbers.
    expect(cifarTiming(run.rows, 8)).toEqual(cliCifarTiming(run.rows, 8));

    const out = process.stdout.write;
    process.stdout.write = () => true;
    try {
      expect(await reportVerb.run([dir])).toBe(0);
    } finally {
      process.stdout.write = out;
    }
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('id="fig3-loss"');
    expect(html).toContain('id="fig3-pl"');
  });

  test('the URL folder loader fetches the same files', async () => {
    const bundle = new Map<string, Buffer>([['index.html', Buffer.from('x')]]);
    for (const name of ['data_batch_1.bin', 'test_batch.bin']) bundle.set(`cifar/${name}`, fs.readFileSync(path.join(dataDir, name)));
    const server = await startLabServer({ files: bundle });
    try {
      const provider = await dataLoaderFor('cifar')({ from: 'url', pageUrl: server.url, url: new URL('cifar', server.url).href, files: [] });
      const fromUrl = await provider(config);
      const cli = loadCifarRunData({ ...config, dataDir });
      expect(fromUrl.train.train.images).toEqual(cli.data.train.images);
      expect(fromUrl.info.trainFiles[0].path).toBe(new URL('cifar/data_batch_1.bin', server.url).href);
      // 'all': every data_batch_N.bin the folder has (here only 1; the others answer 404).
      const all = await provider({ ...config, trainBatches: null });
      expect(all.info.trainFiles.map((f) => f.records)).toEqual([20]);
    } finally {
      await server.close();
    }
  });
});

describe('fig3 without data', () => {
  const choice = { pageUrl: 'http://localhost/', url: '', files: [] as File[] };
  const config = resolveCifarConfig(parseArgs(['--preset', 'tiny'], CIFAR_OPTIONS));

  test('served or nothing picked: says which files to provide and where they come from', async () => {
    const served = dataLoaderFor('cifar')({ ...choice, from: 'served' });
    await expect(served).rejects.toThrow(DataError);
    await expect(served).rejects.toThrow(/data_batch_1\.bin.*test_batch\.bin/);
    await expect(dataLoaderFor('cifar')({ ...choice, from: 'files' })).rejects.toThrow(/No CIFAR-10 files picked.*cifar-10-binary\.tar\.gz/);
    await expect(dataLoaderFor('cifar')({ ...choice, from: 'url' })).rejects.toThrow(/Enter the URL/);
  });

  test('a missing test batch, an archive, a truncated file: named, with the fix', async () => {
    const onlyTrain = await dataLoaderFor('cifar')({ ...choice, from: 'files', files: [new File([records([0, 1, 2], 1)], 'data_batch_1.bin')] });
    await expect(onlyTrain(config)).rejects.toThrow(/lack test_batch\.bin/);
    const paper = await dataLoaderFor('cifar')({ ...choice, from: 'files', files: [new File([records([0, 1], 1)], 'data_batch_1.bin'), new File([records([0], 2)], 'test_batch.bin')] });
    await expect(paper({ ...config, trainBatches: [1, 2] })).rejects.toThrow(/lack data_batch_2\.bin/);
    await expect(dataLoaderFor('cifar')({ ...choice, from: 'files', files: [new File([new Uint8Array(10)], 'cifar-10-binary.tar.gz')] })).rejects.toThrow(/Extract the archive/);
    await expect(dataLoaderFor('cifar')({ ...choice, from: 'files', files: [new File([new Uint8Array(3074)], 'test_batch.bin')] })).rejects.toThrow(/3074 bytes: 1 records/);
  });

  test('file names, and the experiment list', () => {
    expect(classifyCifarFileName('cifar-10-batches-bin/data_batch_3.bin')).toEqual({ split: 'train', batch: 3 });
    expect(classifyCifarFileName('test_batch.bin')).toEqual({ split: 'test' });
    expect(classifyCifarFileName('data_batch_6.bin')).toBeUndefined();
    expect(classifyCifarFileName('batches.meta.txt')).toBeUndefined();
    expect(cifarWebExperiment().unavailable).toBeUndefined();
    expect(() => findWebExperiment('fig3')).toThrow(/not an MLP/);
    expect(() => webPlan(['--data-dir', '/x'])).toThrow(/local folder/);
  });
});
