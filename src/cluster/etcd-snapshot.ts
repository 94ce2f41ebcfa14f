import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import type { Cluster } from './cluster.js';

/**
 * etcd snapshots in a cluster folder: `<cluster>/backup/snapshot-<UTC time>.db`, each beside a
 * `.sha256` file in sha256sum's format. What `furrow etcd backup` writes and `furrow etcd restore`
 * checks before it stops anything. A snapshot holds every Secret of the cluster: files 0600, the
 * folder 0700.
 */

export const BACKUP_DIR = 'backup';
export const SNAPSHOT_MODE = 0o600;
export const BACKUP_DIR_MODE = 0o700;

export function backupDir(cluster: Cluster): string {
  return path.join(cluster.dir, BACKUP_DIR);
}

/** `snapshot-20261204T211500Z.db`: the UTC time to the second, so names sort by time. */
export function snapshotName(at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  return `snapshot-${stamp}.db`;
}

/** The time part of a snapshot's name (`20261204T211500Z`), or undefined for another name. */
export function snapshotStamp(name: string): string | undefined {
  return /^snapshot-(\d{8}T\d{6}Z)\.db$/.exec(path.basename(name))?.[1];
}

/** A compact UTC time for names of things made now (`20261204T211500Z`). */
export function utcStamp(at: Date): string {
  return snapshotStamp(snapshotName(at))!;
}

export function sha256FileOf(snapshot: string): string {
  return `${snapshot}.sha256`;
}

/** One line as sha256sum writes it (`sha256sum -c` in the folder checks it). */
export function sha256Line(hex: string, fileName: string): string {
  return `${hex}  ${path.basename(fileName)}\n`;
}

/**
 * The digest a `.sha256` file gives for `fileName`: its line for that name, or its only line
 * (sha256sum's format, with or without the `*` of binary mode). Undefined when there is none.
 */
export function expectedSha256(text: string, fileName: string): string | undefined {
  const entries = text
    .split('\n')
    .map((line) => /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ hex: m[1]!.toLowerCase(), name: path.basename(m[2]!) }));
  const named = entries.find((e) => e.name === path.basename(fileName));
  if (named) return named.hex;
  return entries.length === 1 && text.trim().split('\n').length === 1 ? entries[0]!.hex : undefined;
}

/**
 * Reads the whole snapshot every time: this checks its integrity (a disk can rot a file without
 * touching its times), so it never takes the controller's kept hashes (modules/support/hash-cache.ts).
 */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The snapshot a restore names: a file path as given, else a name in the cluster's backup/ (with or
 * without `.db`). Anything else is bad input that lists the snapshots there are.
 */
export function resolveSnapshot(cluster: Cluster, arg: string): string {
  const dir = backupDir(cluster);
  const candidates = [path.resolve(arg), path.join(dir, arg), path.join(dir, `${arg}.db`)];
  const found = candidates.find((f) => existsSync(f) && statSync(f).isFile());
  if (found) return found;
  const there = listSnapshots(cluster);
  throw new InputError(
    { file: arg },
    'no such snapshot: neither a file nor a snapshot in the cluster folder',
    there.length
      ? `give a file, or one of ${dir}: ${there.join(', ')}`
      : `give a snapshot file; ${dir} has none ('furrow etcd backup' makes them)`,
  );
}

/** The snapshots in backup/, oldest first (their names sort by time). */
export function listSnapshots(cluster: Cluster): string[] {
  const dir = backupDir(cluster);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.db'))
    .sort();
}

/**
 * The snapshot's sha256 against its `.sha256` file, before anything is stopped: a missing,
 * unreadable or different digest is bad input (nothing was touched). The digest, when it matches.
 */
export async function verifySnapshot(snapshot: string): Promise<string> {
  const sumFile = sha256FileOf(snapshot);
  if (!existsSync(sumFile)) {
    throw new InputError(
      { file: snapshot },
      `has no ${path.basename(sumFile)} beside it: its integrity cannot be checked, so it is not restored; ` +
        `nothing was stopped`,
      `put the .sha256 file 'furrow etcd backup' wrote beside the snapshot (sha256sum's ` +
        `format: '<sha256>  ${path.basename(snapshot)}')`,
    );
  }
  const expected = expectedSha256(readFileSync(sumFile, 'utf8'), snapshot);
  if (!expected) {
    throw new InputError(
      { file: sumFile },
      `has no sha256 line for ${path.basename(snapshot)}; nothing was stopped`,
      `write it as sha256sum does: '<64 hex digits>  ${path.basename(snapshot)}'`,
    );
  }
  const actual = await sha256OfFile(snapshot);
  if (actual !== expected) {
    throw new InputError(
      { file: snapshot },
      `sha256 does not match: the file has ${actual}, ${path.basename(sumFile)} says ${expected}; the snapshot is ` +
        `damaged or not the one backed up, so it is not restored; nothing was stopped`,
      'restore another snapshot (furrow etcd restore NAME), or copy this one again from where it was kept',
    );
  }
  return actual;
}
