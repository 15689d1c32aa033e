// Data for the page: MNIST from the IDX files the server hands out (or any URL, or files the
// user picks), gzipped or not, and a user dataset file (safetensors x/y). Loaders are
// registered per kind of experiment data (registerDataLoader), so CIFAR-10 can join. Only web platform
// APIs (fetch, DecompressionStream, Blob), so Node runs it too; the samples are selected by
// the same code as the CLI's (mnist-core.ts), so a browser run trains on the same data.
import { ConfigError, DataError } from '../../src/errors.js';
import type { MlpRunConfig } from '../experiments/mlp-config.js';
import { parseDatasetBytes } from '../data/dataset-core.js';
import { isGzip, parseIdxBytes } from '../data/idx-core.js';
import { mnistFromIdx, selectBinaryDigits, type MnistData } from '../data/mnist-core.js';
import type { WebDataKind } from './experiments.js';
import type { DataProvider, LabData } from './lab.js';

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
    const d = selectBinaryDigits(mnist, 'train', { digits: config.digits, subset: config.subset ?? undefined, seed: config.seed });
    const which = config.subset ? `, stratified subset of ${d.n}` : `, all ${d.n}`;
    return { x: d.x, y: d.y, n: d.n, d: d.d, source: `MNIST train, digits ${config.digits.join('/')}${which}` };
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
export type DataLoader = (choice: DataChoice) => Promise<DataProvider>;

const DATA_LOADERS = new Map<WebDataKind, DataLoader>();

/** Add the loader of a data kind (Figure 3 registers 'cifar': CIFAR-10 binary batches by file picker or URL). */
export function registerDataLoader(kind: WebDataKind, loader: DataLoader): void {
  DATA_LOADERS.set(kind, loader);
}

export function dataLoaderFor(kind: WebDataKind): DataLoader {
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
