// Data for the page: MNIST from the IDX files the server hands out (or any URL, or files the
// user picks), gzipped or not, a user dataset file (safetensors x/y), and CIFAR-10's binary
// batches (picked, or fetched from a URL folder) for Figure 3. Loaders are
// registered per kind of experiment data (registerDataLoader). Only web platform
// APIs (fetch, DecompressionStream, Blob), so Node runs it too; the samples are selected by
// the same code as the CLI's (mnist-core.ts), so a browser run trains on the same data.
import { ConfigError, DataError } from '../../src/errors.js';
import { channelStats, CIFAR_CLASSES, parseCifarBinary, concatCifar, selectClasses, type CifarData } from '../data/cifar-core.js';
import type { CifarRunConfig } from '../experiments/cifar-config.js';
import { mnistDigits, type MlpRunConfig } from '../experiments/mlp-config.js';
import { parseDatasetBytes } from '../data/dataset-core.js';
import { isGzip, parseIdxBytes } from '../data/idx-core.js';
import { mnistFromIdx, selectBinaryDigits, type MnistData } from '../data/mnist-core.js';
import type { WebDataKind } from './experiments.js';
import type { CifarLabData, DataProvider, LabData, LabRunConfig } from './lab.js';

/** Paths the server uses for MNIST's training split (relative to the page). */
export const SERVED_MNIST = {
  images: 'data/mnist/train-images-idx3-ubyte',
  labels: 'data/mnist/train-labels-idx1-ubyte',
} as const;

export const SERVED_DATASET = 'data/dataset.safetensors';
export const SERVED_MANIFEST = 'data/manifest.json';

/** What the server says it hands out (absent on a static host without data). */
export interface DataManifest {
  mnist: boolean;
  /** The user dataset's original file name, if one was given. */
  dataset: string | null;
}

const PICK_HINT = 'Pick the four official MNIST files (or at least train-images-idx3-ubyte and train-labels-idx1-ubyte, .gz allowed) with the file picker.';

