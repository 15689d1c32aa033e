// The end-of-run summary `lplr run` prints: the headline's numbers, then one short line per
// verdict (it used to be a single line of 400 characters holding every verdict).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatRunSummary } from '../harness/cli/summary-lines.js';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

describe('formatRunSummary', () => {
  it('puts each verdict on its own indented line, results aligned after the longest name', () => {
    const text = formatRunSummary('final loss 1e-2, ρ=0.9/epoch', [
      { name: 'linear (L* = min)', passed: true },
      { name: 'PL-like (L* = min)', passed: false },
    ]);
    expect(text.split('\n')).toEqual(['final loss 1e-2, ρ=0.9/epoch', '  linear (L* = min)   yes', '  PL-like (L* = min)  no']);
  });

  it("prints a verdict's reading, else its outcome as yes / no / inconclusive", () => {
    const text = formatRunSummary('h', [
      { name: 'rate', passed: false, outcome: 'fail', reading: 'sublinear' },
      { name: 'fit', passed: false, outcome: 'inconclusive' },
      { name: 'pl', passed: true, outcome: 'pass' },
      { name: 'seeds', passed: false, outcome: 'fail', reading: '3 of 5 seeds' },
    ]);
    expect(text.split('\n').slice(1)).toEqual(['  rate   sublinear', '  fit    inconclusive', '  pl     yes', '  seeds  3 of 5 seeds']);
  });

  it('keeps a multi-line headline line by line and drops empty lines; no verdicts, no verdict lines', () => {
    expect(formatRunSummary('a\n\nb\n', [])).toBe('a\nb');
  });
});

describe('lplr run fig1 --preset tiny', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-summary-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('ends with the headline, one line per verdict of summary.json, and the files written', () => {
    const out = path.join(tmp, 'run');
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'lplr.mjs'), 'run', 'fig1', '--preset', 'tiny', '--out', out], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, LPLR_CACHE_DIR: path.join(tmp, 'cache') },
    });
    expect(r.status, r.stderr).toBe(0);
    const verdicts = (JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { verdicts: { name: string; outcome: string; reading?: string }[] }).verdicts;
    const word = (v: (typeof verdicts)[number]) => v.reading ?? (v.outcome === 'pass' ? 'yes' : v.outcome === 'fail' ? 'no' : v.outcome);
    expect(verdicts.length).toBeGreaterThan(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^final loss /);
    expect(lines[0]).not.toMatch(/yes|no\b/);
    // The headline's two lines (numbers, then the L* used beside the paper's reading), then the verdicts.
    expect(lines[1]).toMatch(/^L\* = zero .*L\* = min \(paper\)/);
    expect(lines.slice(2, -1)).toEqual(verdicts.map((v) => expect.stringMatching(new RegExp(`^  ${v.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +${word(v)}$`))));
    // Outside the working directory the run directory is named in full (not ../../tmp/...).
    expect(lines[lines.length - 1]).toBe(`wrote ${out}/ (config.json, metrics.jsonl, report.html, summary.json)`);
    for (const line of lines.slice(0, -1)) expect(line.length).toBeLessThanOrEqual(80);
  });
});
