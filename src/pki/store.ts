/**
 * The cluster's pki/ folder on the controller: where each certificate and key lives, atomic
 * writes (temp file in the same folder, then rename) with keys 0600 and certificates 0644, and a
 * lock so hosts planned in parallel never issue the same certificate twice.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
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

/** The file's text, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
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

const locks = new Map<string, Promise<unknown>>();

/** Runs `fn` alone for this pki folder within this process (hosts plan in parallel). */
export function withPkiLock<T>(pkiDir: string, fn: () => Promise<T>): Promise<T> {
  const key = path.resolve(pkiDir);
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.catch(() => undefined);
  locks.set(key, settled);
  void settled.then(() => {
    if (locks.get(key) === settled) locks.delete(key);
  });
  return run;
}
