// `lplr merge DIR`: collect the finished runs of a sweep (whatever shards ran them) into
// DIR/summary.json and DIR/report.html. merge is the only writer of these two files, and writes
// each atomically, so it can run while shards are still working (their runs show as unfinished).
import * as path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { countsText, fmtStat, type MergedSweep } from '../report/merge-sections.js';
import { writeSweepReport } from '../run/sweep-report.js';
import { helpText, parseArgs, type OptionSpec } from '../options/args.js';
import type { Verb } from './verb.js';

const OPTIONS: OptionSpec[] = [
  { name: 'json', type: 'bool', help: 'print the merged summary as JSON on stdout', default: false },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const mergeVerb: Verb = {
  name: 'merge',
  summary: "merge a sweep's finished runs into summary.json and report.html (mean ± std over seeds)",
  async run(argv) {
    const args = parseArgs(argv, OPTIONS);
    const dirArg = args.positionals[0];
    if (args.values.help || !dirArg) {
      process.stdout.write(`${helpText('lplr merge DIR [options]', 'Collect the runs of the sweep in DIR (the --out of lplr sweep) into summary.json and report.html.', OPTIONS)}\n`);
      return dirArg ? 0 : 2;
    }
    if (args.positionals.length > 1) throw new ConfigError(`lplr merge takes one directory; got also '${args.positionals[1]}'.`);
    const dir = path.resolve(dirArg);
    const merged = writeSweepReport(dir, dirArg);
    const c = merged.counts;
    if (args.values.json) process.stdout.write(`${JSON.stringify(merged)}\n`);
    else {
      const diverged = c.diverged > 0 ? `; ${c.diverged} diverged` : '';
      process.stdout.write(
        `merged ${c.complete}/${c.planned} runs in ${merged.configurations.length} configurations${c.failed + c.unfinished + c.missing > 0 ? ` (${c.failed} failed, ${c.unfinished} unfinished, ${c.missing} missing)` : ''}${diverged}\n`,
      );
      process.stdout.write(`${configurationLines(merged).join('\n')}\n`);
      for (const g of merged.lrScaling ?? []) {
        process.stdout.write(`  late e-folds against lr (${g.label}): slope ${g.slope.toFixed(3)} over ${g.points.length} learning rates (rate ∝ lr: 1; power law: 0)\n`);
      }
      for (const p of merged.problems.slice(0, 10)) process.stdout.write(`  ${p.diverged ? 'diverged' : p.state} ${p.label}${p.detail ? `: ${p.detail.split('\n')[0]}` : ''}\n`);
      if (merged.problems.length > 10) process.stdout.write(`  ... and ${merged.problems.length - 10} more (see report.html)\n`);
      process.stdout.write(`wrote ${path.join(dirArg, 'summary.json')} and ${path.join(dirArg, 'report.html')}\n`);
    }
    return 0;
  },
};

/** One line per configuration: the verdict counts over seeds, so the terminal shows the answer. */
function configurationLines(m: MergedSweep): string[] {
  const verdict = (cfg: MergedSweep['configurations'][number], prefix: string): string => {
    const v = cfg.verdicts.find((x) => x.name.startsWith(prefix));
    return !v || v.of === 0 ? '—' : countsText(v.outcomes);
  };
  return m.configurations.map((cfg) => {
    const div = cfg.diverged.runs > 0 ? `, ${cfg.diverged.runs} diverged` : '';
    return `  ${cfg.label}: ${cfg.completedSeeds.length}/${cfg.runs.length} seeds${div}; final loss ${fmtStat(cfg.finalLoss)}, q ${fmtStat(cfg.convergence.q)}; linear convergence ${verdict(cfg, 'linear convergence')}; PL ${verdict(cfg, 'PL condition')}`;
  });
}
