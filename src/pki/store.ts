/**
 * The cluster's pki/ folder on the controller: where each certificate and key lives, atomic
 * writes (temp file in the same folder, then rename) with keys 0600 and certificates 0644, and
 * locks so hosts planned in parallel never issue the same certificate twice.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;

/** A certificate's name is its path under pki/ without extension: 'ca', 'etcd/ca', 'etcd/server-etcd1'. */
export function certPath(pkiDir: string, name: string): string {
  return path.join(pkiDir, `${name}.crt`);
}

export function keyPath(pkiDir: string, name: string): string {
  return path.join(pkiDir, `${name}.key`);
}

/**
 * The file's text, or undefined when it does not exist. Read synchronously: a run reads these few-KB
 * files hundreds of times, and fs/promises' readFile costs about ten times the CPU of readFileSync
 * for them (five thread-pool round trips each).
 */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes atomically: a reader sees the old file or the new one, never half of one. */
export async function writeAtomic(file: string, content: string, mode: number): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // The temp file is created with the final mode: a key is never readable by others, not even briefly.
    await writeFile(tmp, content, { mode, flag: 'wx' });
    await chmod(tmp, mode); // the umask may have taken bits away from a certificate's 0644
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** What runs, or waits to run, in one pki folder: the last whole-folder operation and, per entry, the last one. */
interface FolderLocks {
  whole: Promise<unknown>;
  entries: Map<string, Promise<unknown>>;
  /** Operations not yet settled; the folder's record goes when none is left. */
  pending: number;
}

const folders = new Map<string, FolderLocks>();

/**
 * Runs `fn` within this process (hosts plan in parallel) alone for the entries named (a CA, a
 * leaf, 'sa'), or, with no entries, alone for the whole pki folder. Operations on different
 * entries run side by side, so the hosts' leaves are issued (their keys generated) in parallel.
 * Each waits only for what was asked before it, and none may take another lock inside: no cycle.
 */
export function withPkiLock<T>(pkiDir: string, fn: () => Promise<T>, entries: string[] = []): Promise<T> {
  const key = path.resolve(pkiDir);
  let folder = folders.get(key);
  if (!folder) {
    folder = { whole: Promise.resolve(), entries: new Map(), pending: 0 };
    folders.set(key, folder);
  }
  const before = entries.length
    ? [folder.whole, ...entries.map((e) => folder.entries.get(e))]
    : [folder.whole, ...folder.entries.values()];
  const run = Promise.all(before).then(fn);
  const settled = run.catch(() => undefined);
  if (entries.length) for (const e of entries) folder.entries.set(e, settled);
  else folder.whole = settled;
  folder.pending++;
  void settled.then(() => {
    if (--folder.pending === 0) folders.delete(key);
  });
  return run;
}
