// Conv layers and ResNets: a BasicBlock's full backward (identity and projection
// shortcuts) against a float64 reference composed from the kernel references (itself
// checked by finite differences); module names as documented in docs/resnet.md;
// the train/eval switch; a tiny ResNet's forward/backward.
import { describe, expect, it } from 'vitest';
import { backward, fromData, mul, sum, tidy } from '../src/entry-node.js';
import { build, type ParameterSet } from '../src/nn/module.js';
import { BasicBlock, BatchNorm2d, Conv2d, Flatten, resnet, resnet18 } from '../src/nn/conv-layers.js';
import { useGpu } from './helpers/gpu.js';
import {
  bnTrainBackwardRef,
  bnTrainRef,
  conv2dBackwardRef,
  conv2dRef,
  dot,
  expectClose,
  f32,
  finiteDiff,
  randomValues,
  type ConvShape,
  type F64,
} from './conv-reference.js';

const EPS = 1e-5;

// ------------------------------------------------------------------ block reference

interface BlockShape {
  batch: number;
  inPlanes: number;
  planes: number;
  h: number;
  w: number;
  stride: number;
}

type BlockParams = Record<string, F64>;

function convShapes(s: BlockShape) {
  const ho = Math.floor((s.h + 2 - 3) / s.stride) + 1;
  const wo = Math.floor((s.w + 2 - 3) / s.stride) + 1;
  const c1: ConvShape = { batch: s.batch, cin: s.inPlanes, h: s.h, w: s.w, cout: s.planes, kh: 3, kw: 3, stride: s.stride, pad: 1 };
  const c2: ConvShape = { batch: s.batch, cin: s.planes, h: ho, w: wo, cout: s.planes, kh: 3, kw: 3, stride: 1, pad: 1 };
  const cd: ConvShape = { batch: s.batch, cin: s.inPlanes, h: s.h, w: s.w, cout: s.planes, kh: 1, kw: 1, stride: s.stride, pad: 0 };
  const bn = { batch: s.batch, c: s.planes, hw: ho * wo };
  return { c1, c2, cd, bn, ho, wo };
}

function hasProjection(s: BlockShape): boolean {
  return s.stride !== 1 || s.inPlanes !== s.planes;
}

/** out = relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut(x)), batch statistics; intermediates kept. */
function blockForwardRef(x: F64, p: BlockParams, s: BlockShape) {
  const { c1, c2, cd, bn } = convShapes(s);
  const a1 = conv2dRef(x, p['conv1.weight'], undefined, c1);
  const b1 = bnTrainRef(a1, bn, p['bn1.weight'], p['bn1.bias'], EPS);
  const h = b1.map((v) => Math.max(v, 0));
  const a2 = conv2dRef(h, p['conv2.weight'], undefined, c2);
  const b2 = bnTrainRef(a2, bn, p['bn2.weight'], p['bn2.bias'], EPS);
  let ad: F64 | undefined;
  let sc: F64 = x;
  if (hasProjection(s)) {
    ad = conv2dRef(x, p['downsample.0.weight'], undefined, cd);
    sc = bnTrainRef(ad, bn, p['downsample.1.weight'], p['downsample.1.bias'], EPS);
  }
  const z = b2.map((v, i) => v + sc[i]);
  return { a1, b1, h, a2, z, ad, out: z.map((v) => Math.max(v, 0)) };
}

