// examples/ run as a user would run them, through the package's public entry point.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

it('examples/train-mlp.mjs trains and exits on its own', () => {
  const build = spawnSync(process.execPath, ['build.mjs'], { cwd: root, encoding: 'utf8' });
  expect(build.status).toBe(0);
  const r = spawnSync(process.execPath, ['examples/train-mlp.mjs'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(0);
  const losses = [...r.stdout.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  expect(losses.length).toBe(7);
  expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 5);
});
