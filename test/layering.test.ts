// The engine's layering (.dependency-cruiser.cjs), enforced: the repository has no violation
// of an error rule, and each rule does catch the import it forbids in a small fixture tree.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

const CLI = path.join(REPO_ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const CONFIG = path.join(REPO_ROOT, '.dependency-cruiser.cjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
}

function cruise(cwd: string, dirs: string[]): { violations: Violation[]; modules: number } {
  const r = spawnSync(process.execPath, [CLI, '--config', CONFIG, '--output-type', 'json', ...dirs], { cwd, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw r.error;
  const out = JSON.parse(r.stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  return { violations: out.summary.violations, modules: out.summary.totalCruised };
}

describe('layering', () => {
  it('src/, harness/ and bench/ break no error rule of .dependency-cruiser.cjs', () => {
    const { violations, modules } = cruise(REPO_ROOT, ['src', 'harness', 'bench']);
    expect(modules).toBeGreaterThan(100);
    const errors = violations.filter((v) => v.rule.severity === 'error').map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
    expect(errors).toEqual([]);
  });

  it('each rule catches the import it forbids', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lplr-layers-'));
    const files: Record<string, string> = {
      'tsconfig.json': '{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext" } }',
      'src/errors.ts': 'export const e = 1;\n',
      'src/tensor.ts': "import { e } from './errors.js';\nexport const t = e;\n",
      'src/gpu/runtime.ts': "import { t } from '../tensor.js';\nexport const r = t;\n",
      'src/kernels/k.ts': "import { o } from '../ops/o.js';\nexport const k = o;\n",
      'src/ops/o.ts': "import { n } from '../nn/n.js';\nexport const o = n;\n",
      'src/nn/n.ts': "import { h } from '../../harness/h.js';\nexport const n = h;\n",
      'src/ops/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'src/ops/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
      'harness/h.ts': "import { i } from './i.js';\nexport const h = () => i;\n",
      'harness/i.ts': "import { h } from './h.js';\nexport const i = () => h;\n",
      'harness/analysis/v.ts': "import * as fs from 'node:fs';\nimport { w } from '../web/w.js';\nexport const v = () => [fs, w];\n",
      'harness/analysis/ok.ts': "import { v } from './v.js';\nimport { t } from '../../src/tensor.js';\nexport const ok = () => [v, t];\n",
      'harness/web/w.ts': 'export const w = 1;\n',
      'harness/options/args.ts': "import { w } from '../web/w.js';\nexport const args = w;\n",
    };
    try {
      for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
      }
      const { violations } = cruise(dir, ['src', 'harness']);
      const found = (rule: string) => violations.filter((v) => v.rule.name === rule).map((v) => `${v.from} → ${v.to}`);
      expect(found('gpu-is-the-bottom')).toEqual(['src/gpu/runtime.ts → src/tensor.ts']);
      expect(found('kernels-below-ops')).toEqual(['src/kernels/k.ts → src/ops/o.ts']);
      expect(found('ops-below-models')).toEqual(['src/ops/o.ts → src/nn/n.ts']);
      expect(found('engine-not-lab')).toEqual(['src/nn/n.ts → harness/h.ts']);
      expect(found('no-cycles-in-src').length).toBeGreaterThan(0);
      expect(found('no-cycles-in-lab').length).toBeGreaterThan(0);
      // The paper's analysis runs in the page: no Node built-ins, nothing of the lab's other folders.
      expect(found('options-stand-alone')).toEqual(['harness/options/args.ts → harness/web/w.ts']);
      expect(found('analysis-is-neutral').sort()).toEqual(['harness/analysis/v.ts → fs', 'harness/analysis/v.ts → harness/web/w.ts']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
