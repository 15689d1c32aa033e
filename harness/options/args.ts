// Declarative command-line options: parsing, validation and help text. Every bad input
// is a ConfigError naming the flag and the fix; unknown flags suggest the closest name.
// Shared by the CLI verbs, the experiments' configs, sweeps and the page's form, so it sits in
// a folder of its own that all of them import and that imports nothing of the lab.
import { closest, ConfigError } from '../../src/errors.js';

export type OptionType = 'int' | 'number' | 'string' | 'bool' | 'int-list' | 'number-list' | 'string-list' | 'range';

export interface OptionSpec {
  name: string;
  type: OptionType;
  help: string;
  default?: unknown;
  choices?: readonly string[];
  min?: number;
  max?: number;
  /** Shown in help instead of the type. */
  placeholder?: string;
  /** May be given several times (values collected in a list of strings). */
  repeatable?: boolean;
}

export interface ParsedArgs {
  values: Record<string, unknown>;
  /** Names the user actually gave (for presets: explicit flags win). */
  given: Set<string>;
  positionals: string[];
}

function parseNumber(spec: OptionSpec, raw: string, integer: boolean): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new ConfigError(`--${spec.name} expects ${integer ? 'an integer' : 'a number'}, got '${raw}'.`);
  }
  if (spec.min !== undefined && v < spec.min) throw new ConfigError(`--${spec.name} must be >= ${spec.min}, got ${v}.`);
  if (spec.max !== undefined && v > spec.max) throw new ConfigError(`--${spec.name} must be <= ${spec.max}, got ${v}.`);
  return v;
}

export function convertValue(spec: OptionSpec, raw: string): unknown {
  switch (spec.type) {
    case 'int':
      return parseNumber(spec, raw, true);
    case 'number':
      return parseNumber(spec, raw, false);
    case 'bool': {
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      throw new ConfigError(`--${spec.name} is a switch; use --${spec.name} or --no-${spec.name}.`);
    }
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) {
        const hint = closest(raw, spec.choices);
        throw new ConfigError(`--${spec.name} must be one of ${spec.choices.join(', ')}, got '${raw}'.${hint ? ` Did you mean '${hint}'?` : ''}`);
      }
      return raw;
    case 'int-list':
    case 'number-list':
      return raw.split(',').map((part) => parseNumber(spec, part, spec.type === 'int-list'));
    case 'string-list':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    case 'range': {
      // "a:b", inclusive epochs
      const m = /^(\d+):(\d+)$/.exec(raw);
      if (!m || Number(m[1]) > Number(m[2])) throw new ConfigError(`--${spec.name} expects FROM:TO with FROM <= TO (e.g. 5:225), got '${raw}'.`);
      return [Number(m[1]), Number(m[2])];
    }
  }
}

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  for (const s of specs) if (s.default !== undefined) values[s.name] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      positionals.push(arg);
      continue;
    }
    let name = arg.slice(2);
    let inline: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let spec = byName.get(name);
    if (!spec && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'bool') {
      spec = byName.get(name.slice(3))!;
      values[spec.name] = false;
      given.add(spec.name);
      continue;
    }
    if (!spec) {
      const hint = closest(name, specs.map((s) => s.name));
      throw new ConfigError(`Unknown option --${name}.${hint ? ` Did you mean --${hint}?` : ''} See --help for the list.`);
    }
    let raw: string;
    if (spec.type === 'bool' && inline === undefined) {
      raw = 'true';
    } else if (inline !== undefined) {
      raw = inline;
    } else {
      if (i + 1 >= argv.length || (argv[i + 1].startsWith('--') && argv[i + 1].length > 2)) {
        throw new ConfigError(`--${spec.name} needs a value (${spec.placeholder ?? spec.type}).`);
      }
      raw = argv[++i];
    }
    const value = convertValue(spec, raw);
    if (spec.repeatable) {
      const list = (given.has(spec.name) ? (values[spec.name] as unknown[]) : []) ?? [];
      values[spec.name] = [...list, value];
    } else {
      values[spec.name] = value;
    }
    given.add(spec.name);
  }
  return { values, given, positionals };
}

export function helpText(usage: string, description: string, specs: readonly OptionSpec[]): string {
  const lines = [`Usage: ${usage}`, '', description, '', 'Options:'];
  const width = Math.max(...specs.map((s) => s.name.length + (s.placeholder ?? s.type).length)) + 6;
  for (const s of specs) {
    const left = `  --${s.name}${s.type === 'bool' ? '' : ` ${s.placeholder ?? s.type.toUpperCase()}`}`;
    const def = s.default === undefined ? '' : ` (default: ${Array.isArray(s.default) ? s.default.join(',') : String(s.default)})`;
    const choices = s.choices ? ` [${s.choices.join('|')}]` : '';
    lines.push(`${left.padEnd(width)} ${s.help}${choices}${def}`);
  }
  return lines.join('\n');
}
