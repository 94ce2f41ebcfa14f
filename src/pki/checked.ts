/**
 * Leaves found good by a full inspection, remembered in pki/.furrow-checked.json, so that a re-run
 * does not parse, match and verify every kept certificate again (about 9 ms of controller CPU a
 * leaf, 30 leaves a lab deploy). An entry holds a digest of everything the inspection read (the
 * certificate, its key, its CA's certificate, the spec, the key type) and the kept certificate's
 * description. It answers only when every one of those is byte for byte what was inspected; the
 * expiry, the one answer that changes with time, is checked again from the description on every
 * run. Anything else (a missing, broken or foreign file) means: inspect as before.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { CertDescription } from './describe.js';
import { KEY_MODE, readIfExists, writeAtomic } from './store.js';

/**
 * What an inspection checks. Raise it whenever the inspection (inspectLeaf in leaf.ts, mismatches
 * in describe.ts) learns a new reason to re-issue: every remembered leaf is then inspected again.
 */
export const LEAF_CHECKS_VERSION = 1;

const FILE = '.furrow-checked.json';

interface Entry {
  digest: string;
  description: CertDescription;
}

type Remembered = Record<string, Entry>;

/** Per pki folder: what the file held when first read here, updated by every record. */
const folders = new Map<string, { entries: Promise<Remembered>; writing: Promise<void> }>();

function folder(pkiDir: string) {
  const dir = path.resolve(pkiDir);
  let found = folders.get(dir);
  if (!found) {
    found = { entries: load(dir), writing: Promise.resolve() };
    folders.set(dir, found);
  }
  return found;
}

async function load(dir: string): Promise<Remembered> {
  try {
    const data = JSON.parse((await readIfExists(path.join(dir, FILE))) ?? '{}') as unknown;
    return data && typeof data === 'object' && !Array.isArray(data) ? (data as Remembered) : {};
  } catch {
    return {}; // unreadable: every leaf is inspected, and the next record writes a good file
  }
}

/** The digest of what an inspection of one leaf reads; each part is length-prefixed, so parts cannot run together. */
export function leafDigest(parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha256').update(`furrow leaf checks v${LEAF_CHECKS_VERSION}\n`);
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    hash.update(`${bytes.length}:`).update(bytes);
  }
  return hash.digest('hex');
}

/** The description remembered for leaf `name` when its inputs' digest is `digest`, else undefined. */
export async function rememberedLeaf(
  pkiDir: string,
  name: string,
  digest: string,
): Promise<CertDescription | undefined> {
  const entry = (await folder(pkiDir).entries)[name];
  return entry?.digest === digest && typeof entry.description?.notAfter === 'string' ? entry.description : undefined;
}

/** Remembers that leaf `name`, with inputs of digest `digest`, passed a full inspection. */
export async function rememberLeaf(
  pkiDir: string,
  name: string,
  digest: string,
  description: CertDescription,
): Promise<void> {
  const f = folder(pkiDir);
  const entries = await f.entries;
  entries[name] = { digest, description };
  // One write at a time per folder, each of the whole map: hosts check their leaves in parallel.
  const text = `${JSON.stringify(entries, null, 1)}\n`;
  // Best effort: a leaf that could not be remembered is inspected again next time.
  f.writing = f.writing
    .then(() => writeAtomic(path.join(path.resolve(pkiDir), FILE), text, KEY_MODE))
    .catch(() => undefined);
  await f.writing;
}
