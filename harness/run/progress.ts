// Progress on stderr: the work up front with an ETA, then one line per tick. On a TTY the
// line rewrites itself; otherwise at most one line every few seconds (logs stay short).
// The ETA up front comes from the throughput of an earlier run on this adapter, or, on a
// fresh machine, from a conservative default for the adapter's class (software or GPU),
// labelled as a rough estimate. The first epoch of a process includes shader compilation (18 s
// of a 48 s run here, cold), so no ETA is derived from it: the next one comes from the epochs
// after it, as soon as the second epoch is done.
import type { AdapterDescription } from '../../src/gpu/device.js';

/** Where a resumed run stands: the ETA up front then covers what is left, at the run's own rate. */
export interface ResumedWork {
  /** Ticks (epochs) finished before this process, fractional for a mid-epoch checkpoint. */
  doneTicks: number;
  /** GFLOP/s the run sustained before (its checkpoint's work over its elapsed time), if known. */
  gflops?: number;
}

export interface Progress {
  /**
   * knownGflops: throughput measured by an earlier run on this adapter (for an ETA up front);
   * resumed: what a resumed run did before this process.
   */
  start(totalTicks: number, flopsPerTick?: number, knownGflops?: number, resumed?: ResumedWork): void;
  /** Sustained GFLOP/s over the ticks after the first (undefined for spans under 20 s). */
  gflops(): number | undefined;
  tick(done: number, detail: string): void;
  done(): void;
  log(message: string): void;
  /** The adapter the work runs on: gives a rough ETA up front when no earlier run measured it. */
  setAdapter?(info: Pick<AdapterDescription, 'isSoftware'>): void;
}

/**
 * Conservative GFLOP/s per adapter class, for an ETA before anything was measured on the
 * adapter. Well below what the engine reaches (about 20-40 GFLOP/s on 2 llvmpipe cores; far more
 * on any GPU) so that the first estimate errs long rather than short.
 */
export const DEFAULT_GFLOPS: Readonly<Record<'software' | 'gpu', number>> = Object.freeze({ software: 5, gpu: 200 });

export function defaultThroughput(info: Pick<AdapterDescription, 'isSoftware'>): { gflops: number; adapterClass: 'software' | 'gpu' } {
  const adapterClass = info.isSoftware ? 'software' : 'gpu';
  return { gflops: DEFAULT_GFLOPS[adapterClass], adapterClass };
}

export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One epoch's duration: sub-second ones keep two significant digits. */
function fmtEpoch(ms: number): string {
  return ms < 10_000 ? `${Number((ms / 1000).toPrecision(2))}s` : fmtDuration(ms);
}

export interface ProgressOptions {
  quiet?: boolean;
  label?: string;
  stream?: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>;
  /** Milliseconds clock (tests pass a fake one). */
  now?: () => number;
}

