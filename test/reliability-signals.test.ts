// SIGINT/SIGTERM handling of a run: the first signal asks for a checkpoint and a stop, a repeat
// within the duplicate window (srun and npm both forwarding one SIGTERM) is ignored, and a later
// one forces an exit. The Slurm example starts lplr without npx.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CheckpointPolicy } from '../harness/run/checkpoint.js';

describe('CheckpointPolicy signals', () => {
  afterEach(() => vi.restoreAllMocks());

  it('first signal stops after a checkpoint, repeats within 2 s are ignored, a later one exits', () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const policy = new CheckpointPolicy(25, 5);
    expect(policy.due(3)).toBe(false);
    expect(policy.handleSignal('SIGTERM', 10_000)).toBe('stop');
    expect(policy.stopRequested).toBe(true);
    // The checkpoint is due at once, whatever the cadence.
    expect(policy.due(3)).toBe(true);
    expect(policy.handleSignal('SIGTERM', 10_005)).toBe('ignored');
    expect(policy.handleSignal('SIGINT', 11_999)).toBe('ignored');
    expect(policy.handleSignal('SIGTERM', 12_000)).toBe('exit');
    expect(policy.handleSignal('SIGINT', 30_000)).toBe('exit');
  });

  it('the window is a parameter (0: every repeat exits)', () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const policy = new CheckpointPolicy(25, 5, 0);
    expect(policy.handleSignal('SIGINT', 0)).toBe('stop');
    expect(policy.handleSignal('SIGINT', 0)).toBe('exit');
  });

  it('installed handlers: a doubled SIGTERM does not exit, a third after the window does', () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      writes.push(String(s));
      return true;
    });
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const clock = vi.spyOn(performance, 'now');
    const policy = new CheckpointPolicy(25, 5);
    const listenersBefore = process.listenerCount('SIGTERM');
    policy.installSignalHandlers();
    try {
      clock.mockReturnValue(1000);
      process.emit('SIGTERM', 'SIGTERM');
      clock.mockReturnValue(1040);
      process.emit('SIGTERM', 'SIGTERM');
      expect(exit).not.toHaveBeenCalled();
      expect(policy.stopRequested).toBe(true);
      expect(writes.join('')).toMatch(/SIGTERM received: checkpointing after this epoch[^]*repeated SIGTERM within 2 s ignored; still checkpointing/);
      clock.mockReturnValue(3500);
      process.emit('SIGTERM', 'SIGTERM');
      expect(exit).toHaveBeenCalledWith(130);
      // While the stopped run winds down its handlers stay: a late repeat must not meet the
      // default action (death by signal instead of exit 130).
      policy.removeSignalHandlers();
      expect(process.listenerCount('SIGTERM')).toBe(listenersBefore + 1);
    } finally {
      policy.removeSignalHandlers(true);
    }
    expect(process.listenerCount('SIGTERM')).toBe(listenersBefore);
  });
});

describe('docs/slurm-sweep.sh', () => {
  it('starts lplr with node, not npx (npm would forward Slurm\'s SIGTERM a second time)', () => {
    const script = fs.readFileSync(path.resolve(__dirname, '..', 'docs', 'slurm-sweep.sh'), 'utf8');
    expect(script).toMatch(/^srun node bin\/lplr\.mjs sweep fig1 \\$/m);
    // No command (comments aside) goes through npx.
    expect(script).not.toMatch(/^[^#\n]*\bnpx\b/m);
  });
});