export async function fetchBytes(url: string, what: string, hint = PICK_HINT): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { cache: 'no-store' });
  } catch (e) {
    throw new DataError(`Could not fetch ${what} from ${url} (${(e as Error).message}). ${hint}`);
  }
  if (!response.ok) throw new DataError(`Could not fetch ${what} from ${url}: HTTP ${response.status}. ${hint}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Inflate gzip bytes with the platform's DecompressionStream; other bytes pass through. */
export async function gunzipIfNeeded(bytes: Uint8Array, source: string): Promise<{ bytes: Uint8Array; gzipped: boolean }> {
  if (!isGzip(bytes)) return { bytes, gzipped: false };
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return { bytes: new Uint8Array(await new Response(stream).arrayBuffer()), gzipped: true };
  } catch (e) {
    throw new DataError(`${source} is a truncated or corrupt gzip file (${(e as Error).message}). Download it again.`);
  }
}

/** Parse an image file and a label file of one MNIST split (any of them may be gzipped). */
export async function mnistFromBytes(images: Uint8Array, labels: Uint8Array, imageSource: string, labelSource: string): Promise<MnistData> {
  const fix = 'Download the official MNIST file again.';
  const img = await gunzipIfNeeded(images, imageSource);
  const lab = await gunzipIfNeeded(labels, labelSource);
  return mnistFromIdx(
    parseIdxBytes(img.bytes, imageSource, fix, img.gzipped),
    parseIdxBytes(lab.bytes, labelSource, fix, lab.gzipped),
    imageSource,
    labelSource,
    fix,
    'Pick the official MNIST files.',
  );
}

/** MNIST's training split from URLs (default: the files `lplr serve` hands out, relative to `base`). */
export async function fetchMnist(base: string | URL, paths: { images: string; labels: string } = SERVED_MNIST): Promise<MnistData> {
  const imageUrl = new URL(paths.images, base).href;
  const labelUrl = new URL(paths.labels, base).href;
  const [images, labels] = await Promise.all([fetchBytes(imageUrl, 'the MNIST training images'), fetchBytes(labelUrl, 'the MNIST training labels')]);
  return mnistFromBytes(images, labels, imageUrl, labelUrl);
}

/** Which picked file is which: official names, dotted spellings, .gz allowed. */
export function classifyMnistFileName(name: string): 'train-images' | 'train-labels' | 'test-images' | 'test-labels' | undefined {
  const m = /(train|t10k)-(images|labels)[.-]idx[13]-ubyte(\.gz)?$/i.exec(name);
  if (!m) return undefined;
  return `${m[1].toLowerCase() === 'train' ? 'train' : 'test'}-${m[2].toLowerCase() as 'images' | 'labels'}`;
}

/** MNIST's training split from user-picked files (File objects or anything with a name and bytes). */
export async function mnistFromPicked(files: readonly { name: string; arrayBuffer(): Promise<ArrayBuffer> }[]): Promise<MnistData> {
  const images = files.find((f) => classifyMnistFileName(f.name) === 'train-images');
  const labels = files.find((f) => classifyMnistFileName(f.name) === 'train-labels');
  if (!images || !labels) {
    const missing = [!images ? 'train-images-idx3-ubyte' : [], !labels ? 'train-labels-idx1-ubyte' : []].flat().join(' and ');
    throw new DataError(`The picked files (${files.map((f) => f.name).join(', ') || 'none'}) lack ${missing}. ${PICK_HINT}`);
  }
  return mnistFromBytes(new Uint8Array(await images.arrayBuffer()), new Uint8Array(await labels.arrayBuffer()), images.name, labels.name);
}

/** The binary-digit data of each run, selected from loaded MNIST (same samples and source text as the CLI). */
export function mnistProvider(mnist: MnistData): DataProvider {
  return async (config: MlpRunConfig): Promise<LabData> => {
    const digits = mnistDigits(config);
    const d = selectBinaryDigits(mnist, 'train', { digits, subset: config.subset ?? undefined, seed: config.seed });
    const which = config.subset ? `, stratified subset of ${d.n}` : `, all ${d.n}`;
    return { x: d.x, y: d.y, n: d.n, d: d.d, source: `MNIST train, digits ${digits.join('/')}${which}` };
  };
}

/** A user dataset (safetensors x [N, D], y [N]) for every run. */
export function datasetProvider(bytes: Uint8Array, name: string): DataProvider {
  const data = parseDatasetBytes(bytes, name);
  return async () => ({ ...data, source: `dataset file ${name}` });
}

/** Where the user wants the data from (the page's Data fieldset). */
export interface DataChoice {
  /** 'served': the files `lplr serve` hands out; 'url': a folder URL; 'files': picked files. */
  from: 'served' | 'url' | 'files';
  /** The page's own URL (base of served files). */
  pageUrl: string;
  /** Folder URL when from = 'url'. */
  url: string;
  files: readonly { name: string; size: number; lastModified: number; arrayBuffer(): Promise<ArrayBuffer> }[];
}

/** Turns a choice into the runs' data for one kind of experiment data; may cache what it loaded. */
export type DataLoader<C extends LabRunConfig = MlpRunConfig, D = LabData> = (choice: DataChoice) => Promise<DataProvider<C, D>>;

/** Figure 3's loader: CIFAR-10 binary batches. */
export type CifarDataLoader = DataLoader<CifarRunConfig, CifarLabData>;

// Loaders of both data types, keyed by kind; the overloads below pair each kind with its type.
const DATA_LOADERS = new Map<WebDataKind, DataLoader | CifarDataLoader>();

/** Add the loader of a data kind ('cifar': CIFAR-10 binary batches by file picker or URL). */
export function registerDataLoader(kind: 'cifar', loader: CifarDataLoader): void;
export function registerDataLoader(kind: 'mnist' | 'dataset', loader: DataLoader): void;
export function registerDataLoader(kind: WebDataKind, loader: DataLoader | CifarDataLoader): void {
  DATA_LOADERS.set(kind, loader);
}

export function dataLoaderFor(kind: 'cifar'): CifarDataLoader;
export function dataLoaderFor(kind: 'mnist' | 'dataset'): DataLoader;
export function dataLoaderFor(kind: WebDataKind): DataLoader | CifarDataLoader {
  const loader = DATA_LOADERS.get(kind);
  if (!loader) throw new ConfigError(`The page has no loader for ${kind} data yet (see registerDataLoader in harness/web/data-sources.ts).`);
  return loader;
}

// MNIST is 47 MB: loaded once per source and reused for every run.
let mnistCache: { key: string; provider: Promise<DataProvider> } | undefined;

registerDataLoader('mnist', (choice) => {
  let key: string;
  let load: () => Promise<DataProvider>;
  if (choice.from === 'files') {
    const picked = choice.files;
    key = `files:${picked.map((f) => `${f.name}:${f.size}:${f.lastModified}`).join('|')}`;
    load = async () => mnistProvider(await mnistFromPicked(picked));
  } else if (choice.from === 'url') {
    const base = choice.url.trim();
    if (!base) throw new ConfigError('Enter the URL of a folder with train-images-idx3-ubyte and train-labels-idx1-ubyte.');
    const folder = base.endsWith('/') ? base : `${base}/`;
    key = `url:${folder}`;
    load = async () => mnistProvider(await fetchMnist(folder, { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' }));
  } else {
    key = `served:${choice.pageUrl}`;
    load = async () => mnistProvider(await fetchMnist(choice.pageUrl));
  }
  if (mnistCache?.key !== key) {
    const provider = load();
    mnistCache = { key, provider };
    provider.catch(() => {
      if (mnistCache?.key === key) mnistCache = undefined;
    });
  }
  return mnistCache.provider;
});

// ------------------------------------------------------------------ CIFAR-10 (Figure 3)

export const CIFAR_HOW_TO =
  'Figure 3 trains on the CIFAR-10 binary batches data_batch_1.bin … data_batch_5.bin and test_batch.bin (from cifar-10-binary.tar.gz, ' +
  "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz, extracted; or the cifar-10-batches-bin folder that 'npx lplr data fetch cifar10' fills). " +
  'Pick test_batch.bin and the training batches the preset uses (data_batch_1.bin for default and tiny, all five for paper) with the file picker, or enter the URL of a folder that holds them.';

const CIFAR_REDOWNLOAD = 'Download and extract cifar-10-binary.tar.gz again, then pick the file again.';

/** One parsed batch file and where it came from (file name or URL). */
export interface CifarBatchFile {
  source: string;
  data: CifarData;
}

/** The batch files available to fig3 runs: training batches by number (1..5), and the test batch. */
export interface CifarBatchSet {
  train: Map<number, CifarBatchFile>;
  test?: CifarBatchFile;
}

/** Which picked file is which: data_batch_N.bin or test_batch.bin. */
export function classifyCifarFileName(name: string): { split: 'train'; batch: number } | { split: 'test' } | undefined {
  const base = name.split(/[\\/]/).pop() ?? name;
  const train = /^data_batch_([1-5])\.bin$/i.exec(base);
  if (train) return { split: 'train', batch: Number(train[1]) };
  return /^test_batch\.bin$/i.test(base) ? { split: 'test' } : undefined;
}

/**
 * The data of one fig3 run from the available batch files, selected as the CLI's
 * loadCifarRunData does: the config's training batches (or every one present), the chosen
 * classes relabelled 0..k-1, per-channel statistics of the selected training images.
 */
export function cifarRunData(set: CifarBatchSet, config: Pick<CifarRunConfig, 'trainBatches' | 'classes'>): CifarLabData {
  const wanted = config.trainBatches ?? [...set.train.keys()].sort((a, b) => a - b);
  const missing = (config.trainBatches ?? []).filter((b) => !set.train.has(b)).map((b) => `data_batch_${b}.bin`);
  if (!set.test) missing.push('test_batch.bin');
  if (wanted.length === 0 && config.trainBatches === null) missing.unshift('data_batch_N.bin (at least one)');
  if (missing.length > 0) throw new DataError(`The CIFAR-10 files lack ${missing.join(', ')}. ${CIFAR_HOW_TO}`);
  const trainFiles = wanted.map((b) => set.train.get(b)!);
  const test = set.test!;
  const trainSel = selectClasses(concatCifar(trainFiles.map((f) => f.data)), config.classes);
  const testSel = selectClasses(test.data, config.classes);
  const names = config.classes.map((c) => CIFAR_CLASSES[c]).join(', ');
  if (trainSel.count < 2) {
    throw new DataError(`The training files (${trainFiles.map((f) => f.source).join(', ')}) hold ${trainSel.count} images of classes ${names}; training needs at least 2. Choose other classes or train-batches.`);
  }
  if (testSel.count < 1) throw new DataError(`The test file ${test.source} holds no images of classes ${names}. ${CIFAR_REDOWNLOAD}`);
  const stats = channelStats(trainSel.images, trainSel.count);
  const k = config.classes.length;
  const perClass = (d: CifarData) => {
    const counts = new Array<number>(k).fill(0);
    for (let i = 0; i < d.count; i++) counts[d.labels[i]]++;
    return counts;
  };
  const trainCounts = perClass(trainSel);
  const testCounts = perClass(testSel);
  return {
    source: `CIFAR-10 ${trainFiles.map((f) => f.source).join(', ')} and ${test.source}, classes ${names}: ${trainSel.count} training, ${testSel.count} test images`,
    train: { train: trainSel, test: testSel, classCount: k, stats },
    info: {
      trainFiles: trainFiles.map((f) => ({ path: f.source, records: f.data.count })),
      testFiles: [{ path: test.source, records: test.data.count }],
      classes: config.classes.map((id, i) => ({ id, name: CIFAR_CLASSES[id], train: trainCounts[i], test: testCounts[i] })),
      trainImages: trainSel.count,
      testImages: testSel.count,
      mean: [...stats.mean],
      std: [...stats.std],
    },
  };
}

/** Parse picked CIFAR-10 batch files (File objects or anything with a name and bytes); other files are an error. */
export async function cifarBatchesFromPicked(files: readonly { name: string; arrayBuffer(): Promise<ArrayBuffer> }[]): Promise<CifarBatchSet> {
  if (files.length === 0) throw new DataError(`No CIFAR-10 files picked. ${CIFAR_HOW_TO}`);
  const set: CifarBatchSet = { train: new Map() };
  for (const f of files) {
    const kind = classifyCifarFileName(f.name);
    if (!kind) {
      const hint = /\.tar(\.gz)?$|\.tgz$/i.test(f.name) ? ' Extract the archive first and pick the .bin files inside cifar-10-batches-bin/.' : '';
      throw new DataError(`${f.name} is not a CIFAR-10 binary batch (data_batch_N.bin or test_batch.bin).${hint} ${CIFAR_HOW_TO}`);
    }
    const parsed = { source: f.name, data: parseCifarBinary(new Uint8Array(await f.arrayBuffer()), f.name, CIFAR_REDOWNLOAD) };
    if (kind.split === 'test') set.test = parsed;
    else set.train.set(kind.batch, parsed);
  }
  return set;
}

/** Each fig3 run's data, selected from the batch files the user provided. */
export function cifarProvider(set: CifarBatchSet): DataProvider<CifarRunConfig, CifarLabData> {
  return async (config) => cifarRunData(set, config);
}

/**
 * CIFAR-10 batch files from a URL folder, fetched as runs need them (each file once). With
 * train-batches 'all', every data_batch_N.bin the folder has (HTTP 404: not there) is used.
 */
export function cifarUrlProvider(folder: string): DataProvider<CifarRunConfig, CifarLabData> {
  const fetched = new Map<string, Promise<CifarBatchFile | undefined>>();
  const hint = `Check the URL folder. ${CIFAR_HOW_TO}`;
  const get = (name: string, optional: boolean): Promise<CifarBatchFile | undefined> => {
    const url = new URL(name, folder).href;
    let file = fetched.get(url);
    if (!file) {
      file = (async () => {
        if (optional) {
          const response = await fetch(url, { cache: 'no-store' }).catch(() => undefined);
          if (response?.status === 404) return undefined;
        }
        return { source: url, data: parseCifarBinary(await fetchBytes(url, `CIFAR-10 ${name}`, hint), url, `Check the file at ${url}. ${CIFAR_REDOWNLOAD}`) };
      })();
      fetched.set(url, file);
      file.catch(() => fetched.delete(url));
    }
    return file;
  };
  return async (config) => {
    const numbers = config.trainBatches ?? [1, 2, 3, 4, 5];
    const [test, ...train] = await Promise.all([get('test_batch.bin', false), ...numbers.map((b) => get(`data_batch_${b}.bin`, config.trainBatches === null))]);
    const set: CifarBatchSet = { train: new Map(), test };
    numbers.forEach((b, i) => {
      const f = train[i];
      if (f) set.train.set(b, f);
    });
    return cifarRunData(set, config);
  };
}

// Batch files are 30 MB each: parsed once per choice and reused for every run.
let cifarCache: { key: string; provider: Promise<DataProvider<CifarRunConfig, CifarLabData>> } | undefined;

registerDataLoader('cifar', async (choice) => {
  let key: string;
  let load: () => Promise<DataProvider<CifarRunConfig, CifarLabData>>;
  if (choice.from === 'files') {
    const picked = choice.files;
    key = `files:${picked.map((f) => `${f.name}:${f.size}:${f.lastModified}`).join('|')}`;
    load = async () => cifarProvider(await cifarBatchesFromPicked(picked));
  } else if (choice.from === 'url') {
    const base = choice.url.trim();
    if (!base) throw new DataError(`Enter the URL of a folder with the CIFAR-10 batch files. ${CIFAR_HOW_TO}`);
    const folder = base.endsWith('/') ? base : `${base}/`;
    key = `url:${folder}`;
    load = async () => cifarUrlProvider(folder);
  } else {
    // The page's server hands out MNIST and a dataset file, not CIFAR-10: never substitute them.
    throw new DataError(`CIFAR-10 is not served with this page; choose "files from this computer" or "a URL folder". ${CIFAR_HOW_TO}`);
  }
  if (cifarCache?.key !== key) {
    const provider = load();
    cifarCache = { key, provider };
    provider.catch(() => {
      if (cifarCache?.key === key) cifarCache = undefined;
    });
  }
  return cifarCache.provider;
});
