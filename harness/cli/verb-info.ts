// `lplr info [--json]`: which adapter lplr picks, its limits and features.
import { init } from '../../src/entry-node.js';
import { helpText, parseArgs, type OptionSpec } from '../options/args.js';
import type { Verb } from './verb.js';

const OPTIONS: OptionSpec[] = [
  { name: 'json', type: 'bool', help: 'machine-readable output', default: false },
  { name: 'backend', type: 'string', help: 'Dawn backend to use instead of the automatic choice', placeholder: 'NAME' },
  { name: 'adapter', type: 'string', help: 'prefer an adapter whose name contains this', placeholder: 'NAME' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const infoVerb: Verb = {
  name: 'info',
  summary: 'show the WebGPU adapter lplr uses, its limits and features',
  async run(argv) {
    const { values } = parseArgs(argv, OPTIONS);
    if (values.help) {
      process.stdout.write(`${helpText('lplr info [--json]', 'Print the adapter, limits in use and features.', OPTIONS)}\n`);
      return 0;
    }
    const rt = await init({ quiet: true, backend: values.backend as string | undefined, adapter: values.adapter as string | undefined });
    try {
      const { info, limits, features } = rt.ctx;
      const report = { adapter: info, limits, features, timestampQuery: rt.ctx.hasTimestamps, shaderF16: rt.ctx.hasF16 };
      if (values.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const lines = [
          `adapter:       ${info.description || info.device || '(no description)'}`,
          `vendor:        ${info.vendor || '-'}   architecture: ${info.architecture || '-'}   device: ${info.device || '-'}`,
          `backend:       ${info.backend} (${info.featureLevel} feature level)${info.isSoftware ? ', software (CPU) adapter' : ''}${info.isFallbackAdapter ? ', fallback adapter' : ''}`,
          `features:      ${features.join(', ') || '(none)'}`,
          'limits in use:',
          ...Object.entries(limits).map(([k, v]) => `  ${k.padEnd(36)} ${v}`),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      return 0;
    } finally {
      rt.destroy();
    }
  },
};
