import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { selectHosts, type Inventory } from '../engine/inventory/index.js';
import { type Cluster, loadClusterWithHosts } from './cluster.js';
import { deleteNode } from './drain.js';
import { readKubeconfig } from './kube-api.js';
import { nodeNameOf } from './kubernetes.js';
import { checkRunningControlPlane, masterNeighbourRuns } from './master-add.js';
import { inGroup, type NeighbourRun, removeFromInventory, runNeighbours } from './node-add.js';
import { drainAndClean, type NodeRemoveOptions, type NodeRemoveResult, stepper } from './node-remove.js';

/** Refuses, before anything is touched: not a master, the last master, an etcd member or an ex-lb host. */
export function checkMasterRemove(cluster: Cluster, inventory: Inventory, host: string): void {
  const file = cluster.inventory;
  const masters = inventory.groups.has('kube_master') ? selectHosts(inventory, 'kube_master') : [];
  if (!masters.includes(host))
    throw new InputError(
      { file },
      `${host} is not in kube_master`,
      `the masters are: ${masters.join(', ') || '(none)'}`,
    );
  if (masters.length === 1)
    throw new InputError(
      { file },
      `${host} is the cluster's last master`,
      'add another master first (furrow master add)',
    );
  if (inGroup(inventory, 'etcd', host))
    throw new InputError(
      { file },
      `${host} is an etcd member: cleaning the host would take that member away`,
      'take it out of etcd first (furrow etcd remove), then remove the master',
    );
  if (inGroup(inventory, 'ex_lb', host))
    throw new InputError(
      { file },
      `${host} is an external load balancer (ex_lb) as well as a master: cleaning it would take its VIP and proxy away`,
      'removing ex_lb hosts is not supported yet',
    );
  checkRunningControlPlane(cluster);
}

/**
 * `furrow master remove` (kubeasz's del-master): drain its node, stop and clean the host, take it out of the inventory
 * (every group: the host leaves the cluster), tell every kube-lb and the ex-lb (reloaded); delete its Node, through the
 * admin kubeconfig step 04 has just rewritten (it named the first master, which may be the one that went); then tell
 * every host (/etc/hosts, the pod network). Stops at the first step that fails, saying what was done.
 */
export async function removeMaster(clusterDir: string, host: string, o: NodeRemoveOptions): Promise<NodeRemoveResult> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  checkMasterRemove(cluster, inventory, host);
  const node = nodeNameOf(inventory, host);
  const kubeconfig = path.join(cluster.dir, 'kubeconfig');
  const done: string[] = [];
  const code = await drainAndClean(cluster, host, node, readKubeconfig(kubeconfig), o, done);
  if (code !== 0) return { code, done };
  const step = stepper(done, o.say);
  removeFromInventory(cluster, host);
  step(`took ${host} out of ${cluster.inventory}`);

  const { inventory: now } = await loadClusterWithHosts(cluster.dir);
  const runs = masterRemoveRuns(now);
  const told = await runNeighbours(cluster, runs.beforeNodeDelete, o.run, o.say, done);
  if (told.code !== 0) return told;
  step((await deleteNode(readKubeconfig(kubeconfig), node)) ? `deleted the Node ${node}` : `the Node ${node} was gone`);
  return runNeighbours(cluster, runs.afterNodeDelete, o.run, o.say, done);
}

/**
 * The runs on every host after a master left, split around deleting its Node: the Node goes once step 04 (and the
 * ex-lb) have run, which rewrite the admin kubeconfig the deletion uses, and before the pod network's run, which
 * reads the Nodes: run before, it kept every host's route to the gone master's pod range.
 */
export function masterRemoveRuns(inventory: Inventory): {
  beforeNodeDelete: NeighbourRun[];
  afterNodeDelete: NeighbourRun[];
} {
  const runs = masterNeighbourRuns(inventory);
  const rewritesKubeconfig = (r: NeighbourRun) => r.steps === 'master' || r.steps === 'ex-lb';
  return {
    beforeNodeDelete: runs.filter(rewritesKubeconfig),
    afterNodeDelete: runs.filter((r) => !rewritesKubeconfig(r)),
  };
}
