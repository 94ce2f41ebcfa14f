/**
 * `furrow cluster upgrade BUNDLE`: the cluster moved to the Kubernetes version a newer bundle carries, in kubeadm's
 * order: each master's control plane in turn (its apiserver ready at the new version before the next master goes),
 * then each kubelet host in turn (drained, its kubelet and kube-proxy replaced and restarted, Ready at the new
 * version, uncordoned). Everything that would refuse it is checked before anything is touched.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { readBundleIndex } from '../bundle/archive.js';
import type { BundleIndex } from '../bundle/format.js';
import { InputError } from '../engine/errors.js';
import { selectHosts, type Inventory } from '../engine/inventory/index.js';
import { type Cluster, loadClusterWithHosts } from './cluster.js';
import { deployCluster } from './deploy.js';
import { drainNode } from './drain.js';
import { type ApiAccess, apiGet, apiMessage, apiRequest, readKubeconfig } from './kube-api.js';
import {
  bundleKubernetesVersion,
  bundleLacks,
  checkKubernetesInput,
  kubeletHosts,
  kubeSetting,
  masterMembers,
  nodeNameOf,
} from './kubernetes.js';
import { stepper } from './node-remove.js';
import { preloadCluster } from './preload.js';
import type { ClusterRunOptions } from './run.js';
import { settingPlace } from './settings.js';
import { isReady, type KubeNode } from './status.js';

export interface KubeVersion {
  major: number;
  minor: number;
  patch: number;
}

/** `v1.20.2`, `1.20.2`, `v1.21.0-rc.1`: the release's numbers (a pre-release counts as its release). */
export function parseKubeVersion(text: string): KubeVersion | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

/** The first few of a list, and how many more. */
const listed = (items: string[], max = 3) =>
  items.slice(0, max).join(', ') + (items.length > max ? ` (and ${items.length - max} more)` : '');
const compareVersions = (a: KubeVersion, b: KubeVersion) => a.major - b.major || a.minor - b.minor || a.patch - b.patch;
export const versionText = (v: KubeVersion) => `v${v.major}.${v.minor}.${v.patch}`;

/** A component the cluster runs and the version it reports: "the apiserver on h1", "the kubelet of h3". */
export interface RunningComponent {
  what: string;
  version: string;
}

/**
 * Why the cluster cannot go to `target`, with what to do instead; undefined when it can. Kubernetes supports one
 * minor version at a time and no downgrade: every component must be at most one minor version behind the target,
 * none newer, and all on its major version.
 */
export function upgradeProblem(
  running: RunningComponent[],
  target: string,
): { problem: string; fix: string } | undefined {
  const to = parseKubeVersion(target);
  if (!to)
    return { problem: `'${target}' is not a Kubernetes version`, fix: 'give a bundle built for vMAJOR.MINOR.PATCH' };
  const parsed = running.map((r) => ({ ...r, v: parseKubeVersion(r.version) }));
  const unreadable = parsed.find((r) => !r.v);
  if (unreadable)
    return {
      problem: `${unreadable.what} reports '${unreadable.version}', which is not a Kubernetes version`,
      fix: 'see what runs there (furrow cluster status) before upgrading',
    };
  const known = parsed as Array<RunningComponent & { v: KubeVersion }>;
  const otherMajor = known.find((r) => r.v.major !== to.major);
  if (otherMajor)
    return {
      problem: `${otherMajor.what} runs ${otherMajor.version}: going to ${versionText(to)} changes the major version`,
      fix: 'a major version change is not an upgrade Furrow makes',
    };
  const newer = known.filter((r) => compareVersions(r.v, to) > 0);
  if (newer.length)
    return {
      problem: `${listed(newer.map((r) => `${r.what} runs ${r.version}`))}: newer than ${versionText(to)}`,
      fix: 'Kubernetes does not support a downgrade; restore an etcd backup into a cluster deployed at the old version',
    };
  const oldest = known.reduce<(typeof known)[number] | undefined>(
    (a, r) => (a && compareVersions(a.v, r.v) <= 0 ? a : r),
    undefined,
  );
  if (oldest && to.minor > oldest.v.minor + 1) {
    const next = `v${to.major}.${oldest.v.minor + 1}`;
    return {
      problem: `${oldest.what} runs ${oldest.version}: going to ${versionText(to)} skips ${next}`,
      fix: `Kubernetes moves one minor version at a time: upgrade with a ${next} bundle first`,
    };
  }
  return undefined;
}

