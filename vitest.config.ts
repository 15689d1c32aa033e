import { defineConfig } from 'vitest/config';
import { assembleWgslFile } from './scripts/wgsl-import.mjs';

export default defineConfig({
  plugins: [
    {
      // WGSL files are imported as their assembled text (#import lines resolved), as in build.mjs.
      name: 'wgsl-text',
      load(id) {
        if (id.endsWith('.wgsl')) {
          const { text, files } = assembleWgslFile(id);
          for (const f of files) this.addWatchFile(f);
          return `export default ${JSON.stringify(text)};`;
        }
        return null;
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
