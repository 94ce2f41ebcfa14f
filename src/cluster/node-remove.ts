import { existsSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { selectHosts, type Inventory } from '../engine/inventory/index.js';
import { cleanHosts } from './clean.js';
import { type Cluster, loadClusterWithHosts } from './cluster.js';
import { deleteNode, drainNode } from './drain.js';
import { type ApiAccess, readKubeconfig } from './kube-api.js';
import { nodeNameOf } from './kubernetes.js';
import { inGroup, NODE_NEIGHBOUR_RUNS, removeFromInventory, runNeighbours } from './node-add.js';
import type { ClusterRunOptions } from './run.js';

/** Refuses, before anything is touched, a host that is not a plain node, or the last node. */
export function checkNodeRemove(cluster: Cluster, inventory: Inventory, host: string): void {
  const file = cluster.inventory;
  if (!inGroup(inventory, 'kube_node', host))
    throw new InputError(
      { file },
      `${host} is not in kube_node`,
      `the nodes are: ${selectHosts(inventory, 'kube_node').join(', ') || '(none)'}`,
    );
  if (inGroup(inventory, 'kube_master', host))
    throw new InputError(
      { file },
      `${host} is a master as well as a node: removing it would take a control-plane member away`,
      'remove the master with `furrow master remove`',
    );
  if (inGroup(inventory, 'etcd', host))
    throw new InputError(
      { file },
      `${host} is an etcd member: cleaning the host would stop that member`,
      'take it out of etcd first (furrow etcd remove), then remove the node',
    );
  // Its keepalived peers would keep it in their configuration, and the VIP may be on it right now.
  if (inGroup(inventory, 'ex_lb', host))
    throw new InputError(
      { file },
      `${host} is an external load balancer (ex_lb) as well as a node: cleaning it would take its VIP and proxy away`,
      'removing ex_lb hosts is not supported yet',
    );
  if (selectHosts(inventory, 'kube_node').length === 1)
    throw new InputError({ file }, `${host} is the cluster's last node`, 'add another node first');
  if (!existsSync(path.join(cluster.dir, 'kubeconfig')))
    throw new InputError(
      { file: path.join(cluster.dir, 'kubeconfig') },
      'no admin kubeconfig: draining needs the API',
      'run `furrow deploy master` first',
    );
}

export interface NodeRemoveOptions {
  run: ClusterRunOptions;
  say: (line: string) => void;
  force?: boolean;
  drainTimeoutMs?: number;
}

export interface NodeRemoveResult {
  code: number;
  done: string[];
}

/**
 * `furrow node remove`: drain (cordon, evict all but DaemonSet and static pods, wait), stop and clean
 * the host, delete the Node, take the host out of the inventory, and tell the other hosts
 * (/etc/hosts, the pod network's routes). Stops at the first step that fails, saying what was done.
 */
export async function removeNode(clusterDir: string, host: string, o: NodeRemoveOptions): Promise<NodeRemoveResult> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  checkNodeRemove(cluster, inventory, host);
  const access = readKubeconfig(path.join(cluster.dir, 'kubeconfig'));
  const node = nodeNameOf(inventory, host);
  const done: string[] = [];
  const code = await drainAndClean(cluster, host, node, access, o, done);
  if (code !== 0) return { code, done };
  const step = stepper(done, o.say);
  step((await deleteNode(access, node)) ? `deleted the Node ${node}` : `the Node ${node} was gone already`);
  removeFromInventory(cluster, host);
  step(`took ${host} out of ${cluster.inventory}`);

  return runNeighbours(cluster, NODE_NEIGHBOUR_RUNS, o.run, o.say, done);
}

/** A step done: told to the user and kept for the summary. */
export const stepper = (done: string[], say: (line: string) => void) => (line: string) => {
  done.push(line);
  say(line);
};

/**
 * The first half of taking a host out (a node or a master): drain its node, then stop and clean the host. 0 when both
 * went well, else the exit code; what was done is added to `done`.
 */
export async function drainAndClean(
  cluster: Cluster,
  host: string,
  node: string,
  access: ApiAccess,
  o: NodeRemoveOptions,
  done: string[],
): Promise<number> {
  const step = stepper(done, o.say);
  try {
    const evicted = await drainNode(access, node, {
      say: o.say,
      ...(o.force ? { force: true } : {}),
      ...(o.drainTimeoutMs ? { timeoutMs: o.drainTimeoutMs } : {}),
    });
    step(`drained ${node}: ${evicted.length} pod(s) evicted`);
  } catch (err) {
    o.say(`drain: ${(err as Error).message}`);
    return 1;
  }
  const cleaned = await cleanHosts(cluster, o.run, host);
  if (cleaned !== 0) {
    done.push(`cleaning ${host}: exit ${cleaned}`);
    return cleaned;
  }
  step(`stopped and cleaned ${host}`);
  return 0;
}
