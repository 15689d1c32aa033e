// One GPU runtime per test file, destroyed afterwards so the process can exit.
import { afterAll, beforeAll } from 'vitest';
import { init, type Runtime } from '../../src/entry-node.js';

export function useGpu(): { rt: () => Runtime } {
  let rt: Runtime | undefined;
  beforeAll(async () => {
    rt = await init({ quiet: true });
  });
  afterAll(() => {
    rt?.destroy();
  });
  return {
    rt: () => {
      if (!rt) throw new Error('GPU runtime not initialized');
      return rt;
    },
  };
}
