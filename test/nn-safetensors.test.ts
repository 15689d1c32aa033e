// Parameters interchange with PyTorch state_dicts through safetensors: nn.Sequential names
// and [out, in] weights; shape or name mismatches are clear errors.
import { expect, it } from 'vitest';
import { nn, parseSafetensors, serializeSafetensors } from '../src/entry-node.js';
import { useGpu } from './helpers/gpu.js';

const gpu = useGpu();

it('exports nn.Sequential names and shapes, and imports them back exactly', async () => {
  const rt = gpu.rt();
  const a = nn.build(nn.mlp({ inputs: 7, width: 5, depth: 3, outputs: 1 }), { scheme: 'he', seed: 1, rt });
  const bytes = await nn.exportSafetensors(a);
  const { tensors } = parseSafetensors(bytes, 'export');
  expect([...tensors.keys()]).toEqual(['0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias']);
  expect(tensors.get('0.weight')!.shape).toEqual([5, 7]);
  expect(tensors.get('4.weight')!.shape).toEqual([1, 5]);
  const b = nn.build(nn.mlp({ inputs: 7, width: 5, depth: 3, outputs: 1 }), { scheme: 'he', seed: 2, rt });
  nn.importSafetensors(b, bytes, 'export');
  const va = await a.params.readAll();
  const vb = await b.params.readAll();
  for (const [name, values] of va) expect([...vb.get(name)!]).toEqual([...values]);
  a.dispose();
  b.dispose();
});

it('rejects a file with a wrong shape, naming the tensor and the expected shape', () => {
  const rt = gpu.rt();
  const m = nn.build(nn.mlp({ inputs: 4, width: 3, depth: 2, outputs: 1 }), { scheme: 'he', seed: 1, rt });
  const bad = serializeSafetensors([
    { name: '0.weight', shape: [4, 3], data: new Float32Array(12) },
    { name: '0.bias', shape: [3], data: new Float32Array(3) },
    { name: '2.weight', shape: [1, 3], data: new Float32Array(3) },
    { name: '2.bias', shape: [1], data: new Float32Array(1) },
  ]);
  expect(() => nn.importSafetensors(m, bad, 'torch.safetensors')).toThrow(/torch\.safetensors: '0\.weight' has shape \[4,3\] but the model needs \[3,4\]/);
  m.dispose();
});
