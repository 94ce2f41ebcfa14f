import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, RunEvent } from '../engine/events.js';
import { InputError } from '../engine/errors.js';
import type { Inventory } from '../engine/inventory/types.js';
import { selectHosts } from '../engine/inventory/index.js';
import { clusterVars, loadClusterWithHosts, type Cluster } from './cluster.js';
import {
  backupDir,
  BACKUP_DIR_MODE,
  sha256FileOf,
  sha256Line,
  sha256OfFile,
  SNAPSHOT_MODE,
  snapshotName,
} from './etcd-snapshot.js';
import { PACKAGE_PLAYBOOKS, runOnCluster, type ClusterRunOptions } from './run.js';

/** The playbook of `furrow etcd backup`, and the task in roles/etcd/tasks/backup.yml that saves the snapshot. */
export const BACKUP_PLAYBOOK = path.join(PACKAGE_PLAYBOOKS, 'etcd-backup.yml');
export const SAVE_TASK = 'Save a snapshot of etcd on this member';

export interface BackupResult {
  /** The run's exit code (3: some member was unreachable, yet the snapshot may have been taken). */
  code: number;
  /** Set when the snapshot reached the controller. */
  file?: string;
  size?: number;
  sha256?: string;
  /** The member it was taken from. */
  member?: string;
}

/** The etcd members, which must exist: a backup of a cluster without one is bad input. */
export function etcdHosts(cluster: Cluster, inventory: Inventory): string[] {
  const members = inventory.groups.has('etcd') ? selectHosts(inventory, 'etcd') : [];
  if (!members.length)
    throw new InputError(
      { file: cluster.inventory },
      'the cluster has no etcd member (group etcd is empty or missing)',
      'list the etcd hosts in group etcd',
    );
  return members;
}

/** The results of one named task, per host: which hosts it changed something on, what it printed. */
export class TaskResults implements Reporter {
  readonly changed: string[] = [];
  readonly printed = new Map<string, string>();
  constructor(private readonly task: string) {}
  onEvent(event: RunEvent): void {
    if (event.kind !== 'task_result' || event.task !== this.task) return;
    if (event.status === 'changed') this.changed.push(event.host);
    if (event.print !== undefined) this.printed.set(event.host, event.print);
  }
}

/**
 * `furrow etcd backup`: `etcdctl snapshot save` on the first healthy member (over mutual TLS, with
 * the role's health-check client certificate), fetched into `<cluster>/backup/snapshot-<UTC>.db`
 * (0600, in a 0700 folder: it holds every Secret) with its `.sha256` beside it; the member's copy
 * is removed. The file and its digest, and the member it came from.
 */
export async function backupEtcd(clusterDir: string, run: ClusterRunOptions, now = new Date()): Promise<BackupResult> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  etcdHosts(cluster, inventory);
  const dir = backupDir(cluster);
  mkdirSync(dir, { recursive: true, mode: BACKUP_DIR_MODE });
  chmodSync(dir, BACKUP_DIR_MODE);
  const file = path.join(dir, snapshotName(now));
  if (existsSync(file))
    throw new InputError(
      { file },
      'a snapshot of this name (this second) exists already',
      'wait a second and run the backup again',
    );
  const saved = new TaskResults(SAVE_TASK);
  const code = await runOnCluster(
    cluster,
    [BACKUP_PLAYBOOK],
    { ...run, reporters: [...(run.reporters ?? []), saved], extraVars: { ...run.extraVars, etcd_snapshot_file: file } },
    clusterVars(cluster),
  );
  if (!existsSync(file)) return { code: code === 0 ? 1 : code };
  chmodSync(file, SNAPSHOT_MODE);
  const sha256 = await sha256OfFile(file);
  writeFileSync(sha256FileOf(file), sha256Line(sha256, file), { mode: SNAPSHOT_MODE });
  return { code, file, size: statSync(file).size, sha256, ...(saved.changed[0] ? { member: saved.changed[0] } : {}) };
}
