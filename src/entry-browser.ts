// `import ... from 'lplr'` in a browser bundle: the neutral API plus init() on navigator.gpu.
import { browserAdapterSource, type BrowserAdapterOptions } from './gpu/browser.js';
import { initWithSource } from './index.js';
import type { Runtime } from './gpu/runtime.js';

export * from './index.js';

export async function init(options: BrowserAdapterOptions = {}): Promise<Runtime> {
  return initWithSource(browserAdapterSource(options));
}
