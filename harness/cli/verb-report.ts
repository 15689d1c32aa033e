// `lplr report RUN_DIR [--png]`: (re)build report.html from a run directory's files (also
// for runs downloaded from the browser page).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { summarizeRun } from '../../src/metrics/summary.js';
import type { MetricRow } from '../../src/metrics/schema.js';
import type { MlpRunConfig } from '../experiments/mlp-config.js';
import { readJson, readMetrics, writeJsonAtomic } from '../run/run-dir.js';
import { writeMlpReport } from '../run/reports.js';
import { helpText, parseArgs, type OptionSpec } from './args.js';
import type { Verb } from './verb.js';

const OPTIONS: OptionSpec[] = [
  { name: 'fit-window', type: 'range', help: 'epochs used by the fits, inclusive', placeholder: 'A:B' },
  { name: 'png', type: 'bool', help: 'also write a PNG of each figure (needs Chromium)', default: false },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const reportVerb: Verb = {
  name: 'report',
  summary: 'rebuild summary.json and report.html of a run directory',
  async run(argv) {
    const args = parseArgs(argv, OPTIONS);
    const dir = args.positionals[0];
    if (args.values.help || !dir) {
      process.stdout.write(`${helpText('lplr report RUN_DIR [options]', 'Recompute the summary and rebuild report.html from metrics.jsonl.', OPTIONS)}\n`);
      return dir ? 0 : 2;
    }
    if (!fs.existsSync(path.join(dir, 'metrics.jsonl'))) throw new ConfigError(`${dir} has no metrics.jsonl; give a run directory written by 'lplr run' or downloaded from the browser page.`);
    const rows = readMetrics(path.join(dir, 'metrics.jsonl')) as MetricRow[];
    const cfgFile = path.join(dir, 'config.json');
    const config = fs.existsSync(cfgFile) ? readJson<{ config?: MlpRunConfig }>(cfgFile).config : undefined;
    const fitWindow = (args.values['fit-window'] as [number, number] | undefined) ?? config?.fitWindow;
    const summary = summarizeRun(rows, { fitWindow });
    writeJsonAtomic(path.join(dir, 'summary.json'), summary);
    const file = writeMlpReport(dir, `Run ${path.basename(path.resolve(dir))}`, config, rows, summary);
    process.stdout.write(`wrote ${file}\n`);
    if (args.values.png) {
      const { writeReportPngs } = await import('../report/png.js');
      for (const f of await writeReportPngs(file)) process.stdout.write(`wrote ${f}\n`);
    }
    return 0;
  },
};
