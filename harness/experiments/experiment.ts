// What an experiment is, for the CLI, the labs and the registry: declared apart from the registry
// so that the labs (fig3, ntk) can implement it without importing the registry that lists them.
import type { Runtime } from '../../src/gpu/runtime.js';
import type { Verdict } from '../analysis/verdicts.js';
import type { OptionSpec, ParsedArgs } from '../options/args.js';
import type { VerdictLine } from '../cli/summary-lines.js';
import type { Progress } from '../run/progress.js';
import type { RunMlpOptions } from './mlp-lab.js';

export interface ExperimentContext {
  rt: Runtime;
  dir: string;
  progress: Progress;
  /** Where to look for completed runs to reuse (the runs/ root). */
  reuseRoots: string[];
  /** Checkpoint cadence and divergence handling for every single run. */
  runOptions: Pick<RunMlpOptions, 'checkpointEvery' | 'checkpointMinutes' | 'continueOnNonFinite' | 'saveParams' | 'keepCheckpoint'>;
  /** Continue interrupted runs from their checkpoints (lplr resume). */
  resume?: boolean;
}

export interface ExperimentResult {
  /** The numbers to print at the end (one or more short lines, no verdicts). */
  headline: string;
  summary: unknown;
  /** The verdicts to print under the headline, one line each (see harness/cli/summary-lines.ts). */
  verdicts?: readonly Verdict[];
  /** The lines to print for the verdicts instead of their outcome (a seed set's "pass (4 of 5 seeds)"). */
  verdictLines?: readonly VerdictLine[];
}

export interface Experiment<P = unknown> {
  name: string;
  description: string;
  options: OptionSpec[];
  /** Resolve and validate everything that can be checked without a GPU. */
  prepare(args: ParsedArgs): P;
  /** Whether run() needs a GPU (a pure re-analysis does not). */
  needsGpu?(prepared: P): boolean;
  run(ctx: ExperimentContext, prepared: P): Promise<ExperimentResult>;
}

