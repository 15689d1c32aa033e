// The Docker image builds from what the Dockerfile copies (docker is not needed): the test reads
// the Dockerfile's COPY lines and .dockerignore, lays out each stage's files in a temporary
// directory the way `docker build` would, runs the stage's `node ...` build steps there with the
// repository's node_modules standing in for `npm ci`, and starts the final stage's ENTRYPOINT.
// A folder the bundle imports but the image lacks (bench/ once) makes esbuild fail here.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

interface CopyStep {
  kind: 'copy';
  from?: string;
  sources: string[];
  dest: string;
}
interface RunStep {
  kind: 'run';
  command: string;
}
interface WorkdirStep {
  kind: 'workdir';
  dir: string;
}
type Step = CopyStep | RunStep | WorkdirStep;
interface Stage {
  name?: string;
  steps: Step[];
  entrypoint?: string[];
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function instructions(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    out.push(current + line);
    current = '';
  }
  if (current) out.push(current);
  return out;
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions(text)) {
    const [word, ...restWords] = ins.split(/\s+/);
    const rest = ins.slice(word.length).trim();
    const op = word.toUpperCase();
    if (op === 'FROM') {
      const as = /\bAS\s+(\S+)/i.exec(rest);
      stages.push({ name: as?.[1], steps: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) continue; // ARG before FROM
    if (op === 'WORKDIR') stage.steps.push({ kind: 'workdir', dir: rest });
    else if (op === 'RUN') stage.steps.push({ kind: 'run', command: rest });
    else if (op === 'ENTRYPOINT') stage.entrypoint = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : ['/bin/sh', '-c', rest];
    else if (op === 'COPY' || op === 'ADD') {
      const flags = restWords.filter((w) => w.startsWith('--'));
      const words = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : restWords.filter((w) => !w.startsWith('--'));
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      stage.steps.push({ kind: 'copy', from, sources: words.slice(0, -1), dest: words[words.length - 1] });
    }
  }
  return stages;
}

/** A .dockerignore pattern as a regular expression over '/'-separated context paths. */
function ignoreRegex(pattern: string): RegExp {
  const p = path.posix.normalize(pattern.replace(/^\/+/, ''));
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*' && p[i + 1] === '*') {
      // '**' spans any number of directories (also none: '**/x' matches 'x').
      if (p[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function ignoreRules(text: string): { re: RegExp; exclude: boolean }[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => (l.startsWith('!') ? { re: ignoreRegex(l.slice(1).trim()), exclude: false } : { re: ignoreRegex(l), exclude: true }));
}

/** Docker's rule: the last pattern that matches the path or one of its parent folders decides. */
function isIgnored(rel: string, rules: { re: RegExp; exclude: boolean }[]): boolean {
  const parts = rel.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) if (prefixes.some((p) => rule.re.test(p))) ignored = rule.exclude;
  return ignored;
}

/** Every file of the build context (relative, '/'-separated) that .dockerignore lets through. */
function contextFiles(rules: { re: RegExp; exclude: boolean }[]): string[] {
  const hasExceptions = rules.some((r) => !r.exclude);
  const files: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        // An ignored folder can only contribute files through a '!' exception.
        if (!hasExceptions && isIgnored(child, rules)) continue;
        walk(child);
      } else if (!isIgnored(child, rules)) files.push(child);
    }
  };
  walk('');
  return files;
}

function copyInto(srcFile: string, destFile: string): void {
  fs.mkdirSync(path.dirname(destFile), { recursive: true });
  fs.copyFileSync(srcFile, destFile);
}

/** Where a container path lies in a stage's directory (each stage's '/' is its own temp folder). */
function hostPath(stageRoot: string, containerPath: string): string {
  return path.join(stageRoot, containerPath);
}

interface BuiltStage {
  root: string;
  workdir: string;
}

