// `lplr report DIR [--png]`: (re)build summary.json and report.html from a directory's files:
// a single run (also one downloaded from the browser page), a set (fig4, fig5) or `all`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { summarizeRun } from '../analysis/summary.js';
import { withoutRetiredThresholds } from '../analysis/verdicts.js';
import { FIG3_REPORT_TITLE, summarizeCifarRun } from '../experiments/cifar-lab.js';
import type { CifarRunConfig } from '../experiments/cifar-config.js';
import type { MetricRow } from '../../src/metrics/schema.js';
import { mlpSummaryConfig, type MlpRunConfig } from '../experiments/mlp-config.js';
import { readJson, readMetrics, writeJsonAtomic } from '../run/run-dir.js';
import { writeMlpReport } from '../run/reports.js';
import { directoryKind, rebuildAll, rebuildSeedSet, rebuildSet, type SetKind } from '../experiments/registry.js';
import { helpText, parseArgs, type OptionSpec } from '../options/args.js';
import { PLAN_FILE, readPlan, runState } from '../run/sweep.js';
import { writeSweepReport } from '../run/sweep-report.js';
import type { Verb } from './verb.js';

const OPTIONS: OptionSpec[] = [
  { name: 'fit-window', type: 'range', help: 'epochs used by the fits, inclusive', placeholder: 'A:B' },
  { name: 'png', type: 'bool', help: 'also write a PNG of each figure (needs Chromium)', default: false },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const reportVerb: Verb = {
  name: 'report',
  summary: 'rebuild summary.json and report.html of a run, fig4, fig5, all, seed-set or sweep directory',
  async run(argv) {
    const args = parseArgs(argv, OPTIONS);
    const dir = args.positionals[0];
    if (args.values.help || !dir) {
      process.stdout.write(
        `${helpText('lplr report DIR [options]', "Recompute the summary and rebuild report.html from metrics.jsonl. DIR is a run, or a fig4, fig5, all, seed-set (--seeds) or sweep directory (every run in it and the set's figure or the sweep's merge are rebuilt).", OPTIONS)}\n`,
      );
      return dir ? 0 : 2;
    }
    const fitWindowFlag = args.values['fit-window'] as [number, number] | undefined;
    const kind = fs.existsSync(path.join(dir, PLAN_FILE)) ? 'sweep' : directoryKind(dir);
    if (!kind) {
      throw new ConfigError(
        `${dir} has no metrics.jsonl and is not a fig4, fig5, all, seed-set or sweep directory (config.json or summary.json naming the experiment, with its runs; or the sweep.json of lplr sweep). Give a directory written by 'lplr run' or 'lplr sweep', or downloaded from the browser page.`,
      );
    }
    let reports: string[];
    if (kind === 'run') {
      reports = [rebuildRun(dir, fitWindowFlag)];
    } else if (kind === 'all') {
      reports = rebuildAll(dir, { fitWindow: fitWindowFlag }).reports;
    } else if (kind === 'sweep') {
      // Each complete run's summary under the current rules, then the merge over them.
      const plan = readPlan(dir);
      reports = plan.runs.map((r) => path.join(dir, r.dir)).filter((d) => runState(d).state === 'complete').map((d) => rebuildRun(d, fitWindowFlag));
      writeSweepReport(path.resolve(dir), dir);
      reports.push(path.join(dir, 'report.html'));
    } else if (kind === 'seeds') {
      reports = rebuildSeedSet(dir, { fitWindow: fitWindowFlag }).reports;
    } else {
      reports = rebuildSet(dir, kind, { fitWindow: fitWindowFlag }).reports;
    }
    for (const file of reports) process.stdout.write(`wrote ${file}\n`);
    if (args.values.png) {
      const { writeReportPngs } = await import('../report/png.js');
      // A set's member reports are inputs to its figure; the PNGs are of the figures' pages.
      for (const file of figureReports(dir, kind)) {
        for (const f of await writeReportPngs(file)) process.stdout.write(`wrote ${f}\n`);
      }
    }
    return 0;
  },
};

/** Recompute one run's summary.json under the current rules and rebuild its report.html; returns the report's path. */
function rebuildRun(dir: string, fitWindowFlag: [number, number] | undefined): string {
  const rows = readMetrics(path.join(dir, 'metrics.jsonl')) as MetricRow[];
  const cfgFile = path.join(dir, 'config.json');
  const recorded = fs.existsSync(cfgFile) ? readJson<{ experiment?: string; config?: unknown }>(cfgFile) : undefined;
  if (recorded?.experiment === 'fig3') {
    // A fig3 run: its smoothed fits with the run's EMA β, and its throughput.
    const config = recorded.config as CifarRunConfig;
    const summary = summarizeCifarRun(rows, config, fitWindowFlag ?? config.fitWindow);
    writeJsonAtomic(path.join(dir, 'summary.json'), summary);
    return writeMlpReport(dir, FIG3_REPORT_TITLE, config, rows, summary);
  }
  const config = recorded?.config as MlpRunConfig | undefined;
  const fitWindow = fitWindowFlag ?? config?.fitWindow;
  // The verdict thresholds the run recorded (runs from before they were recorded: the defaults).
  const summary = summarizeRun(rows, { ...mlpSummaryConfig(config), fitWindow, thresholds: withoutRetiredThresholds(config?.thresholds as Record<string, unknown> | undefined) });
  writeJsonAtomic(path.join(dir, 'summary.json'), summary);
  return writeMlpReport(dir, `Run ${path.basename(path.resolve(dir))}`, config, rows, summary);
}

/** The reports whose charts are the paper's figures: a run's own, a set's, or each part's of `all`. */
function figureReports(dir: string, kind: 'run' | SetKind | 'seeds' | 'all' | 'sweep'): string[] {
  if (kind !== 'all') return [path.join(dir, 'report.html')];
  return ['fig1', 'fig2', 'fig4', 'fig5'].map((p) => path.join(dir, p, 'report.html')).filter((f) => fs.existsSync(f));
}
