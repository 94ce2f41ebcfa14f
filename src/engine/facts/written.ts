/**
 * What Furrow wrote, recorded on the host, so a later probe need not hash it again. Hashing the
 * binaries is most of what a no-change deploy costs the hosts (containerd's about 0.65 s a host).
 *
 * After it writes a large file, Furrow keeps in DIR/<sha256 of the path> the file's stat line
 * (mode, owner, size, device, inode, mtime and ctime in ns) and the sha256 it wrote. A probe that
 * finds the same stat line takes that sha256; any other line, or no record, and it hashes as
 * before. A user can set mtime back but not ctime, and every write, chmod, chown, truncate or
 * replacement moves ctime (or the inode), so an edit always shows as a different line.
 *
 * Two races are closed when the record is made: the file is hashed once more and stat'ed before and
 * after, so a record never pairs a stat line with content it did not hash; and the clock is let
 * past the tick of the write first, because the kernel stamps times from a coarse clock (a few
 * ms), and an edit later in that same tick could otherwise keep ctime as recorded.
 */
import { createHash } from 'node:crypto';
import { sh } from '../shell.js';

/** Where the host keeps the records (cleaned by roles/prepare/tasks/clean.yml). */
export const WRITTEN_DIR = '/var/lib/furrow/written';

/**
 * Files smaller than this are hashed each time, on the hosts and on the controller alike
 * (modules/support/hash-cache.ts): hashing them costs less than keeping track of them.
 */
export const RECORD_MIN_BYTES = 1024 * 1024;

/**
 * The stat line the probe reads and a record keeps: `%a %u %g %s %U %G` (the probe's header: mode,
 * ids, size, names), then device, inode, mtime and ctime in ns (what an edit cannot leave alone).
 */
export const STAT_FORMAT = '%a %u %g %s %U %G %d %i %.9Y %.9Z';

/** Which records a probe may trust: those under `dir`. */
export interface WrittenRecords {
  dir: string;
}

/** The record of `path` under `dir`: named by the path's sha256, so any path makes a plain file name. */
export function recordPath(dir: string, path: string): string {
  return `${dir}/${createHash('sha256').update(path).digest('hex')}`;
}

/**
 * Records that `path` holds content `sha256`, if it still does: after 20 ms (the write's clock tick
 * is over), stat, hash, stat again; written only when both stats agree and the hash is the one
 * Furrow wrote. Atomic (rename); a failure leaves no record, which only means hashing next time.
 */
export function recordCommand(records: WrittenRecords, path: string, sha256: string): string {
  const record = recordPath(records.dir, path);
  return [
    'sleep 0.02',
    sh`s=$(stat -c ${STAT_FORMAT} -- ${path}) && h=$(sha256sum < ${path}) && [ "\${h%% *}" = ${sha256} ]`,
    sh`[ "$(stat -c ${STAT_FORMAT} -- ${path})" = "$s" ] && mkdir -p -- ${records.dir}`,
    sh`printf '%s %s\\n' "$s" ${sha256} > ${`${record}.tmp`} && mv -f -- ${`${record}.tmp`} ${record}`,
  ].join(' && ');
}
