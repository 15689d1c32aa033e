// The progress output's ETAs: up front from an earlier run's throughput, else from a labelled
// conservative default for the adapter's class, then from the first epoch (an upper bound: it
// includes compilation) and from the first epoch after it, each printed as soon as it exists.
import { describe, expect, it } from 'vitest';
import { createProgress, DEFAULT_GFLOPS } from '../harness/run/progress.js';

/** A progress writing to a string, on a clock the test moves. */
function harness(opts: { quiet?: boolean } = {}) {
  let text = '';
  let clock = 1_000;
  const progress = createProgress({
    quiet: opts.quiet,
    stream: {
      isTTY: false,
      write: (chunk: string | Uint8Array) => {
        text += String(chunk);
        return true;
      },
    },
    now: () => clock,
  });
  return {
    progress,
    lines: () => text.trim().split('\n'),
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

// 251 epochs (250 updates) of 1e10 FLOP each: 2.51 TFLOP.
const EPOCHS = 251;
const FLOPS = 1e10;

describe('progress ETA', () => {
  it('a software adapter with no measured run: a rough estimate at the software default, labelled', () => {
    const h = harness();
    h.progress.setAdapter?.({ isSoftware: true });
    h.progress.start(EPOCHS, FLOPS);
    // 2.51e12 FLOP at 5 GFLOP/s = 502 s.
    expect(DEFAULT_GFLOPS.software).toBe(5);
    expect(h.lines()).toEqual([
      'work: 251 epochs × 10.00 GFLOP = 2.510 TFLOP, ETA ~8m22s (rough estimate: no run measured on this adapter yet; assumes 5 GFLOP/s, a conservative figure for a software (CPU) adapter; refined after the first epoch)',
    ]);
  });

  it('a GPU with no measured run: the GPU default', () => {
    const h = harness();
    h.progress.setAdapter?.({ isSoftware: false });
    h.progress.start(EPOCHS, FLOPS);
    // 2.51e12 FLOP at 200 GFLOP/s = 12.55 s.
    expect(DEFAULT_GFLOPS.gpu).toBe(200);
    expect(h.lines()[0]).toMatch(/ETA ~13s \(rough estimate: .*assumes 200 GFLOP\/s, a conservative figure for a GPU;/);
  });

  it('a throughput measured on this adapter wins over the default', () => {
    const h = harness();
    h.progress.setAdapter?.({ isSoftware: true });
    h.progress.start(EPOCHS, FLOPS, 25);
    // 2.51e12 / 25e9 = 100.4 s.
    expect(h.lines()[0]).toBe('work: 251 epochs × 10.00 GFLOP = 2.510 TFLOP, ETA 1m40s at the 25.0 GFLOP/s of the last run on this adapter');
  });

  it('without an adapter the estimate waits for the first epoch', () => {
    const h = harness();
    h.progress.start(EPOCHS, FLOPS);
    expect(h.lines()[0]).toMatch(/ETA after the first epoch$/);
  });

  it('prints the ETA from the first epoch, then from the first epoch after it, at once', () => {
    const h = harness();
    h.progress.setAdapter?.({ isSoftware: true });
    h.progress.start(EPOCHS, FLOPS);
    h.advance(3_000);
    h.progress.tick(1, 'loss 0.5');
    // 250 epochs left at 3 s (compilation included): at most 12m30s.
    expect(h.lines()[1]).toBe('first epoch took 3s (includes shader compilation); ETA at most 12m30s from it');
    h.advance(400);
    h.progress.tick(2, 'loss 0.4');
    // 249 epochs left at 0.4 s: 99.6 s; 1e10 FLOP in 0.4 s = 25 GFLOP/s.
    expect(h.lines()[2]).toBe('epochs after the first take 0.4s each (25.0 GFLOP/s): ETA 1m40s');
    h.advance(400);
    h.progress.tick(3, 'loss 0.3');
    // Printed once: later ticks only give the throttled progress line.
    expect(h.lines()).toHaveLength(3);
    h.advance(5_000);
    h.progress.tick(4, 'loss 0.2');
    // Rate over the ticks after the first: 5.8 s / 3 epochs; 247 left = 477.5 s.
    expect(h.lines()[3]).toBe('epoch 3/250  loss 0.2  ETA 7m58s 5.2 GFLOP/s');
  });

  it('--quiet prints nothing', () => {
    const h = harness({ quiet: true });
    h.progress.setAdapter?.({ isSoftware: true });
    h.progress.start(EPOCHS, FLOPS);
    h.advance(3_000);
    h.progress.tick(1, 'loss 0.5');
    h.progress.done();
    expect(h.lines()).toEqual(['']);
  });
});
