// The progress output's ETAs: up front from an earlier run's throughput, else from a labelled
// conservative default for the adapter's class, then from the epochs after the first, printed as
// soon as the second epoch is done. The first epoch includes shader compilation, so no ETA is
// taken from it (a cold one took 30 s where later ones took 0.3 s: an ETA 100x too long).
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
      'work: 251 epochs × 10.00 GFLOP = 2.510 TFLOP, ETA ~8m22s (rough estimate: no run measured on this adapter yet; assumes 5 GFLOP/s, a conservative figure for a software (CPU) adapter; refined after the second epoch)',
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

  it('a resumed run: the ETA covers the epochs left, at the rate the run itself sustained', () => {
    const h = harness();
    h.progress.setAdapter?.({ isSoftware: true });
    // 50.5 of 251 epochs done at 20 GFLOP/s; the adapter's last run (25) and the default (5) lose.
    h.progress.start(EPOCHS, FLOPS, 25, { doneTicks: 50.5, gflops: 20 });
    // 200.5 epochs × 1e10 / 20e9 = 100.25 s.
    expect(h.lines()).toEqual(['work: 251 epochs × 10.00 GFLOP = 2.510 TFLOP; 200.5 epochs left after 50.5 done: ETA 1m40s at the 20.0 GFLOP/s this run sustained so far']);
    // Without its own rate, the adapter's last run; without either, wait for an epoch.
    const known = harness();
    known.progress.start(EPOCHS, FLOPS, 25, { doneTicks: 201 });
    expect(known.lines()[0]).toBe('work: 251 epochs × 10.00 GFLOP = 2.510 TFLOP; 50 epochs left after 201 done: ETA 20s at the 25.0 GFLOP/s of the last run on this adapter');
    const none = harness();
    none.progress.setAdapter?.({ isSoftware: true });
    none.progress.start(EPOCHS, FLOPS, undefined, { doneTicks: 1, gflops: Number.NaN });
    expect(none.lines()[0]).toMatch(/250 epochs left after 1 done: ETA after the next epoch$/);
  });

  it('without an adapter the estimate waits for the second epoch', () => {
    const h = harness();
    h.progress.start(EPOCHS, FLOPS);
    expect(h.lines()[0]).toMatch(/ETA after the second epoch$/);
  });

  it('a cold first epoch gives no ETA; the second epoch gives the one worth believing, at once', () => {
    const h = harness();
    h.progress.setAdapter?.({ isSoftware: true });
    h.progress.start(EPOCHS, FLOPS);
    // A cold first epoch: 30 s, nearly all of it shader compilation.
    h.advance(30_000);
    h.progress.tick(1, 'loss 0.5');
    // Neither the message nor the progress line (printed: 30 s since the last) carries an ETA.
    expect(h.lines().slice(1)).toEqual(['first epoch took 30s (includes shader compilation); ETA after the second epoch', 'epoch 0/250  loss 0.5']);
    expect(h.lines().join('\n')).not.toMatch(/ETA (at most )?\d/);
    h.advance(300);
    h.progress.tick(2, 'loss 0.4');
    // 249 epochs left at 0.3 s: 74.7 s; 1e10 FLOP in 0.3 s = 33.3 GFLOP/s.
    expect(h.lines()[3]).toBe('epochs after the first take 0.3s each (33.3 GFLOP/s): ETA 1m15s');
    h.advance(300);
    h.progress.tick(3, 'loss 0.3');
    // Printed once: later ticks only give the throttled progress line.
    expect(h.lines()).toHaveLength(4);
    h.advance(5_000);
    h.progress.tick(4, 'loss 0.2');
    // Rate over the ticks after the first: 5.6 s / 3 epochs; 247 left = 461 s.
    expect(h.lines()[4]).toBe('epoch 3/250  loss 0.2  ETA 7m41s 5.4 GFLOP/s');
  });

  it('no first epoch is taken for an ETA, fast or slow: which one was cold is not guessed', () => {
    const h = harness();
    h.progress.start(EPOCHS, FLOPS, 25);
    h.advance(6_000);
    h.progress.tick(1, 'loss 0.5');
    expect(h.lines().slice(1)).toEqual(['first epoch took 6s (includes shader compilation); ETA after the second epoch', 'epoch 0/250  loss 0.5']);
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
