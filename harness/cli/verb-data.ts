// `lplr data fetch mnist|cifar10`: download the official files into the cache, verified.
import { closest, ConfigError } from '../../src/errors.js';
import { fetchDataset } from '../data/fetch.js';
import { helpText, parseArgs, type OptionSpec } from '../options/args.js';
import type { Verb } from './verb.js';

const OPTIONS: OptionSpec[] = [
  { name: 'cache-dir', type: 'string', help: 'where to store the data (default $LPLR_CACHE_DIR or ~/.cache/lplr/data)', placeholder: 'DIR' },
  { name: 'base-url', type: 'string', help: 'mirror to download from instead of the official location', placeholder: 'URL' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

const DATASETS = ['mnist', 'cifar10'] as const;

export const dataVerb: Verb = {
  name: 'data',
  summary: 'data fetch mnist|cifar10: download the official data sets, verified by checksum',
  async run(argv) {
    const [action, name, ...rest] = argv;
    const args = parseArgs(rest, OPTIONS);
    if (args.values.help || action === '--help' || !action) {
      process.stdout.write(`${helpText('lplr data fetch mnist|cifar10 [options]', 'Download a data set into the cache (resumable, checksum-verified).', OPTIONS)}\n`);
      return action ? 0 : 2;
    }
    if (action !== 'fetch') {
      const hint = closest(action, ['fetch']);
      throw new ConfigError(`Unknown data action '${action}'.${hint ? ` Did you mean '${hint}'?` : ''} Use 'lplr data fetch mnist' or 'lplr data fetch cifar10'.`);
    }
    if (!(DATASETS as readonly string[]).includes(name)) {
      const hint = name ? closest(name, DATASETS) : undefined;
      throw new ConfigError(`Unknown data set '${name ?? ''}'.${hint ? ` Did you mean '${hint}'?` : ''} Use one of: ${DATASETS.join(', ')} ('lplr data fetch ${hint ?? DATASETS[0]}').`);
    }
    const result = await fetchDataset(name as (typeof DATASETS)[number], {
      cacheDir: args.values['cache-dir'] as string | undefined,
      baseUrl: args.values['base-url'] as string | undefined,
      log: (m: string) => process.stderr.write(`${m}\n`),
    });
    process.stdout.write(`${typeof result === 'string' ? result : JSON.stringify(result)}\n`);
    return 0;
  },
};
