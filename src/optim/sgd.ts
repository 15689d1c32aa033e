// SGD with momentum, Nesterov and weight decay (PyTorch semantics), one fused dispatch
// per arena chunk. Kernel: shaders/optim.wgsl.
import { ConfigError } from '../errors.js';
import { grid1d } from '../gpu/runtime.js';
import { paramsLayout } from '../gpu/uniform.js';
import { Arena } from '../nn/arena.js';
import type { ParameterSet } from '../nn/module.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD {
  readonly velocity: Arena | undefined;
  private steps = 0;
  lr: number;

  constructor(
    readonly set: ParameterSet,
    readonly opts: SgdOptions,
  ) {
    const { lr, momentum = 0, weightDecay = 0, dampening = 0 } = opts;
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new ConfigError(`lr must be a finite number >= 0, got ${lr}`);
    if (!(momentum >= 0 && momentum < 1)) throw new ConfigError(`momentum must be in [0, 1), got ${momentum}`);
    if (!(weightDecay >= 0)) throw new ConfigError(`weight decay must be >= 0, got ${weightDecay}`);
    if (opts.nesterov && (momentum <= 0 || dampening !== 0)) throw new ConfigError('Nesterov momentum needs momentum > 0 and dampening 0');
    this.lr = lr;
    // Velocity shares the parameter layout (zero-filled); absent without momentum.
    this.velocity = momentum > 0 ? new Arena(set.rt, set.params.layout, 'velocity') : undefined;
  }

  get stepCount(): number {
    return this.steps;
  }

  /** Restore the step counter (checkpoint resume). */
  set stepCount(n: number) {
    this.steps = n;
  }

  step(lr = this.lr): void {
    const rt = this.set.rt;
    const { momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = this.opts;
    const p = this.set.params.chunkRegions();
    const g = this.set.grads.chunkRegions();
    const v = this.velocity?.chunkRegions();
    p.forEach((region, i) => {
      const n = region.size / 4;
      rt.dispatch(
        { shader: 'optim' },
        paramsLayout('optim').pack({ n, lr, momentum, dampening, weightDecay, nesterov: nesterov ? 1 : 0, firstStep: this.steps === 0 ? 1 : 0 }),
        [region, g[i], v ? v[i] : rt.dummyRegion()],
        grid1d(n, 256, rt.limits.maxComputeWorkgroupsPerDimension),
      );
    });
    this.steps++;
  }

  dispose(): void {
    this.velocity?.dispose();
  }
}
