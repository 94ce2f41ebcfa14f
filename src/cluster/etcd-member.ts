import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { EXIT, InputError } from '../engine/errors.js';
import { hostVars, selectHosts, type Inventory } from '../engine/inventory/index.js';
import { cleanHosts } from './clean.js';
import { type Cluster, clusterVars, loadClusterWithHosts } from './cluster.js';
import { deployCluster } from './deploy.js';
import { etcdHosts } from './etcd-backup.js';
import { addToInventory, checkHostAdd, inGroup, type NodeAddRequest, removeFromInventory } from './node-add.js';
import { stepper } from './node-remove.js';
import { PACKAGE_PLAYBOOKS, runOnCluster, type ClusterRunOptions } from './run.js';
import { askEtcd } from './status.js';

/** The playbooks of `furrow etcd remove`: the member taken out (on a healthy one), and etcd alone taken off a host. */
export const MEMBER_REMOVE_PLAYBOOK = path.join(PACKAGE_PLAYBOOKS, 'etcd-member-remove.yml');
export const MEMBER_CLEAN_PLAYBOOK = path.join(PACKAGE_PLAYBOOKS, 'etcd-member-clean.yml');

/** How many members of a cluster of `size` must be up for it to work (etcd's quorum). */
export const quorumOf = (size: number) => Math.floor(size / 2) + 1;

/** A member as the health check found it. */
export interface MemberHealth {
  host: string;
  healthy: boolean;
  problem?: string;
}

const unhealthy = (members: MemberHealth[]) =>
  members
    .filter((m) => !m.healthy)
    .map((m) => `${m.host} (${m.problem ?? 'not healthy'})`)
    .join(', ');
const countOf = (n: number) => `${n} member${n === 1 ? '' : 's'}`;

/**
 * Why removing `leaving` would break etcd, or undefined when it may go: the members left must have a quorum of their
 * own among the healthy ones (etcd's own rule, `--strict-reconfig-check`), and one must be left.
 */
export function removeProblem(members: MemberHealth[], leaving: string): string | undefined {
  const left = members.filter((m) => m.host !== leaving);
  if (!left.length) return `${leaving} is etcd's last member: removing it would end the cluster's data`;
  const healthy = left.filter((m) => m.healthy);
  const need = quorumOf(left.length);
  if (healthy.length >= need) return undefined;
  return (
    `removing ${leaving} would break etcd's quorum: the ${countOf(left.length)} left need ${need} healthy, and ` +
    `${healthy.length} ${healthy.length === 1 ? 'is' : 'are'} (not healthy: ${unhealthy(left)})`
  );
}

/**
 * Why adding a member now is refused, or undefined: every member must be healthy. etcd's own runbook replaces a failed
 * member by removing it first; a member added beside a failed one leaves the cluster one failure from losing quorum
 * while the new one catches up.
 */
export function addProblem(all: MemberHealth[]): string | undefined {
  if (!all.length) return 'the cluster has no etcd member to join';
  if (all.every((m) => m.healthy)) return undefined;
  return `every etcd member must be healthy to add one, and these are not: ${unhealthy(all)}`;
}

/** The host's address as the etcd role names it in URLs: ansible_host, else the inventory name. */
const addressOf = (inventory: Inventory, host: string) => String(hostVars(inventory, host).ansible_host ?? host);

/**
 * The steps that roll the member lists after a member came or went: step 02 on every member, then step 04 when the
 * cluster has apiservers to tell (masters, and step 04 deployed: its admin kubeconfig exists).
 */
export function memberListRolls(cluster: Cluster, inventory: Inventory): Array<{ step: string; what: string }> {
  const masters = inventory.groups.has('kube_master') ? selectHosts(inventory, 'kube_master') : [];
  const apiservers = masters.length > 0 && existsSync(path.join(cluster.dir, 'kubeconfig'));
  return [
    { step: 'etcd', what: "every member's list of members" },
    ...(apiservers ? [{ step: 'master', what: "every apiserver's --etcd-servers" }] : []),
  ];
}

export interface MemberChangeResult {
  code: number;
  /** What was done, in order, for the user. */
  done: string[];
}

