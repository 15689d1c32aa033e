// PyTorch's torch.optim.SGD update in float64, written from its documented algorithm:
//   g ← g + λθ;  if μ ≠ 0: b ← g on the first step, else b ← μb + (1 − τ)g;
//   g ← g + μb (Nesterov) or g ← b;  θ ← θ − γg.
export interface RefSgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class RefSgd {
  private buffers: Float64Array[] | undefined;
  private steps = 0;

  constructor(private readonly opts: RefSgdOptions) {}

  /** Update each parameter array in place from its gradient. */
  step(params: Float64Array[], grads: Float64Array[]): void {
    const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = this.opts;
    this.buffers ??= params.map((p) => new Float64Array(p.length));
    params.forEach((theta, j) => {
      const buf = this.buffers![j];
      const grad = grads[j];
      for (let i = 0; i < theta.length; i++) {
        let d = grad[i] + weightDecay * theta[i];
        if (momentum !== 0) {
          buf[i] = this.steps === 0 ? d : momentum * buf[i] + (1 - dampening) * d;
          d = nesterov ? d + momentum * buf[i] : buf[i];
        }
        theta[i] -= lr * d;
      }
    });
    this.steps++;
  }
}
