// Progress on stderr: the work up front, then one line per tick with an ETA. On a TTY the
// line rewrites itself; otherwise at most one line every few seconds (logs stay short).
export interface Progress {
  /** knownGflops: throughput measured by an earlier run on this adapter (for an ETA up front). */
  start(totalTicks: number, flopsPerTick?: number, knownGflops?: number): void;
  /** Sustained GFLOP/s over the ticks after the first (undefined for spans under 20 s). */
  gflops(): number | undefined;
  tick(done: number, detail: string): void;
  done(): void;
  log(message: string): void;
}

function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function createProgress(opts: { quiet?: boolean; label?: string; stream?: NodeJS.WriteStream } = {}): Progress {
  const out = opts.stream ?? process.stderr;
  const tty = Boolean(out.isTTY);
  const label = opts.label ? `${opts.label} ` : '';
  let total = 0;
  let flops = 0;
  let t0 = 0;
  let lastPrint = 0;
  let firstTickAt = 0;
  let firstTickDone = 0;
  let lastTickAt = 0;
  let lastDone = 0;
  return {
    start(totalTicks, flopsPerTick = 0, knownGflops) {
      total = totalTicks;
      flops = flopsPerTick;
      t0 = performance.now();
      if (!opts.quiet && flops > 0) {
        const eta = knownGflops ? `, ETA ${fmtDuration(((flops * totalTicks) / (knownGflops * 1e9)) * 1000)} at the ${knownGflops.toFixed(1)} GFLOP/s of the last run on this adapter` : ', ETA after the first epochs';
        out.write(`${label}work: ${totalTicks} epochs × ${(flops / 1e9).toFixed(2)} GFLOP = ${((flops * totalTicks) / 1e12).toFixed(3)} TFLOP${eta}\n`);
      }
    },
    gflops() {
      const now = lastTickAt;
      // Short runs are dominated by fixed costs: only a span of 20 s or more is a throughput.
      if (lastDone <= firstTickDone || flops <= 0 || now - firstTickAt < 20_000) return undefined;
      return (flops * (lastDone - firstTickDone)) / ((now - firstTickAt) * 1e6);
    },
    tick(done, detail) {
      const now = performance.now();
      lastTickAt = now;
      lastDone = done;
      if (firstTickAt === 0) {
        // The first epoch includes pipeline compilation: estimate from the ones after it.
        firstTickAt = now;
        firstTickDone = done;
        if (flops > 0 && !opts.quiet) out.write(`${label}first epoch took ${fmtDuration(now - t0)} (includes shader compilation)\n`);
      }
      const rate = done > firstTickDone ? (now - firstTickAt) / (done - firstTickDone) : now - t0;
      const eta = (total - done) * rate;
      const gflops = done > firstTickDone && flops > 0 ? ` ${((flops / rate) * 1e-6).toFixed(1)} GFLOP/s` : '';
      if (opts.quiet) return;
      const line = `${label}epoch ${done - 1}/${total - 1}  ${detail}  ETA ${fmtDuration(eta)}${gflops}`;
      if (tty) out.write(`\r\x1b[2K${line}`);
      else if (now - lastPrint > 5000 || done === total) {
        out.write(`${line}\n`);
        lastPrint = now;
      }
    },
    done() {
      if (!opts.quiet && tty) out.write('\n');
      if (!opts.quiet) out.write(`${label}finished in ${fmtDuration(performance.now() - t0)}\n`);
    },
    log(message) {
      if (!opts.quiet) out.write(`${tty ? '\r\x1b[2K' : ''}${label}${message}\n`);
    },
  };
}
