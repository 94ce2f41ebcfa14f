import path from 'node:path';
import { readClusterBundle } from '../bundle/cluster.js';
import { loadClusterWithHosts } from './cluster.js';
import { roleVars } from './role-vars.js';
import { PACKAGE_PLAYBOOKS, runOnCluster, type ClusterRunOptions } from './run.js';

/** Each role's tasks/start.yml and tasks/stop.yml, in the order the cluster's services depend on each other. */
export const START_PLAYBOOK = path.join(PACKAGE_PLAYBOOKS, 'cluster-start.yml');
export const STOP_PLAYBOOK = path.join(PACKAGE_PLAYBOOKS, 'cluster-stop.yml');

/**
 * `furrow cluster start` and `furrow cluster stop` (kubeasz's 91.start and 92.stop): every service
 * Furrow runs on the cluster's hosts started (and enabled at boot) from etcd up, each layer ready
 * before the next, or stopped (and disabled at boot) from kubelet down; the run's exit code.
 */
export async function startStopCluster(
  clusterDir: string,
  action: 'start' | 'stop',
  run: ClusterRunOptions,
): Promise<number> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  const vars = roleVars(cluster, inventory, readClusterBundle(cluster.dir));
  return runOnCluster(cluster, [action === 'start' ? START_PLAYBOOK : STOP_PLAYBOOK], run, vars);
}
