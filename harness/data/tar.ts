// A small ustar reader for unpacking downloaded archives. It validates the whole archive before
// writing anything, and refuses entries that could write outside the destination: paths with
// '..', absolute paths, and links (symbolic or hard), plus device/fifo entries.
// Supports POSIX ustar (with the name prefix), GNU long names ('L') and pax 'path'/'size' records.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { DataError } from '../../src/errors.js';

export interface TarEntry {
  /** Normalised relative path ('/'-separated, no '.' or '..' segments). */
  path: string;
  type: 'file' | 'directory';
  data: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder('utf-8');

function cString(bytes: Uint8Array, start: number, length: number): string {
  const field = bytes.subarray(start, start + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul >= 0 ? field.subarray(0, nul) : field);
}

function octal(bytes: Uint8Array, start: number, length: number, what: string, source: string, at: number): number {
  const text = cString(bytes, start, length).trim();
  if (!/^[0-7]+$/.test(text)) throw new DataError(`${source}: tar header at byte ${at} has an invalid ${what} field ${JSON.stringify(text)}. The archive is corrupt; download it again.`);
  return parseInt(text, 8);
}

/** Check an entry name and return it normalised, or throw naming the entry. */
export function safeEntryPath(name: string, source: string): string {
  const refuse = (why: string): never => {
    throw new DataError(`${source}: refusing tar entry ${JSON.stringify(name)}: ${why}. Nothing was extracted; the archive is not a trustworthy copy.`);
  };
  if (name.length === 0) refuse('empty name');
  if (name.startsWith('/') || isAbsolute(name) || /^[A-Za-z]:/.test(name)) refuse('absolute path');
  if (name.includes('\\')) refuse('backslash in path');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) refuse("path contains '..'");
  if (parts.length === 0) refuse('empty name');
  return parts.join('/');
}

function isZeroBlock(bytes: Uint8Array, at: number): boolean {
  for (let i = at; i < at + BLOCK; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Parse pax extended-header records ("<len> <key>=<value>\n"). */
function parsePax(data: Uint8Array, source: string): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const len = space > pos ? Number(decoder.decode(data.subarray(pos, space))) : NaN;
    if (!Number.isInteger(len) || len <= space - pos || pos + len > data.length) {
      throw new DataError(`${source}: malformed pax extended header. The archive is corrupt; download it again.`);
    }
    const record = decoder.decode(data.subarray(space + 1, pos + len - 1));
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

/** Read and validate every entry of an uncompressed tar archive. */
export function readTar(bytes: Uint8Array, source: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let pos = 0;
  let longName: string | undefined;
  let pax = new Map<string, string>();
  for (;;) {
    if (pos + BLOCK > bytes.length) {
      throw new DataError(`${source}: tar archive is truncated (no end-of-archive block after byte ${pos}). Download it again.`);
    }
    if (isZeroBlock(bytes, pos)) break;
    const at = pos;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : bytes[at + i];
    const stored = octal(bytes, at + 148, 8, 'checksum', source, at);
    if (stored !== sum) throw new DataError(`${source}: tar header at byte ${at} has checksum ${stored} but its bytes sum to ${sum}. The archive is corrupt; download it again.`);

    const typeflag = String.fromCharCode(bytes[at + 156]);
    let size = octal(bytes, at + 124, 12, 'size', source, at);
    const paxSize = pax.get('size');
    if (paxSize !== undefined) {
      if (!/^[0-9]+$/.test(paxSize)) throw new DataError(`${source}: pax size ${JSON.stringify(paxSize)} is not a number. The archive is corrupt.`);
      size = Number(paxSize);
    }
    const dataStart = at + BLOCK;
    if (dataStart + size > bytes.length) {
      throw new DataError(`${source}: tar entry at byte ${at} declares ${size} bytes but the archive ends after ${bytes.length - dataStart}. Download it again.`);
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    const magic = cString(bytes, at + 257, 6);
    const posixPrefix = magic === 'ustar' && bytes[at + 262] === 0 ? cString(bytes, at + 345, 155) : '';
    let name = cString(bytes, at, 100);
    if (posixPrefix !== '') name = `${posixPrefix}/${name}`;
    if (longName !== undefined) name = longName;
    const paxPath = pax.get('path');
    if (paxPath !== undefined) name = paxPath;

    if (typeflag === 'L') {
      longName = cString(data, 0, data.length);
      continue;
    }
    if (typeflag === 'x') {
      pax = parsePax(data, source);
      continue;
    }
    longName = undefined;
    pax = new Map();
    if (typeflag === 'g') continue; // global pax defaults (mtime, charset): nothing we use

    if (typeflag === '1' || typeflag === '2') {
      const kind = typeflag === '1' ? 'hard link' : 'symbolic link';
      throw new DataError(`${source}: refusing tar entry ${JSON.stringify(name)}: it is a ${kind}. Nothing was extracted; the archive is not a trustworthy copy.`);
    }
    const path = safeEntryPath(name, source);
    if (typeflag === '0' || typeflag === '\0' || typeflag === '7') entries.push({ path, type: 'file', data });
    else if (typeflag === '5') entries.push({ path, type: 'directory', data: new Uint8Array(0) });
    else throw new DataError(`${source}: refusing tar entry ${JSON.stringify(name)} of unsupported type '${typeflag}' (only files and directories are extracted).`);
  }
  return entries;
}

/**
 * Extract a tar archive into `destDir`: everything is validated first, then each file is written
 * to a temporary name and renamed into place. Returns the absolute paths of the files written.
 */
export function extractTar(bytes: Uint8Array, destDir: string, source: string): string[] {
  const entries = readTar(bytes, source);
  const root = resolve(destDir);
  const target = (p: string): string => {
    const full = resolve(root, p);
    // Belt and braces: safeEntryPath already guarantees this.
    if (!full.startsWith(root + sep)) throw new DataError(`${source}: refusing tar entry ${JSON.stringify(p)}: it resolves outside ${root}.`);
    return full;
  };
  for (const e of entries) target(e.path);
  mkdirSync(root, { recursive: true });
  const written: string[] = [];
  for (const e of entries) {
    const full = target(e.path);
    if (e.type === 'directory') {
      mkdirSync(full, { recursive: true });
      continue;
    }
    mkdirSync(dirname(full), { recursive: true });
    const tmp = join(dirname(full), `.${e.path.split('/').pop()}.tmp-${process.pid}`);
    writeFileSync(tmp, e.data);
    renameSync(tmp, full);
    written.push(full);
  }
  return written;
}
