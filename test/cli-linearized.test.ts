// --linearized through the CLI: fig5 (a set) and `lplr run ntk` write linearized rows per run,
// summary.json's linearized entries and the report sections; fewer than 5 widths give no width
// verdict; `lplr report` rebuilds the sections from the files; fig3 refuses the flag.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');

function lplr(args: string[], timeout = 120_000) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Row = { kind: string; epoch: number; [k: string]: unknown };
const rowsOf = (dir: string): Row[] =>
  fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Row);
const sectionIds = (html: string) => new Set([...html.matchAll(/id="([a-z0-9-]+)"/g)].map((m) => m[1]));

describe('lplr run ... --linearized', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-lin-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('fig5 --preset tiny --widths 8,16: rows and summary per width, no verdict below 5 widths, sections rebuilt by lplr report', () => {
    const dir = path.join(tmp, 'fig5');
    const r = lplr(['run', 'fig5', '--preset', 'tiny', '--widths', '8,16', '--linearized', '--out', dir, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const set = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(set.linearized.runs.map((x: { width: number }) => x.width)).toEqual([8, 16]);
    expect(set.linearized.verdict).toBeNull();
    expect(set.linearized.note).toMatch(/no verdict \(inconclusive\): 2 width/);
    // Each member carries the rate rule's reading of its kernel's own ‖∇L‖².
    for (const x of set.linearized.runs as { kernelReading: string; kernelQ: number }[]) expect(['linear', 'sublinear', 'inconclusive']).toContain(x.kernelReading);
    for (const run of set.runs as { dir: string }[]) {
      const runDir = path.join(dir, run.dir);
      const rows = rowsOf(runDir);
      expect(rows.filter((x) => x.kind === 'linearized').map((x) => x.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      const info = rows.find((x) => x.kind === 'linearized-info')!;
      expect(info.samples).toBe(64);
      const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
      expect(summary.linearized.trainingSamples).toBe(64);
      expect(summary.linearized.curve.epoch.length).toBe(7);
      expect(sectionIds(fs.readFileSync(path.join(runDir, 'report.html'), 'utf8'))).toContain('linearized-curve');
    }
    const ids = sectionIds(fs.readFileSync(path.join(dir, 'report.html'), 'utf8'));
    expect(ids).toContain('fig5-linearized');
    expect(ids).toContain('fig5-linearized-tstar');
    // Rebuilt from the files alone.
    fs.rmSync(path.join(dir, 'report.html'));
    expect(lplr(['report', dir]).code).toBe(0);
    expect(sectionIds(fs.readFileSync(path.join(dir, 'report.html'), 'utf8'))).toContain('fig5-linearized');
  });

  it('fig1 --preset tiny --linearized prints how long the kernel regime held and the kernel’s reading', () => {
    const r = lplr(['run', 'fig1', '--preset', 'tiny', '--linearized', '--out', path.join(tmp, 'fig1'), '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/linearized \(K₀ on 64 samples\): t\* = \d+.*largest deviation [\d.]+ %, η·λ_max [\d.]+; rate rule on the kernel's ‖∇L‖²: (linear|sublinear|inconclusive) \(q /);
  });

  it('run ntk --preset tiny --linearized keeps the theory checks and adds the prediction', () => {
    const dir = path.join(tmp, 'ntk');
    const r = lplr(['run', 'ntk', '--preset', 'tiny', '--ntk-every', '3', '--linearized', '--out', dir, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const rows = rowsOf(dir);
    expect(rows.filter((x) => x.kind === 'ntk').map((x) => x.epoch)).toEqual([0, 3, 6]);
    expect(rows.filter((x) => x.kind === 'linearized').length).toBe(7);
  });

  it('fig3 refuses --linearized with the reason and exit code 2', () => {
    const r = lplr(['run', 'fig3', '--linearized', '--out', path.join(tmp, 'fig3')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--linearized is not available for fig3: mini-batch SGD/);
  });
});
