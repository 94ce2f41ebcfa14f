import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runAdhoc, type AdhocResult } from '../engine/adhoc.js';
import { FurrowError, InputError } from '../engine/errors.js';
import { selectHosts } from '../engine/inventory/index.js';
import type { Inventory } from '../engine/inventory/types.js';
import { parseYaml } from '../engine/yaml.js';
import { clusterVars, loadClusterWithHosts, type Cluster } from './cluster.js';
import { etcdHosts, TaskResults } from './etcd-backup.js';
import { resolveSnapshot, utcStamp, verifySnapshot } from './etcd-snapshot.js';
import { PACKAGE_PLAYBOOKS, runOnCluster, type ClusterRunOptions } from './run.js';

/** The playbook of `furrow etcd restore`, and its task that prints where each member's old data went. */
export const RESTORE_PLAYBOOK = path.join(PACKAGE_PLAYBOOKS, 'etcd-restore.yml');
export const KEPT_TASK = 'Say where the data from before is kept';

/** One step of a restore, in the order it runs: a play of the playbook and the hosts it runs on. */
export interface RestoreStep {
  what: string;
  group: string;
  hosts: string[];
}

/** The restore's steps, read from its playbook (the one place the order is written), with this cluster's hosts. */
export function restorePlan(inventory: Inventory, playbook = RESTORE_PLAYBOOK): RestoreStep[] {
  const plays = parseYaml(readFileSync(playbook, 'utf8')).toJS() as Array<{ name: string; hosts: string }>;
  return plays.map((p) => ({ what: p.name, group: p.hosts, hosts: selectHosts(inventory, p.hosts) }));
}

/** A restore checked and ready: nothing has been touched yet. */
export interface PreparedRestore {
  cluster: Cluster;
  inventory: Inventory;
  snapshot: string;
  sha256: string;
  plan: RestoreStep[];
}

/**
 * Everything a restore checks before it may stop anything: the cluster folder, its etcd members,
 * its kube_master group (it may be empty), the snapshot, and the snapshot's sha256 against its
 * `.sha256` file. Any problem is bad input (exit 2) and no host has been contacted.
 */
export async function prepareRestore(clusterDir: string, snapshotArg: string): Promise<PreparedRestore> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  etcdHosts(cluster, inventory);
  if (!inventory.groups.has('kube_master')) {
    throw new InputError(
      { file: cluster.inventory },
      'the inventory has no group kube_master: a restore stops and starts the apiservers there',
      'add the group (it may be empty when the cluster runs no apiserver)',
    );
  }
  const snapshot = resolveSnapshot(cluster, snapshotArg);
  const sha256 = await verifySnapshot(snapshot);
  return { cluster, inventory, snapshot, sha256, plan: restorePlan(inventory) };
}

/** What each group's hosts must have for a restore: the unit it stops and starts. */
const UNIT_OF_GROUP = { etcd: 'etcd.service', kube_master: 'kube-apiserver.service' } as const;

/**
 * A restore that started with a host out of reach would stop the API and could not restore that
 * member (the run goes on without an unreachable host). So every member and master is reached
 * first, and must have the unit the restore stops and starts; otherwise nothing is stopped.
 */
export async function checkRestoreHosts(
  cluster: Cluster,
  inventory: Inventory,
  o: { strictHostKeys?: boolean },
): Promise<void> {
  const groups = (Object.keys(UNIT_OF_GROUP) as Array<keyof typeof UNIT_OF_GROUP>).filter(
    (g) => selectHosts(inventory, g).length > 0,
  );
  const results = await Promise.all(
    groups.map(async (group) => {
      const unit = UNIT_OF_GROUP[group];
      const answers = await runAdhoc({
        inventory: cluster.inventory,
        pattern: group,
        command: `systemctl cat ${unit} >/dev/null`,
        become: true,
        ...(o.strictHostKeys ? { strictHostKeys: true } : {}),
      });
      return answers.map((r) => ({ ...r, unit, group }));
    }),
  );
  const problems = restoreHostProblems(results.flat());
  if (problems.unreachable.length) {
    throw new FurrowError(
      'unreachable',
      `etcd restore: every etcd member and master must be reachable; nothing ` +
        `was stopped:\n  ${problems.unreachable.join('\n  ')}`,
    );
  }
  if (problems.missing.length) {
    throw new InputError(
      { file: cluster.inventory },
      `etcd restore: nothing was stopped:\n  ${problems.missing.join('\n  ')}`,
      'deploy the cluster (furrow deploy all) before restoring it, or remove the host from its group',
    );
  }
}

/** The hosts that cannot be reached, and those that lack the unit their group needs. */
export function restoreHostProblems(results: Array<AdhocResult & { unit: string; group: string }>): {
  unreachable: string[];
  missing: string[];
} {
  return {
    unreachable: [
      ...new Set(
        results
          .filter((r) => r.status === 'unreachable' || (r.status === 'failed' && r.code === null))
          .map((r) => (r.error?.startsWith(`${r.host}:`) ? r.error : `${r.host}: ${r.error ?? 'unreachable'}`)),
      ),
    ],
    missing: results
      .filter((r) => r.status === 'failed' && r.code !== null)
      .map((r) => `${r.host} (group ${r.group}) has no ${r.unit}`),
  };
}

export interface RestoreResult {
  code: number;
  /** Each member's line saying where its data from before the restore is kept. */
  kept: Map<string, string>;
}

/**
 * `furrow etcd restore`: stops every apiserver, then every etcd member; restores each member from
 * the snapshot into a fresh data folder (its own --name and peer URL, the cluster's
 * --initial-cluster and token, as the role's unit has them), the old one kept beside it as
 * `<ETCD_DATA_DIR>.before-restore-<UTC time>`; starts the members and waits until the cluster is
 * healthy; starts the apiservers and waits until each answers /readyz. A failure on any host stops
 * the run where it is.
 */
export async function restoreEtcd(
  prepared: PreparedRestore,
  run: ClusterRunOptions,
  now = new Date(),
): Promise<RestoreResult> {
  const kept = new TaskResults(KEPT_TASK);
  const code = await runOnCluster(
    prepared.cluster,
    [RESTORE_PLAYBOOK],
    {
      ...run,
      reporters: [...(run.reporters ?? []), kept],
      extraVars: { ...run.extraVars, etcd_restore_snapshot: prepared.snapshot, etcd_restore_stamp: utcStamp(now) },
    },
    clusterVars(prepared.cluster),
  );
  return { code, kept: kept.printed };
}
