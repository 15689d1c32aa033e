// Done-means of the verdict issue, through the command a user runs: `lplr report` on run
// directories whose loss curve is a power law gives no passing verdict under any L* choice,
// with or without the L* extension, while a linearly converging curve does pass.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatMetricRow, type MetricRow } from '../src/metrics/schema.js';

const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-powerlaw-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const E = 250;

/** A run directory as `lplr run fig1` writes it, with the given curve and GD's gradient norms. */
function runDir(name: string, L: (t: number) => number, k: number): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const last = k >= 2 ? k * E : E;
  const rows: MetricRow[] = [];
  for (let t = 0; t <= last; t++) rows.push({ kind: 'epoch', epoch: t, loss: L(t), gradNormSq: (L(t) - L(t + 1)) / 1e-3, drift: 0, acc: 1, lr: 1e-3, timeMs: t });
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), rows.map((r) => `${formatMetricRow(r)}\n`).join(''));
  const config = { kind: 'mlp', preset: 'default', width: 256, depth: 5, epochs: E, lr: 1e-3, loss: 'mse', init: 'he', digits: [0, 1], subset: 2000, seed: 0, ntkEvery: 0, ntkSamples: 1024, ...(k >= 2 ? { lstarExtend: k } : {}) };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ experiment: 'fig1', config }));
  return dir;
}

function report(dir: string): { verdicts: { name: string; outcome: string; passed: boolean }[]; lStar: Record<string, { pl: { outcome: string } } | undefined> } {
  const r = spawnSync(process.execPath, [cli, 'report', dir], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
}

describe('lplr report on power-law curves', () => {
  it('no passing linear or PL verdict for (1 + t/τ)^-p, p ∈ {½, 1, 2, 5}, τ ∈ {1, 10}, plain or extended', () => {
    for (const p of [0.5, 1, 2, 5]) {
      for (const tau of [1, 10]) {
        for (const k of [0, 4]) {
          const s = report(runDir(`p${p}-t${tau}-k${k}`, (t) => (1 + t / tau) ** -p, k));
          expect(s.verdicts.length).toBeGreaterThanOrEqual(2);
          expect(s.verdicts.filter((v) => v.passed).map((v) => `${v.name} (p=${p}, τ=${tau}, k=${k})`)).toEqual([]);
          // The judged choices' PL rule does not pass either (min and fit carry no verdict).
          for (const c of ['zero', 'extended']) expect(s.lStar[c]?.pl.outcome ?? 'absent').not.toBe('pass');
        }
      }
    }
  }, 300_000);

  it('a linearly converging curve (to a floor the extension finds) passes both', () => {
    const s = report(runDir('linear', (t) => 0.01 + 0.5 * 0.98 ** t, 4));
    expect(s.verdicts.map((v) => [v.name, v.outcome])).toEqual([
      ['linear convergence', 'pass'],
      ['PL condition (L* = extended)', 'pass'],
    ]);
  });
});
