// Dawn writes two warnings with fprintf(stderr) every time an adapter is requested on the
// GLES backend ("maxDynamic...BuffersPerPipelineLayout artificially reduced ..."). lplr
// catches the native stderr around requestAdapter and drops exactly those lines: `lplr info`
// on a terminal or into a pipe shows no Dawn output, and any other native output still
// comes through. Uncaptured WebGPU errors no longer dump "validation: ..." onto stdout.
// With stderr in a regular file (`> log 2>&1`, `2> err`) the CLI runs the command in a child
// and filters its output on the way to the file (harness/cli/stderr-relay.ts).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import * as os from 'node:os';
import { BenignDawnWarningFilter, withoutBenignDawnWarnings } from '../src/gpu/node.js';
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

describe('BenignDawnWarningFilter (the same, on a stream in chunks)', () => {
  const text = `lplr: using X\n${UNIFORM_WARNING}\nError: a real problem\n${STORAGE_WARNING}\r\nepoch 1\nWarning: maxDynamic but not that\nlast, no newline`;
  const expected = 'lplr: using X\nError: a real problem\nepoch 1\nWarning: maxDynamic but not that\nlast, no newline';

  it.each([1, 2, 7, 19, 64, 1000])('gives the same text whatever the chunk size (%i)', (size) => {
    const f = new BenignDawnWarningFilter();
    let out = '';
    for (let i = 0; i < text.length; i += size) out += f.push(text.slice(i, i + size));
    expect(out + f.end()).toBe(expected);
  });

  it('passes a partial line on at once unless it may still become a benign line', () => {
    const f = new BenignDawnWarningFilter();
    expect(f.push('epoch 3/250  loss')).toBe('epoch 3/250  loss');
    expect(f.push('\nWarning: maxDyn')).toBe('\n');
    expect(f.push('amicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.')).toBe('');
    // Complete without its newline at the end of the stream: still dropped.
    expect(f.end()).toBe('');
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

  it('`lplr info > file 2>&1`: the file has everything but the Dawn warnings, and what the shell writes after it stays after it', () => {
    const log = path.join(os.tmpdir(), `lplr-stderr-${process.pid}.log`);
    try {
      // The shell holds the same file open (one offset shared by everyone writing to it).
      const r = sh(`{ ${quote(process.execPath)} ${quote(CLI)} info; echo "exit=$?"; } > ${quote(log)} 2>&1`);
      expect(r.status).toBe(0);
      const text = fs.readFileSync(log, 'utf8');
      expect(text).not.toMatch(/artificially reduced|Warning:/);
      expect(text).toMatch(/^adapter: /);
      expect(text).toMatch(/\nlimits in use:\n/);
      expect(text.endsWith('\nexit=0\n')).toBe(true);
    } finally {
      fs.rmSync(log, { force: true });
    }
  });

  it('`lplr info 2> file` (stdout elsewhere): the file stays empty; errors still reach it, with the exit code', () => {
    const err = path.join(os.tmpdir(), `lplr-stderr-${process.pid}.err`);
    try {
      const r = sh(`${quote(process.execPath)} ${quote(CLI)} info 2> ${quote(err)}`);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^adapter: /);
      expect(fs.readFileSync(err, 'utf8')).toBe('');
      const bad = sh(`${quote(process.execPath)} ${quote(CLI)} info --backend vulcan 2> ${quote(err)}`);
      expect(bad.status).toBe(2);
      expect(fs.readFileSync(err, 'utf8')).toMatch(/^lplr: Unknown backend 'vulcan'\. Did you mean 'vulkan'\?/);
    } finally {
      fs.rmSync(err, { force: true });
    }
  });

  it('a run into a file: progress (stderr) and summary (stdout) in the order written; SIGTERM to lplr still checkpoints and stops with 130', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-stderr-run-'));
    try {
      const log = path.join(dir, 'log');
      const done = sh(`${quote(process.execPath)} ${quote(CLI)} run fig1 --preset tiny --out ${quote(path.join(dir, 'a'))} > ${quote(log)} 2>&1`);
      expect(done.status).toBe(0);
      const lines = fs.readFileSync(log, 'utf8').trimEnd().split('\n');
      expect(lines[0]).toMatch(/^lplr: using /);
      expect(lines.join('\n')).not.toMatch(/artificially reduced/);
      const finished = lines.findIndex((l) => /^finished in /.test(l));
      expect(finished).toBeGreaterThan(0);
      expect(lines[finished + 1]).toMatch(/^final loss /);
      expect(lines[lines.length - 1]).toMatch(/^wrote /);

      // A long run, stopped by a SIGTERM sent to the lplr process the shell started.
      const out = path.join(dir, 'b');
      const log2 = path.join(dir, 'log2');
      const child = spawn('sh', ['-c', `exec ${quote(process.execPath)} ${quote(CLI)} run fig1 --preset tiny --epochs 100000 --out ${quote(out)} > ${quote(log2)} 2>&1`], { cwd: REPO_ROOT, env: { ...process.env, LPLR_RAW_STDERR: '' } });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      for (let i = 0; i < 600 && !/epochs after the first/.test(fs.existsSync(log2) ? fs.readFileSync(log2, 'utf8') : ''); i++) await new Promise((r) => setTimeout(r, 100));
      child.kill('SIGTERM');
      expect(await exited).toBe(130);
      const text = fs.readFileSync(log2, 'utf8');
      expect(text).toContain('lplr: SIGTERM received: checkpointing after this epoch');
      expect(text).toMatch(/lplr: Stopped after epoch \d+; the checkpoint is /);
      expect(fs.existsSync(path.join(out, 'checkpoints', 'checkpoint.json'))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it.skipIf(!hasScript)('`lplr info` on a terminal (pty) shows the adapter and no Dawn warning', () => {
    const r = sh(`script -qec ${quote(`${quote(process.execPath)} ${quote(CLI)} info`)} /dev/null`);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/adapter:/);
    expect(r.stdout).not.toMatch(/artificially reduced|Warning:/);
  });
});
