import { existsSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { selectHosts, type Inventory } from '../engine/inventory/index.js';
import { type Cluster, loadClusterWithHosts } from './cluster.js';
import { kubeSetting, masterFamilyProblem } from './kubernetes.js';
import {
  addClusterHost,
  checkHostAdd,
  type NeighbourRun,
  NODE_NEIGHBOUR_RUNS,
  type NodeAddRequest,
  type NodeAddResult,
} from './node-add.js';
import type { ClusterRunOptions } from './run.js';

/**
 * What every host needs after a master came or went: every kube-lb's list of apiservers (a new list reloads nginx,
 * which keeps open connections; the other masters' control plane is unchanged), the ex-lb's when the cluster has one,
 * then what a node's coming or going needs (/etc/hosts, the pod network's routes).
 */
export function masterNeighbourRuns(inventory: Inventory): NeighbourRun[] {
  const exLb = inventory.groups.has('ex_lb') && selectHosts(inventory, 'ex_lb').length > 0;
  return [
    { steps: 'master', why: "every kube-lb's list of apiservers (reloaded, not restarted)" },
    ...(exLb ? [{ steps: 'ex-lb', why: "the ex-lb proxy's list of apiservers (reloaded)" }] : []),
    ...NODE_NEIGHBOUR_RUNS,
  ];
}

/** A master joins a running control plane: the admin kubeconfig must exist (step 04 deployed). */
export function checkRunningControlPlane(cluster: Cluster): void {
  if (!existsSync(path.join(cluster.dir, 'kubeconfig')))
    throw new InputError(
      { file: path.join(cluster.dir, 'kubeconfig') },
      'no admin kubeconfig: the cluster has no control plane yet',
      'run `furrow deploy all` (or `deploy master`) first',
    );
}

/**
 * `furrow master add`: the host goes into `kube_master` in the cluster's inventory file (comments and order kept),
 * then the steps a master needs run on it alone (prepare, runtime, kube-lb and the control plane, kubelet and
 * kube-proxy, the pod network; a master not in kube_node is cordoned, as kubeasz's are), then every kube-lb (and the
 * ex-lb) gets the new apiserver, reloaded, and every host learns of the host. A host in kube_master already (an add
 * that stopped halfway) runs its steps again, which completes it.
 */
export async function addMaster(
  clusterDir: string,
  req: NodeAddRequest,
  run: ClusterRunOptions,
  say: (line: string) => void,
): Promise<NodeAddResult> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  const { already, address } = checkHostAdd(cluster, inventory, req, 'kube_master');
  const family = masterFamilyProblem(req.name, address, String(kubeSetting(cluster, 'SERVICE_CIDR')));
  if (family) throw new InputError({ file: cluster.inventory }, family, 'give the master an address of that family');
  checkRunningControlPlane(cluster);
  return addClusterHost(cluster, req, 'kube_master', already, masterNeighbourRuns(inventory), run, say);
}
