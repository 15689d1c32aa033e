// Losses (mean over samples, scalar output): forward dispatch and backward rule side by
// side. Kernels: shaders/loss.wgsl for per-sample terms and gradients, reduce.wgsl for means.
import { ShapeError } from '../errors.js';
import { grid1d } from '../gpu/runtime.js';
import { paramsLayout } from '../gpu/uniform.js';
import { record } from '../autograd/tape.js';
import { empty, type Tensor } from '../tensor.js';
import { reduceRaw, reshapeOwned } from '../kernels/reduce.js';

function lossParams(n: number, classes: number, scale: number): Uint8Array {
  return paramsLayout('loss').pack({ n, classes, scale });
}

function grid(n: number, t: Tensor) {
  return grid1d(n, 256, t.rt.limits.maxComputeWorkgroupsPerDimension);
}

function checkPair(name: string, pred: Tensor, target: Tensor): void {
  if (pred.size !== target.size) {
    throw new ShapeError(`${name}: predictions [${pred.shape}] and targets [${target.shape}] have different sizes`);
  }
  if (pred.size === 0) throw new ShapeError(`${name}: empty batch`);
}

/** ½·mean((pred − target)²): the squared loss of the paper. */
export function mseLoss(pred: Tensor, target: Tensor): Tensor {
  checkPair('mseLoss', pred, target);
  const n = pred.size;
  const r = empty(pred.shape, pred.rt);
  pred.rt.dispatch(
    { shader: 'broadcast', entry: 'binary', overrides: { OP: 1, BROADCAST: 0 } },
    paramsLayout('broadcast').pack({ n, rank: 1, shape: [n], strideA: [1], strideB: [1], strideC: [] }),
    [pred.region(), target.region(), r.region()],
    grid(n, pred),
  );
  const loss = reshapeOwned(reduceRaw(r, 1, n, 1, 'sumsq', 0.5 / n), []);
  r.dispose();
  return record('mseLoss', loss, [pred], (g) => {
    const d = empty(pred.shape, pred.rt);
    pred.rt.dispatch({ shader: 'loss', entry: 'mse_backward' }, lossParams(n, 1, 1 / n), [pred.region(), target.region(), g.region(), d.region()], grid(n, pred));
    return [d];
  });
}

/** mean(max(z,0) − z·y + log(1 + e^−|z|)): binary cross-entropy on logits. */
export function bceWithLogits(logits: Tensor, target: Tensor): Tensor {
  checkPair('bceWithLogits', logits, target);
  const n = logits.size;
  const per = empty([n], logits.rt);
  logits.rt.dispatch({ shader: 'loss', entry: 'bce_forward' }, lossParams(n, 1, 1), [logits.region(), target.region(), per.region()], grid(n, logits));
  const loss = reshapeOwned(reduceRaw(per, 1, n, 1, 'sum', 1 / n), []);
  per.dispose();
  return record('bceWithLogits', loss, [logits], (g) => {
    const d = empty(logits.shape, logits.rt);
    logits.rt.dispatch({ shader: 'loss', entry: 'bce_backward' }, lossParams(n, 1, 1 / n), [logits.region(), target.region(), g.region(), d.region()], grid(n, logits));
    return [d];
  });
}

/** mean over rows of −log softmax(logits)[label]; labels are class indices stored as f32. */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor): Tensor {
  if (logits.rank !== 2) throw new ShapeError(`softmaxCrossEntropy expects logits [batch, classes], got [${logits.shape}]`);
  const [n, classes] = logits.shape;
  if (labels.size !== n) throw new ShapeError(`softmaxCrossEntropy: ${labels.size} labels for ${n} rows of logits`);
  const per = empty([n], logits.rt);
  const probs = empty([n, classes], logits.rt);
  logits.rt.dispatch(
    { shader: 'loss', entry: 'ce_forward' },
    lossParams(n, classes, 1),
    [logits.region(), labels.region(), per.region(), probs.region()],
    grid(n, logits),
  );
  const loss = reshapeOwned(reduceRaw(per, 1, n, 1, 'sum', 1 / n), []);
  per.dispose();
  const out = record('softmaxCrossEntropy', loss, [logits], (g) => {
    const d = empty(logits.shape, logits.rt);
    logits.rt.dispatch(
      { shader: 'loss', entry: 'ce_backward' },
      lossParams(n, classes, 1 / n),
      [probs.region(), labels.region(), g.region(), d.region()],
      grid(n * classes, logits),
    );
    // The tape runs a rule once: the saved probabilities can go (encoded work keeps them).
    probs.dispose();
    return [d];
  });
  // Without a gradient nobody will read the probabilities again.
  if (!out.requiresGrad) probs.dispose();
  return out;
}