function buildStages(stages: Stage[], files: string[], tmp: string): BuiltStage[] {
  const built: BuiltStage[] = [];
  stages.forEach((stage, si) => {
    const stageRoot = path.join(tmp, `stage${si}`);
    fs.mkdirSync(stageRoot, { recursive: true });
    let workdir = '/';
    for (const step of stage.steps) {
      if (step.kind === 'workdir') {
        workdir = path.posix.resolve(workdir, step.dir);
        fs.mkdirSync(hostPath(stageRoot, workdir), { recursive: true });
      } else if (step.kind === 'copy') {
        const destContainer = path.posix.resolve(workdir, step.dest);
        const intoFolder = step.dest.endsWith('/') || step.sources.length > 1;
        for (const src of step.sources) {
          expect(src, 'wildcards in COPY are not emulated').not.toMatch(/[*?[]/);
          let matched: { from: string; rel: string }[];
          if (step.from !== undefined) {
            const fromIndex = stages.findIndex((s, i) => s.name === step.from || String(i) === step.from);
            expect(fromIndex, `COPY --from=${step.from} names an earlier stage`).toBeGreaterThanOrEqual(0);
            const base = hostPath(built[fromIndex].root, src);
            expect(fs.existsSync(base), `COPY --from=${step.from} ${src}: not in that stage`).toBe(true);
            matched = fs.statSync(base).isDirectory()
              ? (fs.readdirSync(base, { recursive: true, withFileTypes: true }) as fs.Dirent[])
                  .filter((e) => !e.isDirectory())
                  .map((e) => ({ from: path.join(e.parentPath, e.name), rel: path.relative(base, path.join(e.parentPath, e.name)) }))
              : [{ from: base, rel: '' }];
          } else {
            const clean = path.posix.normalize(src).replace(/^\.\/|\/$/g, '');
            matched = files
              .filter((f) => clean === '.' || f === clean || f.startsWith(`${clean}/`))
              .map((f) => ({ from: path.join(root, f), rel: f === clean ? '' : f.slice(clean === '.' ? 0 : clean.length + 1) }));
            // docker build fails the same way: the source is absent from the (filtered) context.
            expect(matched.length, `COPY ${src}: not in the build context (missing, or excluded by .dockerignore)`).toBeGreaterThan(0);
          }
          for (const m of matched) {
            const target = m.rel === '' ? (intoFolder ? path.posix.join(destContainer, path.posix.basename(src)) : destContainer) : path.posix.join(destContainer, m.rel);
            copyInto(m.from, hostPath(stageRoot, target));
          }
        }
      } else {
        const cwd = hostPath(stageRoot, workdir);
        if (/\bnpm (ci|install)\b/.test(step.command)) {
          // The installed packages stand in for npm ci (no network here).
          const link = path.join(cwd, 'node_modules');
          if (!fs.existsSync(link)) fs.symlinkSync(path.join(root, 'node_modules'), link, 'dir');
        } else if (/^node\s/.test(step.command)) {
          const r = spawnSync('/bin/sh', ['-c', step.command], { cwd, encoding: 'utf8', timeout: 120_000 });
          expect(r.status, `RUN ${step.command} failed in stage ${stage.name ?? si}:\n${r.stderr}${r.stdout}`).toBe(0);
        }
        // Other RUN steps (apt-get) install system packages and add no project files.
      }
    }
    built.push({ root: stageRoot, workdir });
  });
  return built;
}

describe('Docker image', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-docker-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the .dockerignore matcher follows Docker: parents, ** and ! exceptions', () => {
    const rules = ignoreRules('bench\n**/*.tmp\ndocs\n!docs/keep.md\n/runs');
    expect(isIgnored('bench/conv.ts', rules)).toBe(true);
    expect(isIgnored('benchmarks/x.ts', rules)).toBe(false);
    expect(isIgnored('src/a/b.tmp', rules)).toBe(true);
    expect(isIgnored('x.tmp', rules)).toBe(true);
    expect(isIgnored('docs/sweeps.md', rules)).toBe(true);
    expect(isIgnored('docs/keep.md', rules)).toBe(false);
    expect(isIgnored('runs/a/config.json', rules)).toBe(true);
    expect(isIgnored('src/runs.ts', rules)).toBe(false);
  });

  it('builds from only the files its COPY lines take, and the final image starts', () => {
    const stages = parseDockerfile(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const files = contextFiles(ignoreRules(fs.readFileSync(path.join(root, '.dockerignore'), 'utf8')));
    const built = buildStages(stages, files, tmp);

    const final = built[built.length - 1];
    const app = hostPath(final.root, final.workdir);
    expect(fs.existsSync(path.join(app, 'dist', 'cli.js'))).toBe(true);
    // The final image carries no sources, so bin/lplr.mjs must run the bundle without rebuilding.
    expect(fs.existsSync(path.join(app, 'src'))).toBe(false);

    // The runtime stage installs only `dependencies`: every package the bundle imports at load
    // time must be one of them (dev packages may only be imported lazily, with await import()).
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const bundle = fs.readFileSync(path.join(app, 'dist', 'cli.js'), 'utf8');
    const staticImports = [...bundle.matchAll(/^import\s[^;]*?from\s*["']([^"'.][^"']*)["']|^import\s*["']([^"'.][^"']*)["']/gm)].map((m) => m[1] ?? m[2]);
    const packageName = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    const notRuntime = staticImports.filter((s) => !s.startsWith('node:') && !builtinModules.includes(packageName(s)) && !(packageName(s) in pkg.dependencies));
    expect(notRuntime).toEqual([]);

    // ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/lplr.mjs"]: run its node part.
    const entry = stages[stages.length - 1].entrypoint ?? [];
    const nodeAt = entry.indexOf('node');
    expect(nodeAt).toBeGreaterThanOrEqual(0);
    const script = hostPath(final.root, entry[nodeAt + 1]);
    const r = spawnSync(process.execPath, [script, '--help'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sweep/);
    expect(r.stdout).toMatch(/merge/);
  });
});
