// Writes a sweep's merged summary.json and report.html (lplr merge, and lplr report on a sweep
// directory after it has rebuilt the runs' summaries).
import * as path from 'node:path';
import { renderReport } from '../report/html.js';
import { mergedSections, mergeSweep, type MergedSweep } from '../report/merge-sections.js';
import { writeFileAtomic, writeJsonAtomic } from './run-dir.js';
import { collectSweep, readPlan } from './sweep.js';

/**
 * Merge the sweep in `dir` (its plan and every run's summary.json) into summary.json and
 * report.html; `dirName` is how the user named the directory (for the rerun hint).
 */
export function writeSweepReport(dir: string, dirName: string): MergedSweep {
  const plan = readPlan(dir);
  const merged = mergeSweep(plan, collectSweep(dir, plan));
  writeJsonAtomic(path.join(dir, 'summary.json'), merged);
  const axes = plan.axes.map((a) => a.key).join(' × ') || 'seeds';
  const report = renderReport({
    title: `Sweep ${plan.experiment}: ${axes} (${plan.seeds.length} seed${plan.seeds.length === 1 ? '' : 's'})`,
    subtitle: `${merged.counts.complete}/${merged.counts.planned} runs complete · ${dir}`,
    config: { experiment: plan.experiment, options: plan.base, grid: plan.axes, seeds: plan.seeds, runs: plan.runs.length },
    sections: mergedSections(merged, { dirName }),
  });
  writeFileAtomic(path.join(dir, 'report.html'), report);
  return merged;
}