/** Who goes when: the masters' control planes in inventory order, then every kubelet host, masters first. */
export function upgradeOrder(inventory: Inventory): { masters: string[]; kubelets: string[] } {
  const masters = inventory.groups.has('kube_master') ? selectHosts(inventory, 'kube_master') : [];
  return { masters, kubelets: kubeletHosts(inventory) };
}

/** What an upgrade would do, found before anything is touched. */
export interface UpgradePlan {
  cluster: Cluster;
  inventory: Inventory;
  bundleFile: string;
  /** As the components report it: v1.20.3. */
  target: string;
  running: RunningComponent[];
  masters: Array<{ host: string; address: string }>;
  kubelets: Array<{ host: string; node: string }>;
}

/** Set on a node the upgrade cordoned, so a run that stopped halfway still knows to uncordon it when run again. */
export const CORDONED_BY_UPGRADE = 'furrow.dev/cordoned-by-upgrade';
/** The Kubernetes binaries every upgrade replaces, by the group whose hosts run them. */
const UPGRADED_BINARIES = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kubelet',
  'kube-proxy',
];

const bracketed = (address: string) => (address.includes(':') ? `[${address}]` : address);
/** The admin identity, aimed at one master's own apiserver instead of the kubeconfig's server. */
const atMaster = (access: ApiAccess, address: string, port: unknown): ApiAccess => ({
  ...access,
  server: `https://${bracketed(address)}:${String(port)}`,
});

async function apiserverVersion(access: ApiAccess): Promise<{ version?: string; problem?: string }> {
  try {
    const [readyz, version] = await Promise.all([apiGet(access, '/readyz'), apiGet(access, '/version')]);
    if (readyz.status !== 200 || readyz.body.trim() !== 'ok') return { problem: `/readyz: ${apiMessage(readyz)}` };
    if (version.status !== 200) return { problem: `/version: ${apiMessage(version)}` };
    return { version: (JSON.parse(version.body) as { gitVersion: string }).gitVersion };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

async function getNode(access: ApiAccess, node: string): Promise<KubeNode | undefined> {
  const r = await apiGet(access, `/api/v1/nodes/${encodeURIComponent(node)}`);
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`reading the Node ${node}: ${apiMessage(r)}`);
  return JSON.parse(r.body) as KubeNode;
}

/** Refuses what cannot be upgraded from or to; the bundle is read, nothing is written and no host is touched. */
export async function planUpgrade(clusterDir: string, bundleFile: string): Promise<UpgradePlan> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  const kubeconfig = path.join(cluster.dir, 'kubeconfig');
  if (!existsSync(kubeconfig))
    throw new InputError(
      { file: kubeconfig },
      'no admin kubeconfig: there is no cluster to upgrade yet',
      'run `furrow deploy all` first',
    );
  const index = await readBundleIndex(bundleFile);
  const version = bundleKubernetesVersion(index);
  if (!version)
    throw new InputError(
      { file: bundleFile },
      'the bundle carries no Kubernetes (no kube-apiserver, no kubelet)',
      'build a bundle whose manifest lists the Kubernetes binaries of the version to go to',
    );
  checkBundleCarries(bundleFile, index, version);
  const pinned = (cluster.config.versions as Record<string, unknown> | undefined)?.kubernetes;
  if (pinned !== undefined && String(pinned) !== version) {
    const config = path.join(cluster.dir, 'config.yml');
    throw new InputError(
      settingPlace(config, 'versions', 'kubernetes'),
      `config.yml pins Kubernetes ${String(pinned)}, and the bundle carries ${version}`,
      `set versions: {kubernetes: ${version}} (or take the setting out), then run the upgrade again`,
    );
  }
  checkKubernetesInput(cluster, inventory, index);
  const parsed = parseKubeVersion(version);
  if (!parsed)
    throw new InputError({ file: bundleFile }, `its Kubernetes version '${version}' is not vMAJOR.MINOR.PATCH`);
  const target = versionText(parsed);

  const access = readKubeconfig(kubeconfig);
  const port = kubeSetting(cluster, 'SECURE_PORT');
  const order = upgradeOrder(inventory);
  const addresses = new Map(masterMembers(inventory).map((m) => [m.name, m.ip]));
  const running: RunningComponent[] = [];
  const unhealthy: string[] = [];
  for (const host of order.masters) {
    const answer = await apiserverVersion(atMaster(access, addresses.get(host) ?? host, port));
    if (answer.version) running.push({ what: `the apiserver on ${host}`, version: answer.version });
    else unhealthy.push(`the apiserver on ${host} (${answer.problem})`);
  }
  const kubelets = order.kubelets.map((host) => ({ host, node: nodeNameOf(inventory, host) }));
  for (const { host, node } of kubelets) {
    let found: KubeNode | undefined;
    try {
      found = await getNode(access, node);
    } catch (err) {
      unhealthy.push(`the Node ${node} (${(err as Error).message})`);
      continue;
    }
    if (!found) unhealthy.push(`${host} (no Node ${node} in the API)`);
    else if (!isReady(found)) unhealthy.push(`the Node ${node} (not Ready)`);
    else running.push({ what: `the kubelet of ${host}`, version: found.status.nodeInfo?.kubeletVersion ?? '' });
  }
  if (unhealthy.length)
    throw new InputError(
      { file: cluster.inventory },
      `an upgrade starts from a healthy cluster, and ${unhealthy.join(', ')} ` +
        `${unhealthy.length === 1 ? 'is' : 'are'} not`,
      'bring it back (furrow cluster status shows the cluster), or take a dead node out (furrow node remove)',
    );
  const problem = upgradeProblem(running, target);
  if (problem) throw new InputError({ file: bundleFile }, problem.problem, problem.fix);
  return {
    cluster,
    inventory,
    bundleFile,
    target,
    running,
    masters: order.masters.map((host) => ({ host, address: addresses.get(host) ?? host })),
    kubelets,
  };
}