/** The chain rule through the same steps, using the per-kernel reference gradients. */
function blockBackwardRef(x: F64, p: BlockParams, dy: F64, s: BlockShape): { dx: F64; grads: BlockParams } {
  const { c1, c2, cd, bn } = convShapes(s);
  const f = blockForwardRef(x, p, s);
  const dz = dy.map((g, i) => (f.z[i] > 0 ? g : 0));
  const bn2 = bnTrainBackwardRef(f.a2, dz, bn, p['bn2.weight'], EPS);
  const conv2 = conv2dBackwardRef(f.h, p['conv2.weight'], bn2.dx, c2);
  const db1 = conv2.dx.map((g, i) => (f.b1[i] > 0 ? g : 0));
  const bn1 = bnTrainBackwardRef(f.a1, db1, bn, p['bn1.weight'], EPS);
  const conv1 = conv2dBackwardRef(x, p['conv1.weight'], bn1.dx, c1);
  const dx = Float64Array.from(conv1.dx);
  const grads: BlockParams = {
    'conv1.weight': conv1.dw,
    'bn1.weight': bn1.dgamma,
    'bn1.bias': bn1.dbeta,
    'conv2.weight': conv2.dw,
    'bn2.weight': bn2.dgamma,
    'bn2.bias': bn2.dbeta,
  };
  if (f.ad) {
    const bnd = bnTrainBackwardRef(f.ad, dz, bn, p['downsample.1.weight'], EPS);
    const convd = conv2dBackwardRef(x, p['downsample.0.weight'], bnd.dx, cd);
    convd.dx.forEach((g, i) => (dx[i] += g));
    grads['downsample.0.weight'] = convd.dw;
    grads['downsample.1.weight'] = bnd.dgamma;
    grads['downsample.1.bias'] = bnd.dbeta;
  } else {
    dz.forEach((g, i) => (dx[i] += g));
  }
  return { dx, grads };
}

const IDENTITY: BlockShape = { batch: 2, inPlanes: 3, planes: 3, h: 5, w: 5, stride: 1 };
const PROJECTION: BlockShape = { batch: 3, inPlanes: 3, planes: 5, h: 7, w: 6, stride: 2 };

function blockParams(s: BlockShape, seed: number): BlockParams {
  const p: BlockParams = {
    'conv1.weight': f32(randomValues(s.planes * s.inPlanes * 9, seed, -0.5, 0.5)),
    'bn1.weight': f32(randomValues(s.planes, seed + 1, 0.5, 1.5)),
    'bn1.bias': f32(randomValues(s.planes, seed + 2, -0.5, 0.5)),
    'conv2.weight': f32(randomValues(s.planes * s.planes * 9, seed + 3, -0.5, 0.5)),
    'bn2.weight': f32(randomValues(s.planes, seed + 4, 0.5, 1.5)),
    'bn2.bias': f32(randomValues(s.planes, seed + 5, -0.5, 0.5)),
  };
  if (hasProjection(s)) {
    p['downsample.0.weight'] = f32(randomValues(s.planes * s.inPlanes, seed + 6, -0.5, 0.5));
    p['downsample.1.weight'] = f32(randomValues(s.planes, seed + 7, 0.5, 1.5));
    p['downsample.1.bias'] = f32(randomValues(s.planes, seed + 8, -0.5, 0.5));
  }
  return p;
}

describe('BasicBlock reference', () => {
  for (const s of [IDENTITY, PROJECTION]) {
    it(`its backward matches finite differences (${hasProjection(s) ? 'projection' : 'identity'} shortcut)`, () => {
      const p = blockParams(s, 3);
      const x = randomValues(s.batch * s.inPlanes * s.h * s.w, 9);
      const { ho, wo } = convShapes(s);
      const dy = randomValues(s.batch * s.planes * ho * wo, 10);
      const { dx, grads } = blockBackwardRef(x, p, dy, s);
      expectClose(dx, finiteDiff((xv) => dot(blockForwardRef(xv, p, s).out, dy), x), 'dx', 1e-6, 1e-5);
      for (const name of Object.keys(grads)) {
        const fd = finiteDiff((v) => dot(blockForwardRef(x, { ...p, [name]: v }, s).out, dy), p[name]);
        expectClose(grads[name], fd, name, 1e-6, 1e-5);
      }
    });
  }
});

// ------------------------------------------------------------------ GPU

function expectedNames(depth: number, widths: number[]): string[] {
  const n = (depth - 2) / 6;
  const bn = (pre: string) => [`${pre}.weight`, `${pre}.bias`];
  const names = ['conv1.weight', ...bn('bn1')];
  let inPlanes = widths[0];
  widths.forEach((w, s) => {
    for (let i = 0; i < n; i++) {
      const pre = `layer${s + 1}.${i}`;
      names.push(`${pre}.conv1.weight`, ...bn(`${pre}.bn1`), `${pre}.conv2.weight`, ...bn(`${pre}.bn2`));
      if (i === 0 && (s > 0 || inPlanes !== w)) names.push(`${pre}.downsample.0.weight`, ...bn(`${pre}.downsample.1`));
      inPlanes = w;
    }
  });
  names.push('fc.weight', 'fc.bias');
  return names;
}

