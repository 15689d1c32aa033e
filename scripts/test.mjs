#!/usr/bin/env node
// `npm test`: vitest on at most 2 workers with a hard budget (default 12 minutes, LPLR_TEST_BUDGET_S),
// per-file times printed by vitest's reporter, and a closing line with the total.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const budgetS = Number(process.env.LPLR_TEST_BUDGET_S ?? 720);
const require = createRequire(import.meta.url);
// vitest's package exports hide its bin script; locate it next to package.json.
const vitest = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
// Tests get their own cache (adapter probe, throughput, autotune) instead of the user's.
const cacheDir = process.env.LPLR_TEST_CACHE_DIR ?? mkdtempSync(join(tmpdir(), 'lplr-test-cache-'));
const t0 = Date.now();
const child = spawn(process.execPath, [vitest, 'run', '--maxWorkers=2', ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, LPLR_TEST: '1', LPLR_NO_TUNING: '1', LPLR_CACHE_DIR: cacheDir } });
// vitest may still exit 0 after SIGTERM (it reports what finished), so remember that the
// budget ran out and fail regardless of its exit status.
let budgetExhausted = false;
const timer = setTimeout(() => {
  budgetExhausted = true;
  process.stderr.write(`\nnpm test: the test budget of ${budgetS} s is exhausted; stopping vitest.\n`);
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 5000).unref();
}, budgetS * 1000);
child.on('exit', (code, signal) => {
  clearTimeout(timer);
  const s = ((Date.now() - t0) / 1000).toFixed(1);
  if (budgetExhausted) {
    process.stderr.write(`npm test: FAILED: stopped after ${s} s, over the ${budgetS} s budget (LPLR_TEST_BUDGET_S); the suite did not finish.\n`);
    process.exit(code && code !== 0 ? code : 1);
  }
  process.stderr.write(`npm test: ${s} s of a ${budgetS} s budget\n`);
  process.exit(signal ? 1 : (code ?? 1));
});
