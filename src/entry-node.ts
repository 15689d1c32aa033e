// `import ... from 'lplr'` in Node: the neutral API plus init() on Dawn.
import { nodeAdapterSource, type NodeAdapterOptions } from './gpu/node.js';
import { initWithSource } from './index.js';
import type { Runtime } from './gpu/runtime.js';

export * from './index.js';
export { KNOWN_BACKENDS, probeBackend } from './gpu/node.js';

export interface InitOptions extends NodeAdapterOptions {
  /** Do not print which adapter was chosen. */
  quiet?: boolean;
}

/** Pick an adapter (real GPU first, Mesa llvmpipe otherwise), create the device and runtime. */
export async function init(options: InitOptions = {}): Promise<Runtime> {
  const rt = await initWithSource(nodeAdapterSource(options));
  if (!options.quiet) {
    const i = rt.ctx.info;
    process.stderr.write(`lplr: using ${i.description || i.device || i.vendor} (${i.backend}, ${i.featureLevel}${i.isSoftware ? ', software' : ''})\n`);
  }
  return rt;
}
