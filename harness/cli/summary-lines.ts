// What `lplr run` prints when an experiment finishes: the headline's lines, then one short line
// per verdict. It reads only a verdict's name and result, so it keeps working whatever verdicts
// the experiments define.

/**
 * The part of a verdict printed here: its `reading` (the rule's own word, e.g. 'sublinear' or
 * '4 of 5 seeds') when it has one, else its outcome as yes / no / inconclusive.
 */
export interface VerdictLine {
  name: string;
  passed: boolean;
  outcome?: string;
  reading?: string;
}

function word(v: VerdictLine): string {
  if (v.reading) return v.reading;
  if (v.outcome === 'pass') return 'yes';
  if (v.outcome === 'fail') return 'no';
  return v.outcome ?? (v.passed ? 'yes' : 'no');
}

/**
 * The end-of-run summary: `headline` (one or more lines of numbers), then each verdict on its own
 * line, indented, its result in a column after the longest name. No line carries more than one
 * verdict, so nothing wraps into a wall of text however many verdicts there are.
 */
export function formatRunSummary(headline: string, verdicts: readonly VerdictLine[]): string {
  const lines = headline.split('\n').filter((l) => l.trim() !== '');
  const width = Math.max(0, ...verdicts.map((v) => v.name.length));
  for (const v of verdicts) lines.push(`  ${v.name.padEnd(width)}  ${word(v)}`);
  return lines.join('\n');
}
