// Two runs writing to different directories at the same time do not interfere: each gets
// exactly the metrics it gets alone.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');

function rows(dir: string) {
  return fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .map(({ timeMs: _t, ...rest }) => rest);
}

it('concurrent runs equal the same runs done alone', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-conc-'));
  const args = (seed: number, out: string) => ['run', 'fig1', '--preset', 'tiny', '--seed', String(seed), '--quiet', '--out', out];
  const both = await Promise.all(
    [1, 2].map(
      (seed) =>
        new Promise<number | null>((resolve) => {
          const c = spawn(process.execPath, [cli, ...args(seed, path.join(tmp, `c${seed}`))], { cwd: root, stdio: 'ignore' });
          c.on('exit', (code) => resolve(code));
        }),
    ),
  );
  expect(both).toEqual([0, 0]);
  for (const seed of [1, 2]) {
    expect(spawnSync(process.execPath, [cli, ...args(seed, path.join(tmp, `s${seed}`))], { cwd: root }).status).toBe(0);
    expect(rows(path.join(tmp, `c${seed}`))).toEqual(rows(path.join(tmp, `s${seed}`)));
  }
  expect(rows(path.join(tmp, 'c1'))).not.toEqual(rows(path.join(tmp, 'c2')));
});
