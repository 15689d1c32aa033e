// test/helpers/requirements.ts: a test that needs Chromium, SwiftShader or ../shared skips without
// it on a developer's machine, and fails under CI=true, where .ci/run provides all of them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { missing, SHARED_DATA } from './helpers/requirements.js';
import { REPO_ROOT } from './fixtures/lib-bundle.js';

describe('missing', () => {
  it('present: not missing, and nothing printed', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(missing('X', true, 'install X', true)).toBe(false);
      expect(missing('X', true, 'install X', false)).toBe(false);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('absent outside CI: missing (the caller skips), with a warning that says what to install', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(missing('Chromium', false, "apt-get install -y chromium", false)).toBe(true);
      expect(warn).toHaveBeenCalledWith('skipped: Chromium is missing; apt-get install -y chromium.');
    } finally {
      warn.mockRestore();
    }
  });

  it('absent under CI=true: an error naming what is missing and how to get it, so the run fails', () => {
    expect(() => missing('Chromium', false, "apt-get install -y chromium", true)).toThrow(
      'Chromium is missing, and under CI=true every test must run: apt-get install -y chromium.',
    );
  });
});

describe('the shared data', () => {
  it('is looked for in ../shared/data beside the repository, wherever the checkout is', () => {
    if (process.env.LPLR_SHARED_DATA) return;
    expect(SHARED_DATA).toBe(path.join(path.dirname(REPO_ROOT), 'shared', 'data'));
  });

  it('.ci/run says CI=true, so a missing requirement fails the CI run instead of skipping', () => {
    const ci = fs.readFileSync(path.join(REPO_ROOT, '.ci', 'run'), 'utf8');
    expect(ci).toMatch(/^export CI=true$/m);
    // ... and installs what the tests need.
    for (const pkg of ['libegl-mesa0', 'libgl1-mesa-dri', 'libvulkan1', 'chromium']) expect(ci).toMatch(new RegExp(`apt-get install .*\\b${pkg}\\b`));
  });
});