export function createProgress(opts: ProgressOptions = {}): Progress {
  const out = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => performance.now());
  const tty = Boolean(out.isTTY);
  const label = opts.label ? `${opts.label} ` : '';
  let adapter: Pick<AdapterDescription, 'isSoftware'> | undefined;
  let total = 0;
  let flops = 0;
  let t0 = 0;
  let lastPrint = 0;
  let firstTickAt = 0;
  let firstTickDone = 0;
  let lastTickAt = 0;
  let lastDone = 0;
  let timedEstimatePrinted = false;
  const write = (line: string) => {
    if (!opts.quiet) out.write(`${tty ? '\r\x1b[2K' : ''}${label}${line}\n`);
  };
  return {
    setAdapter(info) {
      adapter = info;
    },
    start(totalTicks, flopsPerTick = 0, knownGflops, resumed) {
      total = totalTicks;
      flops = flopsPerTick;
      t0 = now();
      lastPrint = t0;
      firstTickAt = 0;
      timedEstimatePrinted = false;
      if (flops <= 0) return;
      const done = resumed ? Math.min(Math.max(resumed.doneTicks, 0), totalTicks) : 0;
      const left = totalTicks - done;
      const etaAt = (gflops: number) => fmtDuration(((flops * left) / (gflops * 1e9)) * 1000);
      const work = `work: ${totalTicks} epochs × ${(flops / 1e9).toFixed(2)} GFLOP = ${((flops * totalTicks) / 1e12).toFixed(3)} TFLOP`;
      if (done > 0) {
        const what = `${Number(left.toFixed(2))} epochs left after ${Number(done.toFixed(2))} done`;
        const rate = resumed?.gflops && Number.isFinite(resumed.gflops) && resumed.gflops > 0 ? resumed.gflops : undefined;
        if (rate) write(`${work}; ${what}: ETA ${etaAt(rate)} at the ${rate.toFixed(1)} GFLOP/s this run sustained so far`);
        else if (knownGflops) write(`${work}; ${what}: ETA ${etaAt(knownGflops)} at the ${knownGflops.toFixed(1)} GFLOP/s of the last run on this adapter`);
        else write(`${work}; ${what}: ETA after the next epoch`);
        return;
      }
      let eta: string;
      if (knownGflops) eta = `ETA ${etaAt(knownGflops)} at the ${knownGflops.toFixed(1)} GFLOP/s of the last run on this adapter`;
      else if (adapter) {
        const d = defaultThroughput(adapter);
        eta = `ETA ~${etaAt(d.gflops)} (rough estimate: no run measured on this adapter yet; assumes ${d.gflops} GFLOP/s, a conservative figure for a ${d.adapterClass === 'software' ? 'software (CPU) adapter' : 'GPU'}; refined after the second epoch)`;
      } else eta = 'ETA after the second epoch';
      write(`${work}, ${eta}`);
    },
    gflops() {
      // Short runs are dominated by fixed costs: only a span of 20 s or more is a throughput.
      if (lastDone <= firstTickDone || flops <= 0 || lastTickAt - firstTickAt < 20_000) return undefined;
      return (flops * (lastDone - firstTickDone)) / ((lastTickAt - firstTickAt) * 1e6);
    },
    tick(done, detail) {
      const t = now();
      lastTickAt = t;
      lastDone = done;
      if (firstTickAt === 0) {
        // The first epoch (of this process: a resumed run starts later) includes pipeline
        // compilation, which can be most of it: an ETA from it could be off by 100x, so none is
        // given until an epoch after it is timed.
        firstTickAt = t;
        firstTickDone = done;
        if (flops > 0 && done < total) write(`first epoch took ${fmtDuration(t - t0)} (includes shader compilation); ETA after the second epoch`);
      } else if (!timedEstimatePrinted && flops > 0 && done > firstTickDone && done < total) {
        // The first epoch without compilation: the first real throughput.
        timedEstimatePrinted = true;
        const per = (t - firstTickAt) / (done - firstTickDone);
        write(`epochs after the first take ${fmtEpoch(per)} each (${((flops / per) * 1e-6).toFixed(1)} GFLOP/s): ETA ${fmtDuration((total - done) * per)}`);
      }
      // Until a tick after the first, there is no rate worth an ETA (see above).
      const timed = done > firstTickDone;
      const rate = timed ? (t - firstTickAt) / (done - firstTickDone) : NaN;
      const eta = timed ? `  ETA ${fmtDuration((total - done) * rate)}` : '';
      const gflops = timed && flops > 0 ? ` ${((flops / rate) * 1e-6).toFixed(1)} GFLOP/s` : '';
      if (opts.quiet) return;
      const line = `${label}epoch ${done - 1}/${total - 1}  ${detail}${eta}${gflops}`;
      if (tty) out.write(`\r\x1b[2K${line}`);
      else if (t - lastPrint > 5000 || done === total) {
        out.write(`${line}\n`);
        lastPrint = t;
      }
    },
    done() {
      if (!opts.quiet && tty) out.write('\n');
      if (!opts.quiet) out.write(`${label}finished in ${fmtDuration(now() - t0)}\n`);
    },
    log(message) {
      write(message);
    },
  };
}
