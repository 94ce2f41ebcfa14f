import path from 'node:path';
import { readClusterBundle } from '../bundle/cluster.js';
import { loadInventory } from '../engine/inventory/index.js';
import { type Cluster, loadClusterWithHosts } from './cluster.js';
import { roleVars } from './role-vars.js';
import { PACKAGE_PLAYBOOKS, runOnCluster, type ClusterRunOptions } from './run.js';

/** What takes Furrow's parts off hosts: each role's tasks/clean.yml, in reverse deploy order. */
export const CLEAN_PLAYBOOK = path.join(PACKAGE_PLAYBOOKS, 'clean.yml');

/**
 * Stops and takes away what Furrow made on the cluster's hosts (`limit`: on those alone), with a
 * deploy's variables, so each role's clean finds its files where its deploy put them; the run's
 * exit code.
 */
export async function cleanHosts(cluster: Cluster, run: ClusterRunOptions, limit?: string): Promise<number> {
  const inventory = await loadInventory(cluster.inventory);
  const vars = roleVars(cluster, inventory, readClusterBundle(cluster.dir));
  return runOnCluster(cluster, [CLEAN_PLAYBOOK], { ...run, ...(limit ? { limit } : {}) }, vars);
}

/**
 * `furrow cluster destroy` (kubeasz's 99.clean): every host of the cluster cleaned. The folder
 * stays as it is (inventory, config.yml, pki/, backup/): a deploy from it makes the same cluster
 * again, with new data.
 */
export async function destroyCluster(clusterDir: string, run: ClusterRunOptions): Promise<number> {
  const { cluster } = await loadClusterWithHosts(clusterDir);
  return cleanHosts(cluster, run);
}