function checkBundleCarries(bundleFile: string, index: BundleIndex, version: string): void {
  const missing = bundleLacks(index, version, UPGRADED_BINARIES);
  if (missing.length)
    throw new InputError(
      { file: bundleFile },
      `the bundle carries Kubernetes ${version} without ${missing.join(', ')}`,
      'build it from a manifest that lists every Kubernetes binary of that version',
    );
}

/** The plan in words, for the question and for --check. */
export function describeUpgrade(plan: UpgradePlan): string[] {
  const behind = plan.running.filter((r) => r.version !== plan.target);
  return [
    `to ${plan.target}, from ${path.basename(plan.bundleFile)}; running now: ` +
      `${[...new Set(plan.running.map((r) => r.version))].sort().join(', ')}`,
    behind.length
      ? `not at ${plan.target} yet: ${behind.map((r) => r.what).join(', ')}`
      : `everything runs ${plan.target}`,
    `1. the bundle into ${path.join(plan.cluster.dir, 'bundle')} and onto the hosts (images, packages; a binary a ` +
      'service runs stays until its step)',
    `2. the control plane, one master at a time, each apiserver ready at ${plan.target} before the next: ` +
      plan.masters.map((m) => m.host).join(', '),
    `3. the kubelets, one host at a time (drained, new kubelet and kube-proxy, Ready at ${plan.target}, ` +
      `uncordoned): ${plan.kubelets.map((k) => k.host).join(', ')}`,
  ];
}

export interface UpgradeOptions {
  run: ClusterRunOptions;
  say: (line: string) => void;
  force?: boolean;
  drainTimeoutMs?: number;
  /** How long a restarted kubelet has to be Ready at the new version (default 300 s). */
  readyTimeoutMs?: number;
}

/**
 * Carries out a plan. Stops at the first step that fails, with what was done; the same command again goes on from
 * there (the bundle is not unpacked twice, a master already upgraded changes nothing, a kubelet already at the target
 * is not drained).
 */
