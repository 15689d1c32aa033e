// lplr's command line. Each verb lives in its own module; this file maps verbs to them,
// turns LplrErrors into one line and exit code 2, and makes sure the process exits
// (Dawn keeps Node alive while a GPU object is referenced).
import { LplrError, closest } from '../../src/errors.js';
import type { Verb } from './verb.js';
import { relayStderr, shouldRelayStderr } from './stderr-relay.js';
import { infoVerb } from './verb-info.js';
import { runVerb } from './verb-run.js';
import { reportVerb } from './verb-report.js';
import { dataVerb } from './verb-data.js';
import { resumeVerb } from './verb-resume.js';
import { benchVerb } from './verb-bench.js';
import { profileVerb } from './verb-profile.js';
import { sweepVerb } from './verb-sweep.js';
import { mergeVerb } from './verb-merge.js';
import { tuneVerb } from './verb-tune.js';
import { serveVerb } from './verb-serve.js';
import { verifyBrowserVerb } from './verb-verify-browser.js';

const VERBS: Verb[] = [infoVerb, runVerb, resumeVerb, sweepVerb, mergeVerb, reportVerb, dataVerb, benchVerb, profileVerb, serveVerb, verifyBrowserVerb, tuneVerb];

function usage(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length)) + 2;
  return [
    'Usage: lplr <command> [options]   (lplr <command> --help for its options)',
    '',
    'Commands:',
    ...VERBS.map((v) => `  ${v.name.padEnd(width)} ${v.summary}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (name === '--version') {
    const { packageVersion } = await import('../run/run-dir.js');
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  // Dawn's adapter warnings cannot be kept out of a regular file from inside this process.
  if (shouldRelayStderr()) return relayStderr();
  const verb = VERBS.find((v) => v.name === name);
  if (!verb) {
    const hint = closest(name, VERBS.map((v) => v.name));
    throw new LplrError(`Unknown command '${name}'.${hint ? ` Did you mean '${hint}'?` : ''} Run 'lplr --help' for the list.`);
  }
  return verb.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof LplrError) {
      process.stderr.write(`lplr: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`lplr: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
