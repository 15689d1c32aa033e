// README's set-up, followed literally on a fresh Debian machine: its apt-get lines work as root
// (a container has no sudo) and install what CI installs for the tests, Chromium included, and
// the quick start says what Chromium is for.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## The experiments'));

/** The packages of every `apt-get install` line of a text. */
function installed(text: string): Set<string> {
  const pkgs = new Set<string>();
  for (const m of text.matchAll(/apt-get install ([^\n#`>]+)/g)) for (const w of m[1].trim().split(/\s+/)) if (!w.startsWith('-')) pkgs.add(w);
  return pkgs;
}

describe("README's quick start", () => {
  it('runs apt-get without sudo, after apt-get update', () => {
    const commands = quickStart.split('\n').filter((l) => /\bapt-get\b/.test(l) && !l.includes('`sudo`'));
    expect(commands.length).toBeGreaterThan(1);
    for (const line of commands) expect(line, line).not.toMatch(/^\s*sudo\b/);
    expect(quickStart).toMatch(/^apt-get update$/m);
  });

  it('installs everything .ci/run installs for the tests', () => {
    const ci = installed(fs.readFileSync(path.join(REPO_ROOT, '.ci', 'run'), 'utf8'));
    expect([...ci].filter((p) => !installed(quickStart).has(p))).toEqual([]);
    expect(ci.has('chromium')).toBe(true);
  });

  it('says what needs Chromium', () => {
    for (const use of ['lplr report --png', 'lplr verify-browser', 'browser tests', 'SwiftShader', 'libvulkan1']) expect(quickStart).toContain(use);
  });
});