export async function applyUpgrade(plan: UpgradePlan, o: UpgradeOptions): Promise<{ code: number; done: string[] }> {
  const { cluster, target } = plan;
  const done: string[] = [];
  const step = stepper(done, o.say);
  const failed = (code: number, what: string) => {
    done.push(`${what}: exit ${code}`);
    return { code, done };
  };
  const preloaded = await preloadCluster(plan.bundleFile, cluster.dir, o.run, o.say);
  if (preloaded !== 0) return failed(preloaded, 'preloading the bundle');
  step(`the bundle of Kubernetes ${target} is in ${path.join(cluster.dir, 'bundle')} and on the hosts`);

  const access = readKubeconfig(path.join(cluster.dir, 'kubeconfig'));
  const port = kubeSetting(cluster, 'SECURE_PORT');
  for (const master of plan.masters) {
    const code = await deployCluster(cluster.dir, 'master', { ...o.run, limit: master.host });
    if (code !== 0) return failed(code, `deploy master on ${master.host}`);
    const answer = await apiserverVersion(atMaster(access, master.address, port));
    if (answer.version !== target) {
      o.say(`the apiserver on ${master.host}: ${answer.problem ?? `reports ${answer.version}`}, not ${target}`);
      return failed(1, `the apiserver on ${master.host} at ${target}`);
    }
    step(`master ${master.host}: control plane at ${target}, its apiserver ready`);
  }

  for (const { host, node } of plan.kubelets) {
    try {
      const code = await upgradeKubelet(cluster.dir, access, { host, node }, target, o);
      if (code !== 0) return failed(code, `deploy node on ${host}`);
    } catch (err) {
      o.say(`${host}: ${(err as Error).message}`);
      return failed(1, `the kubelet of ${host}`);
    }
    step(`${host}: kubelet and kube-proxy at ${target}, the Node ${node} Ready`);
  }
  return { code: 0, done };
}

async function upgradeKubelet(
  clusterDir: string,
  access: ApiAccess,
  { host, node }: { host: string; node: string },
  target: string,
  o: UpgradeOptions,
): Promise<number> {
  const before = await getNode(access, node);
  if (!before) throw new Error(`the Node ${node} is gone from the API`);
  const deployNode = () => deployCluster(clusterDir, 'node', { ...o.run, limit: host });
  // Already at the target (an earlier run got this far): the step runs anyway, which changes nothing unless it
  // stopped between the kubelet and kube-proxy.
  if (before.status.nodeInfo?.kubeletVersion === target && !before.metadata.annotations?.[CORDONED_BY_UPGRADE]) {
    return deployNode();
  }
  // Cordoned by the operator (or by step 05: a master outside kube_node) stays cordoned afterwards.
  const ours = !before.spec?.unschedulable || before.metadata.annotations?.[CORDONED_BY_UPGRADE] !== undefined;
  if (ours) await patchNode(access, node, { metadata: { annotations: { [CORDONED_BY_UPGRADE]: 'true' } } });
  const evicted = await drainNode(access, node, {
    say: (line) => o.say(`${host}: ${line}`),
    ...(o.force ? { force: true } : {}),
    ...(o.drainTimeoutMs ? { timeoutMs: o.drainTimeoutMs } : {}),
  });
  o.say(`${host}: drained, ${evicted.length} pod(s) evicted`);
  const code = await deployNode();
  if (code !== 0) return code;
  const deadline = Date.now() + (o.readyTimeoutMs ?? 300_000);
  for (;;) {
    const now = await getNode(access, node);
    if (now && isReady(now) && now.status.nodeInfo?.kubeletVersion === target) break;
    if (Date.now() > deadline)
      throw new Error(
        `the Node ${node} is not Ready at ${target} ${(o.readyTimeoutMs ?? 300_000) / 1000} s after its kubelet ` +
          `restarted (it reports ${now?.status.nodeInfo?.kubeletVersion ?? 'nothing'}, ` +
          `${now && isReady(now) ? 'Ready' : 'not Ready'}); it stays cordoned`,
      );
    await sleep(2_000);
  }
  if (ours) {
    await patchNode(access, node, {
      spec: { unschedulable: false },
      metadata: { annotations: { [CORDONED_BY_UPGRADE]: null } },
    });
    o.say(`${host}: uncordoned`);
  }
  return 0;
}

async function patchNode(access: ApiAccess, node: string, body: unknown): Promise<void> {
  const r = await apiRequest(access, `/api/v1/nodes/${encodeURIComponent(node)}`, { method: 'PATCH', body });
  if (r.status !== 200) throw new Error(`changing the Node ${node}: ${apiMessage(r)}`);
}
