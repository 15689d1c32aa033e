// What some tests need from outside the repository: Chromium (browser tests, `report --png`), the
// SwiftShader adapter (Chromium's Vulkan ICD through libvulkan1) and the shared data sets in
// ../shared beside the repository. On a developer's machine a test without them is skipped,
// saying what to install. Under CI=true, where .ci/run installs all of them and the clone has
// ../shared beside it, a missing one fails the run instead: a skip there would hide that a
// check never ran.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromiumPath } from '../../harness/web/chromium.js';
import { REPO_ROOT } from '../fixtures/lib-bundle.js';

/** True on CI (the convention: CI=true; also CI=1). */
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * True when `what` is missing, so the caller skips. Under CI=true a missing requirement throws
 * instead, which fails the test (or, at collection time, the file) with this message.
 */
export function missing(what: string, present: boolean, install: string, ci = IN_CI): boolean {
  if (present) return false;
  if (ci) throw new Error(`${what} is missing, and under CI=true every test must run: ${install}.`);
  console.warn(`skipped: ${what} is missing; ${install}.`);
  return true;
}

/** Chromium at /usr/bin/chromium or CHROMIUM_PATH. */
export function noChromium(): boolean {
  return missing('Chromium', chromiumPath() !== undefined, "install it with 'apt-get install -y chromium', or set CHROMIUM_PATH");
}

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

function hasVulkanLoader(): boolean {
  const ldconfig = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  if (ldconfig.status === 0) return /libvulkan\.so\.1\b/.test(ldconfig.stdout);
  return ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
}

/** The SwiftShader adapter (LPLR_BACKEND=swiftshader): Chromium's Vulkan ICD and the Vulkan loader. */
export function noSwiftShader(): boolean {
  return (
    missing(`SwiftShader (${SWIFTSHADER_ICD})`, fs.existsSync(SWIFTSHADER_ICD), "Chromium provides it: 'apt-get install -y chromium'") ||
    missing('the Vulkan loader libvulkan.so.1 (for SwiftShader)', hasVulkanLoader(), "install it with 'apt-get install -y libvulkan1'")
  );
}

/** The shared data folder: ../shared/data beside the repository (LPLR_SHARED_DATA overrides it). */
export const SHARED_DATA = process.env.LPLR_SHARED_DATA ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');

/** A folder of the shared data (e.g. 'mnist'), when it holds every one of `files`; else undefined (and under CI=true, an error). */
export function sharedData(folder: string, files: readonly string[]): string | undefined {
  const dir = path.join(SHARED_DATA, folder);
  const absent = files.filter((f) => !fs.existsSync(path.join(dir, f)));
  const what = `shared data ${absent.map((f) => path.join(dir, f)).join(', ')}`;
  return missing(what, absent.length === 0, 'clone the repository beside the shared folder, so that ../shared/data exists, or set LPLR_SHARED_DATA') ? undefined : dir;
}
