// Sets of single runs (fig4, fig5, sweeps): each run's directory is named by the hash of
// its resolved config; a run is complete when its summary.json exists, and complete runs
// are skipped (or copied from a matching run elsewhere, e.g. an earlier fig1 run).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson } from './run-dir.js';

export interface GridRun<C> {
  /** Short label for directory names and reports, e.g. 'he' or 'w256'. */
  label: string;
  config: C;
  hash: string;
}

export function runDirName(run: GridRun<unknown>): string {
  return `${run.label}-${run.hash}`;
}

export function isComplete(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'summary.json')) && fs.existsSync(path.join(dir, 'config.json'));
}

/** Search `roots` (a few levels deep) for a completed run whose config hash is `hash`. */
export function findCompletedRun(hash: string, roots: readonly string[], maxDepth = 4): string | undefined {
  const visit = (dir: string, depth: number): string | undefined => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return undefined;
    }
    if (entries.some((e) => e.name === 'config.json') && isComplete(dir)) {
      try {
        if (readJson<{ configHash?: string }>(path.join(dir, 'config.json')).configHash === hash) return dir;
      } catch {
        // An unreadable config is not a match.
      }
    }
    if (depth >= maxDepth) return undefined;
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'checkpoints') {
        const hit = visit(path.join(dir, e.name), depth + 1);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  for (const root of roots) {
    const hit = visit(root, 0);
    if (hit) return hit;
  }
  return undefined;
}

/** Copy a finished run's files (not its checkpoints) into `dest`. */
export function copyRun(src: string, dest: string): void {
  fs.mkdirSync(dest, { recursive: true });
  for (const name of ['config.json', 'metrics.jsonl', 'summary.json', 'report.html']) {
    const from = path.join(src, name);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(dest, name));
  }
}
