// Dawn writes two warnings with fprintf(stderr) every time an adapter is requested on the
// GLES backend ("maxDynamic...BuffersPerPipelineLayout artificially reduced ..."). lplr
// catches the native stderr around requestAdapter and drops exactly those lines: `lplr info`
// on a terminal or into a pipe shows no Dawn output, and any other native output still
// comes through. Uncaptured WebGPU errors no longer dump "validation: ..." onto stdout.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { withoutBenignDawnWarnings } from '../src/gpu/node.js';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

const CLI = path.join(REPO_ROOT, 'bin', 'lplr.mjs');
const UNIFORM_WARNING = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.';
const STORAGE_WARNING = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 80 to 16 to fit dynamic offset allocation limit.';
const hasSh = fs.existsSync('/bin/sh') && process.platform !== 'win32';
const hasScript = hasSh && spawnSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' }).status === 0;

/** Run a shell command line with `sh -c`; its stdout is what the test reads. */
function sh(command: string, timeout = 120_000) {
  return spawnSync('sh', ['-c', command], { cwd: REPO_ROOT, encoding: 'utf8', timeout, env: { ...process.env, LPLR_RAW_STDERR: '' } });
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('withoutBenignDawnWarnings', () => {
  it('drops exactly the two limit-clamping lines and keeps everything else byte for byte', () => {
    const text = `${UNIFORM_WARNING}\nError: a real problem\n${STORAGE_WARNING}\r\nno newline at the end`;
    expect(withoutBenignDawnWarnings(text)).toBe('Error: a real problem\nno newline at the end');
    // Similar-looking lines are not swallowed.
    const other = `Warning: maxStorageBuffersPerShaderStage artificially reduced from 90 to 16.\n${UNIFORM_WARNING} (extra)\n`;
    expect(withoutBenignDawnWarnings(other)).toBe(other);
  });
});

describe.skipIf(!hasSh)('native stderr around requestAdapter', () => {
  let probe = '';
  beforeAll(async () => {
    // A child process that writes like native code (straight to fd 2) inside the capture.
    const dir = path.join(REPO_ROOT, 'node_modules', '.cache', 'lplr-tests');
    fs.mkdirSync(dir, { recursive: true });
    const entry = path.join(dir, `stderr-entry-${process.pid}.ts`);
    fs.writeFileSync(
      entry,
      `import * as fs from 'node:fs';\nimport { captureNativeStderr } from ${JSON.stringify(path.join(REPO_ROOT, 'src', 'gpu', 'node.ts'))};\n` +
        `const r = captureNativeStderr(() => { fs.writeSync(2, ${JSON.stringify(`${UNIFORM_WARNING}\nError: from native code\n${STORAGE_WARNING}\n`)}); return 42; });\n` +
        `process.stderr.write('after ' + r + '\\n');\n`,
    );
    probe = path.join(dir, `stderr-probe-${process.pid}.mjs`);
    await build({ entryPoints: [entry], outfile: probe, bundle: true, format: 'esm', platform: 'node', target: 'node20', external: ['webgpu'], logLevel: 'error' });
    fs.rmSync(entry);
  });

  it('through a pipe: the Dawn warnings are dropped, other native output and later writes come through', () => {
    const r = sh(`${quote(process.execPath)} ${quote(probe)} 2>&1 >/dev/null | cat`);
    expect(r.stdout).toBe('Error: from native code\nafter 42\n');
  });

  it('into a socket (Node child_process pipes), which cannot be reopened: nothing is lost', () => {
    const r = spawnSync(process.execPath, [probe], { encoding: 'utf8' });
    expect(r.stderr).toBe(`${UNIFORM_WARNING}\nError: from native code\n${STORAGE_WARNING}\nafter 42\n`);
  });

  it('`lplr info` writes nothing to a stderr pipe', () => {
    // stderr (and the exit status, appended last) go into the pipe; stdout is discarded.
    const r = sh(`{ ${quote(process.execPath)} ${quote(CLI)} info; echo "exit=$?" >&2; } 2>&1 >/dev/null | cat`);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines.pop()).toBe('exit=0');
    // The only stderr line lplr itself may print is its adapter line.
    expect(lines.filter((l) => !/^lplr: using /.test(l))).toEqual([]);
  });

  it.skipIf(!hasScript)('`lplr info` on a terminal (pty) shows the adapter and no Dawn warning', () => {
    const r = sh(`script -qec ${quote(`${quote(process.execPath)} ${quote(CLI)} info`)} /dev/null`);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/adapter:/);
    expect(r.stdout).not.toMatch(/artificially reduced|Warning:/);
  });
});
