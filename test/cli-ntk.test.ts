// The theory measurements through the CLI: `lplr run ntk` and `--ntk-every` on fig5 write
// ntk/hessian rows at the requested epochs, theory.json, and the report's theory sections.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

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

describe('lplr run ntk and --ntk-every', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-ntk-'));

  it('run ntk --preset tiny --ntk-every 2: checks at epochs 0, 2, 4, 6, theory.json and the theory section', () => {
    const dir = path.join(tmp, 'ntk');
    const r = lplr(['run', 'ntk', '--preset', 'tiny', '--ntk-every', '2', '--out', dir, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const rows = rowsOf(dir);
    const ntk = rows.filter((x) => x.kind === 'ntk');
    expect(ntk.map((x) => x.epoch)).toEqual([0, 2, 4, 6]);
    expect(rows.filter((x) => x.kind === 'hessian').map((x) => x.epoch)).toEqual([0, 2, 4, 6]);
    for (const x of ntk) {
      expect(x.lambdaMin as number).toBeGreaterThan(0);
      expect(x.lambdaMax as number).toBeGreaterThanOrEqual(x.lambdaMin as number);
      // ‖∇L_S‖² equals rᵀKr/|S|² when S is the training set: the NTK and backprop agree.
      expect(x.identityRelErr as number).toBeLessThan(1e-4);
    }
    // The epoch rows and the ntk rows at the same epoch measure the same loss.
    const epoch0 = rows.find((x) => x.kind === 'epoch' && x.epoch === 0)!;
    expect(Math.abs((ntk[0].loss as number) - (epoch0.loss as number)) / (epoch0.loss as number)).toBeLessThan(1e-5);
    const theory = JSON.parse(fs.readFileSync(path.join(dir, 'theory.json'), 'utf8')) as { checks: number; verdicts: { name: string; passed: boolean }[] };
    expect(theory.checks).toBe(4);
    expect(theory.verdicts.length).toBeGreaterThan(3);
    const ids = sectionIds(fs.readFileSync(path.join(dir, 'report.html'), 'utf8'));
    for (const id of ['theory', 'theory-lambda', 'theory-pl', 'theory-drift', 'theory-curvature', 'theory-verdicts']) expect(ids.has(id), id).toBe(true);
  });

  it('run ntk refuses --ntk-every 0 (the checks are the point) and names the fix', () => {
    const r = lplr(['run', 'ntk', '--ntk-every', '0', '--out', path.join(tmp, 'zero')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--ntk-every must be >= 1, got 0/);
    expect(fs.existsSync(path.join(tmp, 'zero'))).toBe(false);
    expect(lplr(['run', 'ntk', '--help']).stdout).toMatch(/--ntk-every INT .*\(default: 20\)/);
  });

  it('fig5 with --ntk-every: the width ablation gains the theory-vs-width section', () => {
    const dir = path.join(tmp, 'fig5');
    const r = lplr(['run', 'fig5', '--preset', 'tiny', '--widths', '8,16', '--ntk-every', '3', '--ntk-samples', '16', '--out', dir, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const ids = sectionIds(fs.readFileSync(path.join(dir, 'report.html'), 'utf8'));
    for (const id of ['fig5-theory', 'fig5-theory-table', 'fig5-theory-mu0', 'fig5-theory-drift', 'fig5-theory-slack']) expect(ids.has(id), id).toBe(true);
    const runs = fs.readdirSync(path.join(dir, 'runs'));
    expect(runs.length).toBe(2);
    for (const run of runs) expect(rowsOf(path.join(dir, 'runs', run)).filter((x) => x.kind === 'ntk').map((x) => x.epoch)).toEqual([0, 3, 6]);
  });
});

describe('lplr run ntk checks its files before a device exists', () => {
  it('a --subset larger than the data is one line, exit 2, and no directory', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-ntk-bad-')), 'run');
    const r = lplr(['run', 'ntk', '--subset', '99999', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^lplr: --subset 99999 exceeds the 12665 training samples of digits 0 and 1/)]);
    expect(fs.existsSync(out)).toBe(false);
  });
});
