import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { selectHosts, type Inventory } from '../engine/inventory/index.js';
import { type Cluster, loadClusterWithHosts } from './cluster.js';
import { deleteNode } from './drain.js';
import { readKubeconfig } from './kube-api.js';
import { nodeNameOf } from './kubernetes.js';
import { checkRunningControlPlane, masterNeighbourRuns } from './master-add.js';
import { inGroup, removeFromInventory, runNeighbours } from './node-add.js';
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
 * (every group: the host leaves the cluster), tell every kube-lb and the ex-lb (reloaded) and every host; then delete
 * its Node, through the admin kubeconfig step 04 has just rewritten (it named the first master, which may be the one
 * that went). Stops at the first step that fails, saying what was done.
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
  const told = await runNeighbours(cluster, masterNeighbourRuns(now), o.run, o.say, done);
  if (told.code !== 0) return told;
  step((await deleteNode(readKubeconfig(kubeconfig), node)) ? `deleted the Node ${node}` : `the Node ${node} was gone`);
  return { code: 0, done };
}
