// A custom training loop on the public API: a 2-layer MLP learns XOR-like data with SGD.
// Run: node examples/train-mlp.mjs   (after npm install, which builds dist/)
import { init, fromData, tidy, backward, mseLoss, nn, optim, Rng } from 'lplr';

const rt = await init();
const rng = new Rng(42, 'example');
const n = 256;
const x = new Float32Array(n * 2);
const y = new Float32Array(n);
for (let i = 0; i < n; i++) {
  const a = rng.uniform() * 2 - 1, b = rng.uniform() * 2 - 1;
  x.set([a, b], i * 2);
  y[i] = a * b > 0 ? 1 : 0;
}
const X = fromData(x, [n, 2]).keep();
const Y = fromData(y, [n, 1]).keep();

const model = nn.mlp({ inputs: 2, width: 32, depth: 3, outputs: 1 });
const params = nn.build(model, { scheme: 'he', seed: 1 });
const sgd = new optim.SGD(params, { lr: 0.1, momentum: 0.9 });

for (let step = 0; step <= 300; step++) {
  const loss = tidy(() => {
    params.zeroGrad();
    const l = mseLoss(model.forward(X), Y);
    backward(l);
    return l;
  });
  sgd.step();
  if (step % 50 === 0) console.log(`step ${step}  loss ${(await loss.item()).toFixed(5)}`);
  loss.dispose();
}
rt.destroy();