/** Parameter count of a CIFAR ResNet from its definition (3x3 convs, 1x1 projections, BN pairs). */
function expectedCount(blocks: number[], widths: number[], classes: number, inChannels: number): number {
  let count = 9 * inChannels * widths[0] + 2 * widths[0];
  let inPlanes = widths[0];
  widths.forEach((w, s) => {
    for (let i = 0; i < blocks[s]; i++) {
      count += 9 * inPlanes * w + 9 * w * w + 4 * w;
      if (i === 0 && (s > 0 || inPlanes !== w)) count += inPlanes * w + 2 * w;
      inPlanes = w;
    }
  });
  return count + inPlanes * classes + classes;
}

describe('conv layers', () => {
  const gpu = useGpu();

  async function blockOnGpu(s: BlockShape) {
    const rt = gpu.rt();
    const block = new BasicBlock(s.inPlanes, s.planes, s.stride);
    const set = build(block, { scheme: 'he', seed: 1, rt });
    const p = blockParams(s, 50 + s.planes);
    expect([...set.names].sort()).toEqual(Object.keys(p).sort());
    for (const [name, v] of Object.entries(p)) set.params.write(name, Float32Array.from(v));
    return { rt, block, set, p };
  }

  for (const s of [IDENTITY, PROJECTION]) {
    it(`BasicBlock backward is exact (${hasProjection(s) ? 'projection' : 'identity'} shortcut)`, async () => {
      const { rt, block, set, p } = await blockOnGpu(s);
      const x = f32(randomValues(s.batch * s.inPlanes * s.h * s.w, 77));
      const { ho, wo } = convShapes(s);
      const dy = f32(randomValues(s.batch * s.planes * ho * wo, 78));
      const xT = fromData(Float32Array.from(x), [s.batch, s.inPlanes, s.h, s.w], rt);
      xT.requiresGrad = true;
      set.zeroGrad();
      const out = tidy(() => {
        const y = block.forward(xT);
        expect(y.shape).toEqual([s.batch, s.planes, ho, wo]);
        backward(sum(mul(y, fromData(Float32Array.from(dy), y.shape, rt))));
        return y.keep();
      });
      const ref = blockBackwardRef(x, p, dy, s);
      expectClose(await out.read(), blockForwardRef(x, p, s).out, 'block output', 1e-4, 1e-4);
      expectClose(await xT.grad!.read(), ref.dx, 'x.grad', 2e-4, 1e-3);
      const grads = await set.grads.readAll();
      for (const name of set.names) expectClose(grads.get(name)!, ref.grads[name], `${name}.grad`, 5e-4, 1e-3);
      set.dispose();
    });
  }

  it('names parameters and buffers like torchvision, and counts conv+linear layers for the enhanced init', () => {
    const model = resnet({ depth: 14, classes: 10 });
    expect(model.namedParameters().map(([n]) => n)).toEqual(expectedNames(14, [16, 32, 64]));
    const buffers = model.namedBuffers().map(([n]) => n);
    expect(buffers.slice(0, 3)).toEqual(['bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked']);
    expect(buffers).toContain('layer3.0.downsample.1.running_var');
    expect(buffers.length).toBe(3 * model.namedParameters().filter(([, d]) => d.role === 'norm-weight').length);
    // 1 stem + 2 per block (6 blocks) + 2 projections + 1 head.
    expect(model.weightLayerCount()).toBe(1 + 12 + 2 + 1);
    const roles = new Map(model.namedParameters().map(([n, d]) => [n, d]));
    expect(roles.get('layer2.0.conv1.weight')).toMatchObject({ role: 'weight', shape: [32, 16, 3, 3], fanIn: 144 });
    expect(roles.get('layer2.0.downsample.0.weight')).toMatchObject({ role: 'weight', shape: [32, 16, 1, 1], fanIn: 16 });
    expect(roles.get('bn1.weight')?.role).toBe('norm-weight');
    expect(roles.get('bn1.bias')?.role).toBe('norm-bias');
    expect(roles.get('fc.bias')?.role).toBe('bias');

    const r20 = resnet({ depth: 20, classes: 10 });
    const count = (m: typeof r20) => m.namedParameters().reduce((a, [, d]) => a + d.shape.reduce((x, y) => x * y, 1), 0);
    expect(count(r20)).toBe(expectedCount([3, 3, 3], [16, 32, 64], 10, 3));
    const r18 = resnet18({ classes: 10 });
    expect(count(r18)).toBe(expectedCount([2, 2, 2, 2], [64, 128, 256, 512], 10, 3));
    expect(count(r18)).toBe(11_173_962); // the usual CIFAR ResNet-18 size
    expect(r18.namedParameters().map(([n]) => n)).toContain('layer4.1.bn2.bias');
    expect(() => resnet({ depth: 10, classes: 10 })).toThrow(/6n\+2/);
  });

  it('a tiny ResNet trains forward/backward with finite values; eval mode uses the running statistics', async () => {
    const rt = gpu.rt();
    const model = resnet({ depth: 8, widths: [4, 8, 6], classes: 3, inChannels: 2 });
    const set: ParameterSet = build(model, { scheme: 'enhanced', seed: 3, rt });
    const xData = Float32Array.from(randomValues(3 * 2 * 9 * 9, 5));
    const x = fromData(xData, [3, 2, 9, 9], rt);
    const logits = tidy(() => {
      const y = model.forward(x);
      backward(sum(mul(y, y)));
      return y.keep();
    });
    expect(logits.shape).toEqual([3, 3]);
    expect(Array.from(await logits.read()).every(Number.isFinite)).toBe(true);
    const grads = await set.grads.readAll();
    for (const name of set.names) {
      const g = grads.get(name)!;
      expect(g.every(Number.isFinite), name).toBe(true);
      expect(g.some((v) => v !== 0), `${name} has a gradient`).toBe(true);
    }
    const stem = model.bn1;
    expect(await stem.numBatchesTracked.tensor!.item()).toBe(1);
    const runningMean = await stem.runningMean.tensor!.read();
    expect(runningMean.some((v) => v !== 0)).toBe(true);

    // Eval: per-sample outputs no longer depend on the rest of the batch, and running stats stay.
    model.eval();
    expect(model.modules().every((m) => !m.training)).toBe(true);
    const full = tidy(() => model.forward(x).keep());
    const single = tidy(() => model.forward(fromData(xData.subarray(0, 2 * 81), [1, 2, 9, 9], rt)).keep());
    expectClose(Array.from(await single.read()), Array.from(await full.read()).slice(0, 3), 'eval is per-sample', 1e-5, 1e-4);
    expect(Array.from(await stem.runningMean.tensor!.read())).toEqual(Array.from(runningMean));
    expect(await stem.numBatchesTracked.tensor!.item()).toBe(1);
    model.train();
    set.dispose();
  });

  it('Conv2d and Flatten check their inputs; BatchNorm2d needs a built model', () => {
    const rt = gpu.rt();
    const conv = new Conv2d(3, 4, 3, { padding: 1 });
    expect(conv.namedParameters().map(([n, d]) => [n, d.shape])).toEqual([
      ['weight', [4, 3, 3, 3]],
      ['bias', [4]],
    ]);
    const set = build(conv, { scheme: 'pytorch', seed: 1, rt });
    expect(() => conv.forward(fromData(new Float32Array(2 * 2 * 4 * 4), [2, 2, 4, 4], rt))).toThrow(/expects input \[batch, 3/);
    const flat = new Flatten().forward(fromData(new Float32Array(24), [2, 3, 2, 2], rt));
    expect(flat.shape).toEqual([2, 12]);
    expect(() => new BatchNorm2d(3).forward(fromData(new Float32Array(12), [2, 3, 1, 2], rt))).toThrow(/build/);
    set.dispose();
  });
});
