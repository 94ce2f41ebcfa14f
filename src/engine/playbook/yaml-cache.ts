import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../cache-dir.js';

/**
 * Parsed YAML kept between runs. Parsing the roles and playbooks with their places is the largest
 * part of a run's start-up (0.2 s of 0.9 s before step 01's first task, measured), and they rarely
 * change. An entry is found by the sha256 of the text and of this build (see buildId), so an edited
 * file or a new parser is a miss and is parsed again; the entry is what parsing gave (the values and
 * the places), never a guess. Small files gain too: a role's 47 files under 1 KiB parse in 17 ms
 * (warm) and read back in 4. Any trouble (no cache folder, a broken entry) is a miss.
 */

/** Entries kept; past it the oldest half goes, so the folder never grows without end. */
export const MAX_ENTRIES = 1000;

/** Where each key and value of a parsed file starts: the tree of its nodes, by offset in the text. */
export interface PlaceTree {
  /** Offset of the node's value, or null for an empty value (its key's place stands in). */
  at: number | null;
  /** A mapping: each key as text, where the key starts, and its value's tree. */
  pairs?: [key: string, keyAt: number | null, value: PlaceTree][];
  /** A list: each item's tree. */
  items?: PlaceTree[];
}

export interface ParsedYaml {
  data: unknown;
  lineStarts: number[];
  tree: PlaceTree;
}

const FORMAT = 'furrow-yaml-1';
let build: string | undefined;

/**
 * This build of Furrow: the size and time of the file this code was loaded from, which every build
 * writes anew. A cache written by another build (another dialect, another parser) is never read.
 */
function buildId(): string {
  if (build === undefined) {
    try {
      const s = statSync(fileURLToPath(import.meta.url));
      build = `${s.size} ${s.mtimeMs}`;
    } catch {
      build = String(process.pid);
    }
  }
  return build;
}

function entryFile(text: string): string {
  const key = createHash('sha256').update(`${FORMAT}\0${buildId()}\0`).update(text).digest('hex');
  return path.join(cacheDir(), 'yaml', `${key}.json`);
}

export function readParsed(text: string): ParsedYaml | undefined {
  try {
    const entry = JSON.parse(readFileSync(entryFile(text), 'utf8')) as ParsedYaml;
    return Array.isArray(entry.lineStarts) && entry.tree && typeof entry.tree === 'object' ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** Keeps `parsed` when its values survive JSON unchanged (see isPlainData). */
export function keepParsed(text: string, parsed: ParsedYaml): void {
  if (!isPlainData(parsed.data)) return;
  const target = entryFile(text);
  const tmp = `${target}.${process.pid}`;
  try {
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(tmp, JSON.stringify(parsed));
    renameSync(tmp, target); // a reader never sees half an entry
    prune(path.dirname(target));
  } catch {
    // A read-only home or a full disk: the next run parses again. A half-written temp file would never be
    // pruned (prune counts entries only), so it goes now, if it can.
    try {
      rmSync(tmp, { force: true });
    } catch {}
  }
}

function prune(dir: string): void {
  const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  if (names.length <= MAX_ENTRIES) return;
  const aged = names
    .map((n) => ({ file: path.join(dir, n), mtime: statSync(path.join(dir, n), { throwIfNoEntry: false })?.mtimeMs }))
    .sort((a, b) => (a.mtime ?? 0) - (b.mtime ?? 0));
  for (const { file } of aged.slice(0, aged.length - MAX_ENTRIES / 2)) unlinkSync(file);
}

/**
 * True when JSON gives `value` back as it is: plain objects, lists, text, finite numbers, booleans
 * and null, with no object reached twice (an alias or a merge shares objects, which a copy would
 * split). Anything else (.nan, !!set, !!binary) is parsed every time.
 */
export function isPlainData(value: unknown, seen = new Set<object>()): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (typeof value !== 'object') return false;
  if (seen.has(value)) return false;
  seen.add(value);
  if (Array.isArray(value)) return value.every((v) => isPlainData(v, seen));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(value).every((v) => isPlainData(v, seen));
}
