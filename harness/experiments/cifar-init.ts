// fig3's parameters in a PyTorch CIFAR ResNet's names (docs/resnet.md): `--init-from FILE` reads
// them (checked against the ResNet the config builds before any device exists), and
// `--save-params` writes them. Our modules keep torchvision's names (downsample, fc); the file
// speaks the CIFAR convention (shortcut, linear). Node only (reads files).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { fromCifarResnetName, resnet, toCifarResnetName } from '../../src/nn/conv-layers.js';
import { exportSafetensors, type ParameterSet } from '../../src/nn/module.js';
import type { CifarRunConfig } from './cifar-config.js';

/** Parameters and buffers read from an --init-from file, by our (torchvision) names. */
export interface CifarInitValues {
  values: Map<string, { shape: number[]; data: Float32Array }>;
  source: string;
  content: { bytes: number; sha256: string };
}

const NAMES_HINT = 'conv1.weight, bn1.weight, bn1.running_mean, layer1.0.conv1.weight, ..., layer2.0.shortcut.0.weight, ..., linear.weight';

/** The names a PyTorch CIFAR ResNet of this config has, parameters first, then batch-norm buffers. */
export function cifarResnetNames(config: Pick<CifarRunConfig, 'depth' | 'widths'>, classCount: number): { params: [string, number[]][]; buffers: [string, number[]][] } {
  const model = resnet({ depth: config.depth, widths: config.widths, classes: classCount });
  return {
    params: model.namedParameters().map(([n, d]) => [toCifarResnetName(n), d.shape]),
    buffers: model.namedBuffers().map(([n, b]) => [toCifarResnetName(n), b.shape]),
  };
}

/**
 * Read an --init-from file and check it against the ResNet of `config` with `classCount` outputs:
 * every parameter present with its shape, no tensor the model lacks. Batch-norm buffers a file
 * leaves out keep their initial values (running mean 0, variance 1). Names in our own form
 * (downsample, fc) are accepted too.
 */
export function readCifarInit(file: string, config: Pick<CifarRunConfig, 'depth' | 'widths'>, classCount: number): CifarInitValues {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new ConfigError(`--init-from ${file}: cannot read the file. Give a safetensors file with a PyTorch CIFAR ResNet's names (${NAMES_HINT}).`);
  }
  const { tensors } = parseSafetensors(bytes, file);
  const values = new Map([...tensors].map(([k, t]) => [fromCifarResnetName(k), { shape: t.shape, data: t.data }]));
  const { params, buffers } = cifarResnetNames(config, classCount);
  const model = `ResNet-${config.depth} with widths ${config.widths.join(',')} and ${classCount} classes`;
  const missing = params.filter(([n]) => !values.has(fromCifarResnetName(n))).map(([n]) => n);
  if (missing.length) {
    const shortcutHint = missing.some((n) => n.includes('.shortcut.'))
      ? ' Our ResNet projects the shortcut (1x1 conv + batch norm, "option B") where the shape changes; a file of the zero-padding identity shortcut ("option A") has no such tensors.'
      : '';
    throw new ConfigError(
      `--init-from ${file} lacks ${missing.length} tensor${missing.length === 1 ? '' : 's'} of the ${model}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}.${shortcutHint} Check --depth, --widths and --classes against the file.`,
    );
  }
  const known = new Set([...params, ...buffers].map(([n]) => fromCifarResnetName(n)));
  const unknown = [...tensors.keys()].filter((k) => !known.has(fromCifarResnetName(k)));
  if (unknown.length) {
    throw new ConfigError(`--init-from ${file} has tensors the ${model} does not: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', ...' : ''}. Check --depth, --widths and --classes against the file.`);
  }
  for (const [name, shape] of [...params, ...buffers]) {
    const v = values.get(fromCifarResnetName(name));
    if (!v) continue;
    const size = shape.reduce((a, b) => a * b, 1);
    // num_batches_tracked is a 0-d tensor in PyTorch; any single value will do.
    const same = v.shape.length === shape.length && v.shape.every((s, i) => s === shape[i]);
    if (!same && !(shape.length === 0 && v.data.length === size)) {
      throw new ShapeError(`--init-from ${file}: '${name}' has shape [${v.shape.join(', ')}] but the ${model} needs [${shape.join(', ')}]. Check --depth, --widths and --classes against the file.`);
    }
  }
  return { values, source: file, content: { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') } };
}

/** The model's parameters and batch-norm buffers as safetensors with a PyTorch CIFAR ResNet's names. */
export function cifarParamsFile(set: ParameterSet, config: CifarRunConfig): Promise<Uint8Array> {
  return exportSafetensors(set, { source: 'lplr', names: 'pytorch-cifar-resnet', config: JSON.stringify(config) }, toCifarResnetName);
}
