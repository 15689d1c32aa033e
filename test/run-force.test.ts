// `lplr run --force` replaces a previous run only once the new one has produced something:
// a run that fails before its first row (here: a backend this OS does not have, so no
// device) gives the previous run back byte for byte, and a successful one leaves no copy.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const lplr = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });

function fakePreviousRun(dir: string): Record<string, string> {
  const files = { 'metrics.jsonl': '{"kind":"epoch","epoch":0,"loss":1}\n', 'summary.json': '{"old":true}\n', 'report.html': '<p>old</p>\n' };
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return files;
}

const siblings = (dir: string) => fs.readdirSync(path.dirname(dir)).filter((n) => n.startsWith(`${path.basename(dir)}.replaced-`));

describe('lplr run --force over a previous run', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-force-'));

  it('a run that fails before producing anything gives the previous run back', () => {
    const dir = path.join(tmp, 'prev');
    const files = fakePreviousRun(dir);
    const r = lplr(['run', 'fig1', '--preset', 'tiny', '--out', dir, '--force', '--backend', 'd3d12', '--quiet']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/d3d12/);
    expect(fs.readdirSync(dir).sort()).toEqual(Object.keys(files).sort());
    for (const [f, text] of Object.entries(files)) expect(fs.readFileSync(path.join(dir, f), 'utf8')).toBe(text);
    expect(siblings(dir)).toEqual([]);
  });

  it('a successful run replaces it and leaves no copy behind', () => {
    const dir = path.join(tmp, 'prev2');
    fakePreviousRun(dir);
    const r = lplr(['run', 'fig1', '--preset', 'tiny', '--out', dir, '--force', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).not.toContain('"old"');
    expect(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThan(1);
    expect(siblings(dir)).toEqual([]);
  });
});
