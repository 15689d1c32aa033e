// fig3's parameters under a PyTorch CIFAR ResNet's names: the name map, `--epochs 0
// --save-params` writing the initial state, `--init-from` reading it back (a run from the file of
// its own seed is bit for bit the run without it; a file of another seed changes the losses), the
// errors a wrong file gets, and, where PyTorch is installed, the first 3 full-batch SGD steps
// against the same ResNet built in PyTorch from that file (test/torch/cifar_resnet_sgd.py).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeCifarRecords } from './helpers/cifar-records.js';
import { missing } from './helpers/requirements.js';
import { parseSafetensors, serializeSafetensors } from '../src/io/safetensors.js';
import { fromCifarResnetName, resnet, toCifarResnetName } from '../src/nn/conv-layers.js';
import { cifarResnetNames } from '../harness/experiments/cifar-init.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');

function lplr(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const writeRecords = writeCifarRecords;

/** metrics.jsonl without its clock fields. */
function rowsOf(dir: string): Record<string, unknown>[] {
  return fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      for (const k of Object.keys(o)) if (/time|Ms$/i.test(k)) delete o[k];
      return o;
    });
}

const stepLosses = (dir: string) => rowsOf(dir).filter((r) => r.kind === 'step').map((r) => r.loss as number);

/** A python3 that imports torch: LPLR_PYTHON, Debian's /usr/bin/python3, or python3 on PATH. */
function torchPython(): string | undefined {
  for (const py of [process.env.LPLR_PYTHON, '/usr/bin/python3', 'python3']) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

describe('PyTorch CIFAR ResNet names', () => {
  it('map our names (downsample, fc) to the CIFAR convention (shortcut, linear) and back', () => {
    const { params, buffers } = cifarResnetNames({ depth: 20, widths: [16, 32, 64] }, 5);
    const names = params.map(([n]) => n);
    expect(names.slice(0, 3)).toEqual(['conv1.weight', 'bn1.weight', 'bn1.bias']);
    expect(names.slice(-2)).toEqual(['linear.weight', 'linear.bias']);
    expect(names).toContain('layer1.2.conv2.weight');
    // Projection shortcuts where the shape changes (stage 2 and 3, first block), none elsewhere.
    expect(names.filter((n) => n.includes('shortcut'))).toEqual([
      'layer2.0.shortcut.0.weight',
      'layer2.0.shortcut.1.weight',
      'layer2.0.shortcut.1.bias',
      'layer3.0.shortcut.0.weight',
      'layer3.0.shortcut.1.weight',
      'layer3.0.shortcut.1.bias',
    ]);
    expect(names.some((n) => n.includes('downsample') || n.startsWith('fc.'))).toBe(false);
    expect(buffers.map(([n]) => n).slice(0, 3)).toEqual(['bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked']);
    expect(buffers.map(([n]) => n)).toContain('layer3.0.shortcut.1.running_var');
    // ResNet-20: 19 convolutions + 2 shortcut convolutions, 21 batch norms, one linear layer.
    expect(params.filter(([n]) => n.endsWith('conv1.weight') || n.endsWith('conv2.weight') || n.endsWith('shortcut.0.weight')).length).toBe(21);
    const ours = resnet({ depth: 20, classes: 5 }).namedParameters().map(([n]) => n);
    for (const n of ours) expect(fromCifarResnetName(toCifarResnetName(n))).toBe(n);
  });
});

describe('fig3 --save-params and --init-from', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-cifar-init-'));
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  // 30 training images of classes 0-4 (60 records, labels cycling 0-9), 10 test images.
  writeRecords(path.join(data, 'data_batch_1.bin'), Array.from({ length: 60 }, (_, i) => i % 10), 7);
  writeRecords(path.join(data, 'test_batch.bin'), Array.from({ length: 20 }, (_, i) => i % 10), 9);
  // Full batch, momentum 0 and no weight decay: the setting the PyTorch comparison replicates.
  const base = ['run', 'fig3', '--preset', 'tiny', '--data-dir', data, '--batch-size', '30', '--epochs', '3', '--momentum', '0', '--weight-decay', '0'];
  const out = (name: string) => path.join(dir, name);
  const save = (name: string, seed: number) => lplr([...base, '--epochs', '0', '--save-params', '--seed', String(seed), '--out', out(name)]);

  it('--epochs 0 --save-params writes the initial state with the CIFAR names, and trains nothing', () => {
    const r = save('init0', 0);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/initial parameters .* written to/);
    expect(fs.existsSync(path.join(out('init0'), 'metrics.jsonl'))).toBe(false);
    const file = parseSafetensors(fs.readFileSync(path.join(out('init0'), 'params.safetensors')), 'params');
    const { params, buffers } = cifarResnetNames({ depth: 8, widths: [4, 8, 8] }, 5);
    expect([...file.tensors.keys()].sort()).toEqual([...params, ...buffers].map(([n]) => n).sort());
    expect(file.tensors.get('linear.weight')!.shape).toEqual([5, 8]);
    expect(file.tensors.get('layer2.0.shortcut.0.weight')!.shape).toEqual([8, 4, 1, 1]);
    expect([...file.tensors.get('bn1.running_var')!.data]).toEqual([1, 1, 1, 1]);
  });

  it('a run from the file of its own seed is bit for bit the run without it; another seed changes the losses', () => {
    expect(save('init1', 1).code).toBe(0);
    const plain = lplr([...base, '--out', out('plain')]);
    expect(plain.code, plain.stderr).toBe(0);
    const same = lplr([...base, '--init-from', path.join(out('init0'), 'params.safetensors'), '--out', out('same')]);
    expect(same.code, same.stderr).toBe(0);
    expect(rowsOf(out('same'))).toEqual(rowsOf(out('plain')));
    const other = lplr([...base, '--init-from', path.join(out('init1'), 'params.safetensors'), '--out', out('other')]);
    expect(other.code, other.stderr).toBe(0);
    const a = stepLosses(out('plain'))[0];
    const b = stepLosses(out('other'))[0];
    expect(Math.abs(a - b) / a).toBeGreaterThan(1e-3);
    // The file's content is part of the run's identity (its path is not).
    const hash = (d: string) => (JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8')) as { configHash: string }).configHash;
    expect(hash(out('other'))).not.toBe(hash(out('same')));
  });

  it('refuses a wrong file or --epochs 0 alone, naming the problem', () => {
    const noSave = lplr([...base, '--epochs', '0', '--out', out('nosave')]);
    expect(noSave.code).toBe(2);
    expect(noSave.stderr).toMatch(/--epochs 0 trains nothing: with --save-params/);
    const file = parseSafetensors(fs.readFileSync(path.join(out('init0'), 'params.safetensors')), 'params');
    const without = [...file.tensors.values()].filter((t) => t.name !== 'linear.bias').map((t) => ({ name: t.name, shape: t.shape, data: t.data }));
    fs.writeFileSync(out('lacks.safetensors'), serializeSafetensors(without));
    const lacks = lplr([...base, '--init-from', out('lacks.safetensors'), '--out', out('lacks')]);
    expect(lacks.code).toBe(2);
    expect(lacks.stderr).toMatch(/lacks 1 tensor of the ResNet-8 .*: linear\.bias/);
    const wrongWidth = lplr([...base, '--widths', '4,8,16', '--init-from', path.join(out('init0'), 'params.safetensors'), '--out', out('wide')]);
    expect(wrongWidth.code).toBe(2);
    expect(wrongWidth.stderr).toMatch(/has shape \[8, 8, 3, 3\] but the ResNet-8 with widths 4,8,16 .* needs \[16, 8, 3, 3\]/);
    const unreadable = lplr([...base, '--init-from', out('none.safetensors'), '--out', out('none')]);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toMatch(/cannot read the file/);
  });

  // Optional on a developer's machine; .ci/run installs python3-torch, so under CI=true it must run.
  const python = torchPython();
  const noTorch = missing('PyTorch (python3 -c "import torch")', python !== undefined, "install it with 'apt-get install -y python3-torch', or point LPLR_PYTHON at a python3 that has torch");
  it.skipIf(noTorch)('matches the same ResNet in PyTorch over the first 3 full-batch SGD steps to 1e-4', () => {
    const r = spawnSync(python!, [path.join(root, 'test', 'torch', 'cifar_resnet_sgd.py'), path.join(out('init0'), 'params.safetensors'), data, '--depth', '8', '--widths', '4,8,8', '--steps', '3', '--lr', '0.05', '--weight-decay', '0'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const theirs = JSON.parse(r.stdout) as number[];
    const ours = stepLosses(out('same')).slice(0, 3);
    expect(ours).toHaveLength(3);
    ours.forEach((l, i) => expect(Math.abs(l - theirs[i]) / theirs[i], `step ${i}: ours ${l}, PyTorch ${theirs[i]}`).toBeLessThan(1e-4));
  });
});
