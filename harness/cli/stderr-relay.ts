// Dawn writes two harmless warnings straight to file descriptor 2 while it picks an adapter.
// src/gpu/node.ts swaps fd 2 out around that call on a terminal or a pipe; with stderr in a
// regular file (`lplr run fig1 > log 2>&1`, `2> err`, Slurm's --output) it cannot: putting the
// file back needs dup2, which Node lacks, and reopening it makes a second file description with
// its own offset, so whatever the shell, npx or this process's stdout write later would land on
// top of our lines. So in that case the command runs in a child process whose output comes back
// here (stdout and stderr through one socket when both go to that file, keeping their order), and
// is written to the file without those two lines.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BenignDawnWarningFilter } from '../../src/gpu/node.js';

const RELAYED = 'LPLR_STDERR_RELAYED';

function isRegularFile(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

/** Whether this process should run the command in a relayed child (stderr is a regular file). */
export function shouldRelayStderr(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform === 'win32' || env[RELAYED] === '1' || env.LPLR_RAW_STDERR === '1') return false;
  return isRegularFile(2);
}

/** Whether fds 1 and 2 are the same file (`> log 2>&1`), so their output must stay in one ordered stream. */
function sameFile(a: number, b: number): boolean {
  try {
    const x = fs.fstatSync(a);
    const y = fs.fstatSync(b);
    return x.isFile() && x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** Two connected Unix sockets: one for the child's stdout and stderr, one to read them from. */
async function socketPair(): Promise<{ child: net.Socket; ours: net.Socket }> {
  const file = path.join(os.tmpdir(), `lplr-relay-${process.pid}-${Math.random().toString(36).slice(2, 10)}.sock`);
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, resolve);
  });
  try {
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const child = net.connect(file);
    await new Promise<void>((resolve, reject) => {
      child.once('connect', resolve);
      child.once('error', reject);
    });
    return { child, ours: await accepted };
  } finally {
    server.close();
    fs.rmSync(file, { force: true });
  }
}

/** Write all of `text` to `fd` (synchronously: the order with anything else written there is kept). */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at);
}

/**
 * Run this same command line in a child whose stderr (and stdout, when it goes to the same file)
 * comes back through this process, minus the benign Dawn lines. Signals are passed on, and the
 * child's exit status (or signal) becomes this process's.
 */
export async function relayStderr(): Promise<number> {
  const merged = sameFile(1, 2);
  const pair = merged ? await socketPair() : undefined;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: pair ? ['inherit', pair.child, pair.child] : ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, [RELAYED]: '1' },
  });
  // The child holds its own copies of the socket.
  pair?.child.destroy();
  const source = pair ? pair.ours : child.stderr!;
  const filter = new BenignDawnWarningFilter();
  const drained = new Promise<void>((resolve) => {
    source.on('data', (chunk: Buffer) => writeAll(2, filter.push(chunk.toString('utf8'))));
    source.on('close', resolve);
    source.on('error', () => resolve());
  });
  // Ctrl-C reaches both processes; a signal sent to this one only (npm forwards SIGTERM to its
  // child, `kill PID`) has to be passed on. The child's checkpointing ignores the duplicate.
  const forward = (sig: NodeJS.Signals) => () => {
    try {
      child.kill(sig);
    } catch {
      // Already gone.
    }
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as NodeJS.Signals[]).map((sig) => [sig, forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e) => {
      writeAll(2, `lplr: could not start the command again to filter its output (${e.message}); set LPLR_RAW_STDERR=1 to run it unfiltered.\n`);
      resolve({ code: 1, signal: null });
    });
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  // What the child wrote last is still in the socket; a grandchild that kept a copy of it open
  // must not hold this process forever.
  await Promise.race([drained, new Promise((r) => setTimeout(r, 2000).unref())]);
  writeAll(2, filter.end());
  for (const [sig, h] of handlers) process.off(sig, h);
  if (exit.signal) {
    // Die of the same signal, so the shell sees what happened to the command.
    process.kill(process.pid, exit.signal);
    return 128 + (os.constants.signals[exit.signal] ?? 0);
  }
  return exit.code ?? 1;
}
