// scripts/test.mjs (`npm test`) fails when its time budget runs out, even if vitest, stopped
// by SIGTERM, exits 0, and says so.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

describe('npm test budget', () => {
  it('a run that exceeds LPLR_TEST_BUDGET_S exits non-zero with a message naming the budget', () => {
    // A test file that would take 60 s, outside test/ so that the suite never picks it up.
    const dir = fs.mkdtempSync(path.join(REPO_ROOT, 'node_modules', '.cache', 'lplr-budget-'));
    const slow = path.join(dir, 'slow.test.mjs');
    fs.writeFileSync(slow, "import { it } from 'vitest';\nit('sleeps', () => new Promise((r) => setTimeout(r, 60_000)), 90_000);\n");
    // Its own config: the folder lies under node_modules, which vitest excludes by default.
    const config = path.join(dir, 'vitest.config.mjs');
    fs.writeFileSync(config, "export default { test: { include: ['*.test.mjs'], exclude: [] } };\n");
    try {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'test.mjs'), '--root', dir, '--config', config], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, LPLR_TEST_BUDGET_S: '3' },
      });
      expect(r.signal, 'scripts/test.mjs did not stop at its budget').toBeNull();
      expect(Date.now() - t0).toBeLessThan(50_000);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/budget of 3 s is exhausted/);
      expect(r.stderr).toMatch(/FAILED: stopped after [\d.]+ s, over the 3 s budget/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