/**
 * After a member came or went, every member's unit names the new member list (etcd's restart handler rolls them one
 * at a time, each waiting for the cluster to be healthy), then every apiserver's --etcd-servers (one master at a
 * time, each answering /readyz before the next).
 */
async function rollMemberLists(
  cluster: Cluster,
  inventory: Inventory,
  run: ClusterRunOptions,
  step: (line: string) => void,
  done: string[],
): Promise<number> {
  for (const r of memberListRolls(cluster, inventory)) {
    const code = await deployCluster(cluster.dir, r.step, run);
    if (code !== 0) {
      done.push(`deploy ${r.step} (${r.what}): exit ${code}`);
      return code;
    }
    step(`deploy ${r.step}: ${r.what}, one host at a time`);
  }
  return 0;
}

const mixedFix = 'address every member in one family (ansible_host), or name them by DNS names that resolve to both';

/**
 * Why a member at `address` cannot join members addressed in the other IP family, or undefined. etcd checks a peer's
 * source address against the peer's certificate, and a member dials an IPv6 peer from its own IPv6 address, which its
 * certificate (made for the address it is known by) does not name: the new member would refuse every peer (seen in
 * the lab: "tls: ... does not match any of DNSNames"). Names cannot be told apart; they pass.
 */
export function familyProblem(
  host: string,
  address: string,
  members: Array<{ host: string; address: string }>,
): string | undefined {
  const family = isIP(address);
  const other = members.find((m) => family !== 0 && isIP(m.address) !== 0 && isIP(m.address) !== family);
  if (!other) return undefined;
  return (
    `${host}: its address ${address} is IPv${family} and member ${other.host} is at ${other.address}; members of ` +
    `both families would refuse each other (each dials from an address its certificate does not name)`
  );
}

/** The request checked, and the members' health asked (read only): any refusal is exit 2 with nothing changed. */
export async function checkEtcdAdd(
  clusterDir: string,
  req: NodeAddRequest,
  run: ClusterRunOptions,
): Promise<{ cluster: Cluster; inventory: Inventory; already: boolean }> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  const { already, address } = checkHostAdd(cluster, inventory, req, 'etcd');
  const others = etcdHosts(cluster, inventory).filter((h) => h !== req.name);
  const mixed = familyProblem(
    req.name,
    address,
    others.map((h) => ({ host: h, address: addressOf(inventory, h) })),
  );
  if (mixed) throw new InputError({ file: cluster.inventory }, `${mixed}; nothing was changed`, mixedFix);
  const health = (await askEtcd(cluster, others, run)).filter((m) => others.includes(m.host));
  const problem = addProblem(health);
  if (problem)
    throw new InputError(
      { file: cluster.inventory },
      `${problem}; nothing was changed`,
      others.length
        ? 'bring it back, or take it out first (furrow etcd remove <host>), then add'
        : 'deploy etcd first (furrow deploy etcd)',
    );
  return { cluster, inventory, already };
}

/**
 * `furrow etcd add`: the host goes into group etcd in the inventory (comments and order kept); prepare and etcd run on
 * it alone with etcd_initial_cluster_state=existing, so it joins through the other members as a learner and is
 * promoted once it has caught up (roles/etcd); then the other members' and the apiservers' lists of members roll, one
 * host at a time. A host in group etcd already (an add that stopped halfway) runs its steps again, which completes it.
 */
export async function addEtcdMember(
  clusterDir: string,
  req: NodeAddRequest,
  run: ClusterRunOptions,
  say: (line: string) => void,
): Promise<MemberChangeResult> {
  const { cluster, inventory, already } = await checkEtcdAdd(clusterDir, req, run);
  const done: string[] = [];
  const step = stepper(done, say);
  if (already) step(`${req.name} is in group etcd in ${cluster.inventory} already: its steps run again`);
  else {
    addToInventory(cluster, req, 'etcd');
    step(`added ${req.name}${req.address ? ` (ansible_host ${req.address})` : ''} to etcd in ${cluster.inventory}`);
  }
  const own = await deployCluster(cluster.dir, 'prepare,etcd', {
    ...run,
    limit: req.name,
    extraVars: { ...run.extraVars, etcd_initial_cluster_state: 'existing' },
  });
  if (own !== 0) {
    done.push(`deploy prepare,etcd -l ${req.name} (join as a learner, promote): exit ${own}`);
    return { code: own, done };
  }
  step(`deploy prepare,etcd on ${req.name}: joined as a learner, promoted to a voting member, healthy`);
  const code = await rollMemberLists(cluster, inventory, run, step, done);
  return { code, done };
}

