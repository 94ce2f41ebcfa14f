/**
 * The sha256 of large controller files, kept between runs: every deploy compares the binaries it
 * copies (containerd, etcd, kubelet: 20-100 MB each), and hashing them is most of the controller's
 * part of a no-change run. The hosts' side of the same idea is engine/facts/written.ts.
 *
 * Keyed by path, an entry holds the file's device, inode, size, mtime and ctime (ns) with its
 * sha256, and is used only while all of them still hold: an edit moves ctime, which no user can
 * set back. A file changed within the last second is not kept (its next change could fall in the
 * same clock tick and keep its times), nor one that changed while it was hashed. The cache is in
 * engine/cache-dir.ts's folder; losing it costs one hash.
 */
import type { BigIntStats } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir } from '../../engine/cache-dir.js';
import { RECORD_MIN_BYTES } from '../../engine/facts/written.js';

/** How long a file must have been left alone before its hash is kept. */
const SETTLED_MS = 1000;

export function hashCacheFile(): string {
  return path.join(cacheDir(), 'file-hashes.json');
}

/** What identifies one state of a file: any write, chmod, rename over it or truncation changes it. */
export const identityOf = (s: BigIntStats): string => `${s.dev} ${s.ino} ${s.size} ${s.mtimeNs} ${s.ctimeNs}`;

let loaded: Promise<Map<string, string>> | undefined;
let saving: Promise<void> = Promise.resolve();

function entries(): Promise<Map<string, string>> {
  loaded ??= readFile(hashCacheFile(), 'utf8')
    .then((text) => new Map(Object.entries(JSON.parse(text) as Record<string, string>)))
    .catch(() => new Map<string, string>());
  return loaded;
}

/** The kept sha256 of `file` in the state `s`, if any. */
export async function keptSha256(file: string, s: BigIntStats): Promise<string | undefined> {
  if (s.size < RECORD_MIN_BYTES) return undefined;
  const entry = (await entries()).get(file);
  const prefix = `${identityOf(s)} `;
  return entry?.startsWith(prefix) ? entry.slice(prefix.length) : undefined;
}

/**
 * Keeps `sha256` for `file`, hashed from the state `before`, when that state is settled and still
 * the file's now. Best effort: a cache that cannot be written only means hashing next time.
 */
export async function keepSha256(file: string, before: BigIntStats, sha256: string): Promise<void> {
  if (before.size < RECORD_MIN_BYTES || Date.now() - Number(before.ctimeMs) < SETTLED_MS) return;
  const now = await stat(file, { bigint: true }).catch(() => undefined);
  if (!now || identityOf(now) !== identityOf(before)) return;
  const map = await entries();
  map.set(file, `${identityOf(before)} ${sha256}`);
  // Files gone since (temporary ones, an old bundle) leave the cache, so it never grows without end.
  for (const f of [...map.keys()]) if (!(await stat(f).catch(() => undefined))) map.delete(f);
  // One write at a time, each of the whole map, atomically (a reader never sees half a file).
  saving = saving.then(async () => {
    const target = hashCacheFile();
    try {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(`${target}.${process.pid}`, JSON.stringify(Object.fromEntries(map)));
      await rename(`${target}.${process.pid}`, target);
    } catch {
      // Read-only home, full disk: the next run hashes again.
    }
  });
  await saving;
}
