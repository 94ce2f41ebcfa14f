import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { hostVars, selectHosts, type Inventory } from '../engine/inventory/index.js';
import { type Cluster, loadClusterWithHosts } from './cluster.js';
import { deployCluster } from './deploy.js';
import { addHost, inventoryFormatOf, removeHost } from './inventory-edit.js';
import type { ClusterRunOptions } from './run.js';

/** A DNS name (RFC 1123 labels), as an inventory host name or an address. */
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * An IPv4 or IPv6 address or a DNS name; digits and dots only must be an IPv4 address (`10.0.0` is a typo, not a name).
 */
export const isHostAddress = (text: string) =>
  /^[\d.]+$/.test(text) ? isIPv4(text) : isIPv6(text) || HOSTNAME.test(text);

export const inGroup = (inventory: Inventory, group: string, host: string) =>
  inventory.groups.has(group) && selectHosts(inventory, group).includes(host);

/** The steps a new node needs, on it alone; then what the others need to know of it, on all. */
export const NEW_NODE_STEPS = 'prepare,runtime,master,node,network';
export const NODE_NEIGHBOUR_RUNS: readonly NeighbourRun[] = [
  { steps: 'prepare', tags: ['set_hosts'], why: "every host's /etc/hosts lists the cluster's hosts" },
  {
    steps: 'network',
    tags: undefined,
    why: 'the pod network on every node (with CLUSTER_NETWORK=routes, a route to the new pod range)',
  },
];

/** Writes the inventory file in one step (a new file renamed over the old): a crash leaves one or the other. */
export function writeInventory(file: string, text: string): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.furrow-${process.pid}`);
  writeFileSync(temp, text);
  renameSync(temp, file);
}

export interface NodeAddRequest {
  /** The inventory name: an IPv4 or IPv6 address or a host name, as kubeasz's hosts lines are. */
  name: string;
  /** How to reach it when the name is not an address (ansible_host). */
  address?: string;
}

/** The request, checked before anything is touched: bad names are exit 2 naming the inventory. */
export function checkNodeAdd(cluster: Cluster, inventory: Inventory, req: NodeAddRequest): { already: boolean } {
  const { already } = checkHostAdd(cluster, inventory, req, 'kube_node');
  return { already };
}

/**
 * A host to add to `group`: its name and address must be an address or a DNS name, and an address given must be the
 * one the inventory has for it already. `already`: it is in the group (an earlier add that stopped halfway);
 * `address`: where it is reached (--address, else the inventory's ansible_host, else its name).
 */
export function checkHostAdd(
  cluster: Cluster,
  inventory: Inventory,
  req: NodeAddRequest,
  group: string,
): { already: boolean; address: string } {
  if (!isHostAddress(req.name))
    throw new InputError(
      { file: cluster.inventory },
      `'${req.name}' is not an IPv4 or IPv6 address or a host name`,
      'name the node by its address or its DNS name',
    );
  if (req.address !== undefined && !isHostAddress(req.address))
    throw new InputError(
      { file: cluster.inventory },
      `--address '${req.address}' is not an IPv4 or IPv6 address or a host name`,
      'give the address the controller reaches it at',
    );
  const already = inGroup(inventory, group, req.name);
  const known = inventory.hosts.has(req.name) ? hostVars(inventory, req.name).ansible_host : undefined;
  if (req.address !== undefined && known !== undefined && known !== req.address) {
    throw new InputError(
      { file: cluster.inventory },
      `${req.name} is in the inventory with ansible_host ${String(known)}, not ${req.address}`,
      'give the same address, or edit the inventory by hand first',
    );
  }
  return { already, address: String(req.address ?? known ?? req.name) };
}

export interface NodeAddResult {
  code: number;
  /** What was done, in order, for the user: the inventory edit and each run with its exit code. */
  done: string[];
}

/** A run on every host after a host came or went: the steps, tags, and why. */
export interface NeighbourRun {
  steps: string;
  tags?: readonly string[] | undefined;
  why: string;
}

/**
 * `furrow node add`: the host goes into `kube_node` in the cluster's inventory file (comments and
 * order kept), then the steps a node needs run on it alone (prepare, runtime, kube-lb, kubelet and
 * kube-proxy, the pod network), then every host learns of it (/etc/hosts; the pod network's routes).
 * A node already in the inventory (an earlier add that stopped halfway) runs its steps again,
 * which completes it.
 */
export async function addNode(
  clusterDir: string,
  req: NodeAddRequest,
  run: ClusterRunOptions,
  say: (line: string) => void,
): Promise<NodeAddResult> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  const { already } = checkNodeAdd(cluster, inventory, req);
  return addClusterHost(cluster, req, 'kube_node', already, NODE_NEIGHBOUR_RUNS, run, say);
}

/**
 * The add itself, once checked: the host into `group` (unless `already`), the steps a node needs on it alone, then
 * `neighbourRuns` on every host. Stops at the first run that fails, saying what was done.
 */
export async function addClusterHost(
  cluster: Cluster,
  req: NodeAddRequest,
  group: string,
  already: boolean,
  neighbourRuns: readonly NeighbourRun[],
  run: ClusterRunOptions,
  say: (line: string) => void,
): Promise<NodeAddResult> {
  const done: string[] = [];
  const file = cluster.inventory;
  if (already) {
    done.push(`${req.name} is in ${group} in ${file} already: its steps run again`);
  } else {
    addToInventory(cluster, req, group);
    done.push(`added ${req.name}${req.address ? ` (ansible_host ${req.address})` : ''} to ${group} in ${file}`);
  }
  say(done[done.length - 1]!);

  say(`deploy ${NEW_NODE_STEPS} on ${req.name} alone`);
  const own = await deployCluster(cluster.dir, NEW_NODE_STEPS, { ...run, limit: req.name });
  done.push(`deploy ${NEW_NODE_STEPS} -l ${req.name}: exit ${own}`);
  if (own !== 0) return { code: own, done };
  return runNeighbours(cluster, neighbourRuns, run, say, done);
}

/** Each run on every host in turn, told to the user; stops at the first that fails. */
export async function runNeighbours(
  cluster: Cluster,
  runs: readonly NeighbourRun[],
  run: ClusterRunOptions,
  say: (line: string) => void,
  done: string[],
): Promise<NodeAddResult> {
  for (const r of runs) {
    const what = `deploy ${r.steps}${r.tags ? ` -t ${r.tags.join(',')}` : ''}`;
    say(`${what} on every host: ${r.why}`);
    const code = await deployCluster(cluster.dir, r.steps, { ...run, ...(r.tags ? { tags: [...r.tags] } : {}) });
    done.push(`${what}: exit ${code}`);
    if (code !== 0) return { code, done };
  }
  return { code: 0, done };
}

/** Puts the host into `group` in the cluster's inventory file (with its address, if given), keeping the rest. */
export function addToInventory(cluster: Cluster, req: NodeAddRequest, group: string): void {
  const file = cluster.inventory;
  const vars: Record<string, string> = req.address ? { ansible_host: req.address } : {};
  const entry = { name: req.name, vars, groups: [group] };
  writeInventory(file, addHost(readFileSync(file, 'utf8'), inventoryFormatOf(file), entry, file));
}

/**
 * Takes the host out of the cluster's inventory file (every group; with `groups`, those alone), keeping the rest as it
 * was.
 */
export function removeFromInventory(cluster: Cluster, name: string, groups?: readonly string[]): void {
  const file = cluster.inventory;
  writeInventory(file, removeHost(readFileSync(file, 'utf8'), inventoryFormatOf(file), name, file, groups));
}