/** A removal checked and the members' health asked (read only); `via` is the healthy member that carries it out. */
export interface PreparedRemove {
  cluster: Cluster;
  inventory: Inventory;
  host: string;
  via: string;
  /** The host stays in the cluster for its other groups (a master, a node): only etcd is taken off it. */
  staysInCluster: boolean;
}

/**
 * Refuses, with the reason and before anything changes, a host that is not a member, the last member, or a removal
 * that breaks quorum.
 */
export async function prepareEtcdRemove(
  clusterDir: string,
  host: string,
  run: ClusterRunOptions,
): Promise<PreparedRemove> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  const members = etcdHosts(cluster, inventory);
  if (!members.includes(host))
    throw new InputError(
      { file: cluster.inventory },
      `${host} is not in group etcd`,
      `the members are: ${members.join(', ')}`,
    );
  const health = await askEtcd(cluster, members, run);
  const problem = removeProblem(health, host);
  if (problem)
    throw new InputError({ file: cluster.inventory }, `${problem}; nothing was changed`, removeAdvice(problem));
  const via = health.find((m) => m.healthy && m.host !== host)!.host;
  const staysInCluster = [...inventory.groups.keys()].some(
    (g) => g !== 'etcd' && g !== 'all' && g !== 'ungrouped' && inGroup(inventory, g, host),
  );
  return { cluster, inventory, host, via, staysInCluster };
}

const removeAdvice = (problem: string) =>
  problem.includes('last member')
    ? 'add another member first (furrow etcd add <host>), or take the whole cluster down (furrow cluster destroy)'
    : 'bring the members that are not healthy back first, or remove those instead';

/**
 * `furrow etcd remove`: the member taken out of etcd through a healthy one; etcd stopped and taken away on the host
 * (the whole host cleaned when it was only a member); the host out of group etcd (out of the inventory when it was
 * only a member); then the other members' and the apiservers' lists roll, one host at a time. A host that cannot be
 * reached is out of etcd all the same (the cluster no longer lets it in): its files stay there, and the result says
 * so.
 */
export async function removeEtcdMember(
  prepared: PreparedRemove,
  run: ClusterRunOptions,
  say: (line: string) => void,
): Promise<MemberChangeResult> {
  const { cluster, inventory, host, via, staysInCluster } = prepared;
  const done: string[] = [];
  const step = stepper(done, say);
  const removed = await runOnCluster(
    cluster,
    [MEMBER_REMOVE_PLAYBOOK],
    {
      ...run,
      limit: via,
      extraVars: {
        ...run.extraVars,
        etcd_leaving_name: `etcd-${host}`,
        etcd_leaving_address: addressOf(inventory, host),
      },
    },
    clusterVars(cluster),
  );
  if (removed !== 0) {
    done.push(`member remove through ${via}: exit ${removed}`);
    return { code: removed, done };
  }
  step(`took etcd-${host} out of etcd's members, through ${via}`);

  const cleaned = staysInCluster
    ? await runOnCluster(cluster, [MEMBER_CLEAN_PLAYBOOK], { ...run, limit: host }, clusterVars(cluster))
    : await cleanHosts(cluster, run, host);
  const what = staysInCluster ? `etcd on ${host} (it stays in its other groups)` : host;
  if (cleaned === EXIT.unreachable) step(`could not reach ${host}: ${what} is not cleaned (out of etcd all the same)`);
  else if (cleaned !== 0) {
    done.push(`cleaning ${what}: exit ${cleaned}`);
    return { code: cleaned, done };
  } else step(`stopped and cleaned ${what}`);

  removeFromInventory(cluster, host, staysInCluster ? ['etcd'] : undefined);
  step(`took ${host} out of ${staysInCluster ? 'group etcd in ' : ''}${cluster.inventory}`);
  const { inventory: now } = await loadClusterWithHosts(cluster.dir);
  const code = await rollMemberLists(cluster, now, run, step, done);
  return { code, done };
}
