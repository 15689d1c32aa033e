// One registry of figures (harness/experiments/figures.ts) serves the CLI, the page and seed sets:
// each figure appears in all of them with one title, one description and the same member runs.
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../harness/options/args.js';
import { FIGURES, figureOptions, setFigure } from '../harness/experiments/figures.js';
import { MLP_OPTIONS, resolveMlpConfig } from '../harness/experiments/mlp-config.js';
import { EXPERIMENTS, seedSetRuns } from '../harness/experiments/registry.js';
import { WEB_EXPERIMENTS } from '../harness/web/experiments.js';

describe('the figure registry', () => {
  it('lists every figure once, in the CLI and on the page, with the same words', () => {
    for (const f of FIGURES) {
      const cli = EXPERIMENTS.filter((e) => e.name === f.name);
      const web = WEB_EXPERIMENTS.filter((e) => e.name === f.name);
      expect(cli, f.name).toHaveLength(1);
      expect(web, f.name).toHaveLength(1);
      expect(cli[0].description).toContain(f.description);
      expect(web[0].title).toBe(f.title);
      expect(web[0].description).toBe(f.description);
    }
    // Nothing on the page that is not a figure of the registry.
    expect(WEB_EXPERIMENTS.map((e) => e.name)).toEqual(FIGURES.map((f) => f.name));
  });

  it('offers the page every CLI option of a figure except the local-file ones', () => {
    for (const f of FIGURES) {
      if (f.kind === 'cifar') continue;
      const cli = new Set(EXPERIMENTS.find((e) => e.name === f.name)!.options.map((o) => o.name));
      const page = figureOptions(f, 'page').map((o) => o.name);
      for (const name of page) expect(cli.has(name), `${f.name} --${name}`).toBe(true);
      for (const name of f.cliOnly) expect(page).not.toContain(name);
    }
    expect(figureOptions(setFigure('fig5'), 'page').map((o) => o.name)).toEqual([...MLP_OPTIONS.map((o) => o.name), 'widths']);
  });

  it('gives the page, the CLI and seed sets the same member runs of a set figure', () => {
    for (const name of ['fig4', 'fig5']) {
      const spec = setFigure(name);
      const argv = ['--preset', 'tiny', ...(name === 'fig5' ? ['--widths', '16,32,48'] : [])];
      const args = parseArgs(argv, figureOptions(spec, 'cli'));
      const base = resolveMlpConfig(args);
      const web = WEB_EXPERIMENTS.find((e) => e.name === name)!;
      const planned = web.plan(parseArgs(argv, figureOptions(spec, 'page')) as never);
      const members = spec.members(base, spec.params(args));
      expect(planned.map((r) => r.label)).toEqual(members.map((m) => m.label));
      const seeded = seedSetRuns({ kind: name as 'fig4' | 'fig5', base, seeds: [3], widths: spec.params(args).widths });
      expect(seeded.map((r) => r.group)).toEqual(members.map((m) => m.label));
      seeded.forEach((r, i) => {
        // The same configuration as the page's run, but for the seed the set assigns.
        expect({ ...r.spec.config, seed: 0 }).toEqual({ ...planned[i].config, seed: 0 });
      });
    }
    expect(setFigure('fig5').members(resolveMlpConfig(parseArgs(['--preset', 'tiny'], figureOptions(setFigure('fig5'), 'cli'))), { widths: [16, 32] }).map((m) => m.patch)).toEqual([{ width: 16 }, { width: 32 }]);
  });

  it('refuses a figure it does not know, naming those it has', () => {
    expect(() => setFigure('fig1')).toThrow(/not a set of runs/);
    expect(() => setFigure('fig9')).toThrow(/Unknown figure 'fig9'. Figures: fig1, fig2, fig3, fig4, fig5/);
  });
});
