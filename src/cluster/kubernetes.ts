/**
 * What the Kubernetes steps need from the cluster folder before any host is touched: the
 * versions (config.yml's `versions:`, over the preloaded bundle's, over Furrow's bundle
 * manifest), the apiserver certificate's SANs (from src/pki/presets.ts, the rule `furrow certs
 * renew` uses too), and the checks that stop a deploy on bad input, naming the file and setting.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { hostVars, selectHosts } from '../engine/inventory/index.js';
import type { Inventory } from '../engine/inventory/types.js';
import { cidrsOverlap } from '../engine/template/cidr.js';
import type { BundleIndex } from '../bundle/format.js';
import { packagePath } from '../package-root.js';
import { apiserverSpec, type KubeSettings, type Member } from '../pki/presets.js';
import type { Cluster } from './cluster.js';
import { exLbVip } from './ex-lb.js';
import { roleSetting, settingPlace, shippedYaml } from './settings.js';

const DEFAULT_MANIFEST = packagePath('bundle', 'manifest.yml');
/** The binaries step 04 installs from the cluster's bin/ (or the bundle's). */
export const CONTROL_PLANE_BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'];

/** A cluster-wide Kubernetes setting (SERVICE_CIDR, ...): config.yml, else the kube-master role's default. */
export function kubeSetting(cluster: Cluster, key: string): unknown {
  return roleSetting(cluster, 'kube-master', key);
}

/** The cluster's versions: config.yml's versions: over the preloaded bundle's over Furrow's manifest's. */
export function clusterVersions(cluster: Cluster, bundle?: BundleIndex): Record<string, string> {
  const manifest = shippedYaml(DEFAULT_MANIFEST).versions as Record<string, unknown> | undefined;
  const fromBundle = bundle ? bundleVersions(bundle) : {};
  const configured =
    cluster.config.versions && typeof cluster.config.versions === 'object'
      ? (cluster.config.versions as Record<string, unknown>)
      : {};
  return Object.fromEntries(
    Object.entries({ ...manifest, ...fromBundle, ...configured }).map(([k, v]) => [k, String(v)]),
  );
}

/** A bundle's Kubernetes version is that of its kube-apiserver (else its kubelet); undefined when it has neither. */
export function bundleKubernetesVersion(bundle: BundleIndex): string | undefined {
  const carrying = (file: string) => bundle.binaries.find((b) => b.files.some((f) => path.basename(f) === file));
  return (carrying('kube-apiserver') ?? carrying('kubelet'))?.version;
}

function bundleVersions(bundle: BundleIndex): Record<string, string> {
  const version = bundleKubernetesVersion(bundle);
  return version ? { kubernetes: version } : {};
}

/** The masters as the kube-master role names them: the host and its address (ansible_host, else its name). */
export function masterMembers(inventory: Inventory): Member[] {
  if (!inventory.groups.has('kube_master')) return [];
  return selectHosts(inventory, 'kube_master').map((name) => {
    const address = hostVars(inventory, name).ansible_host;
    return { name, ip: typeof address === 'string' && !address.includes('{{') ? address : name };
  });
}

/** A variable's value when the inventory gives it as plain text (not a template). */
const literal = (v: unknown) => (typeof v === 'string' && v !== '' && !v.includes('{{') ? v : undefined);

/**
 * A host's Node name in the API, as the roles' K8S_NODENAME default has it (kube-node, network
 * and prepare: keep them alike): k8s_nodename in lower case with '_' as '-', else the inventory name.
 */
export function nodeNameOf(inventory: Inventory, host: string): string {
  return literal(hostVars(inventory, host).k8s_nodename)?.toLowerCase().replaceAll('_', '-') ?? host;
}

/**
 * Every kubelet's node (kube_master and kube_node hosts) by its Node name, with its address
 * (ansible_host, else the name), so the certificates `certs renew` issues are the ones step 05 keeps.
 */
export function nodeMembers(inventory: Inventory): Member[] {
  return kubeletHosts(inventory).map((host) => {
    const name = nodeNameOf(inventory, host);
    return { name, ip: literal(hostVars(inventory, host).ansible_host) ?? name };
  });
}

/** The hosts that run a kubelet: the masters, then the nodes, each once, in inventory order. */
export function kubeletHosts(inventory: Inventory): string[] {
  const group = (name: string) => (inventory.groups.has(name) ? selectHosts(inventory, name) : []);
  return [...new Set([...group('kube_master'), ...group('kube_node')])];
}

/** Which of these binaries the bundle lacks at this version. */
export function bundleLacks(bundle: BundleIndex, version: string, names: readonly string[]): string[] {
  return names.filter(
    (name) => !bundle.binaries.some((b) => b.version === version && b.files.some((f) => path.basename(f) === name)),
  );
}

/** The settings the apiserver's certificate is made from, as the role and `furrow certs` both read them. */
export function kubeSettings(cluster: Cluster, inventory: Inventory): KubeSettings {
  const extra = kubeSetting(cluster, 'MASTER_CERT_HOSTS');
  const vip = exLbVip(cluster, inventory);
  const days = kubeSetting(cluster, 'kube_cert_days');
  return {
    masters: masterMembers(inventory),
    nodes: nodeMembers(inventory),
    serviceCidr: String(kubeSetting(cluster, 'SERVICE_CIDR')),
    clusterDnsDomain: String(kubeSetting(cluster, 'CLUSTER_DNS_DOMAIN')),
    extraSans: [...(Array.isArray(extra) ? extra.map(String) : []), ...(vip ? [vip] : [])],
    ...(typeof days === 'number' ? { days } : {}),
  };
}

/** The variables the Kubernetes roles need from the controller's side. */
export function kubernetesVars(cluster: Cluster, inventory: Inventory, bundle?: BundleIndex): Record<string, unknown> {
  const vars: Record<string, unknown> = { versions: clusterVersions(cluster, bundle) };
  if (inventory.groups.has('kube_master') && selectHosts(inventory, 'kube_master').length > 0)
    vars.kube_apiserver_cert_sans = apiserverSpec(kubeSettings(cluster, inventory)).sans;
  return vars;
}

/**
 * Bad input for the control plane, found before any host is touched: an empty kube_master
 * group, SERVICE_CIDR overlapping CLUSTER_CIDR, a Kubernetes version the bundle (or bin/) has no
 * binaries for.
 */
export function checkKubernetesInput(cluster: Cluster, inventory: Inventory, bundle?: BundleIndex): void {
  if (!inventory.groups.has('kube_master') || selectHosts(inventory, 'kube_master').length === 0) {
    throw new InputError(
      { file: cluster.inventory },
      'group kube_master has no hosts: the control plane needs at least one master',
      'list one or more hosts under [kube_master]',
    );
  }
  const config = path.join(cluster.dir, 'config.yml');
  const [service, pods] = [String(kubeSetting(cluster, 'SERVICE_CIDR')), String(kubeSetting(cluster, 'CLUSTER_CIDR'))];
  let overlap: boolean;
  try {
    overlap = cidrsOverlap(service, pods);
  } catch (err) {
    throw new InputError(
      settingPlace(config, 'SERVICE_CIDR'),
      `SERVICE_CIDR ${service} or CLUSTER_CIDR ${pods}: ${(err as Error).message}`,
      'give CIDRs such as 10.68.0.0/16',
    );
  }
  if (overlap) {
    throw new InputError(
      settingPlace(config, 'SERVICE_CIDR'),
      `SERVICE_CIDR ${service} overlaps CLUSTER_CIDR ${pods}: service and pod addresses must be apart`,
      'pick two networks that share no address (kubeasz: SERVICE_CIDR 10.68.0.0/16, CLUSTER_CIDR 172.20.0.0/16)',
    );
  }
  for (const master of masterMembers(inventory)) {
    const problem = masterFamilyProblem(master.name, master.ip, service);
    if (problem)
      throw new InputError({ file: cluster.inventory }, problem, 'give the master an address of that family');
  }
  const version = clusterVersions(cluster, bundle).kubernetes;
  if (bundle) {
    const have = bundle.binaries.filter((b) => b.files.some((f) => CONTROL_PLANE_BINARIES.includes(path.basename(f))));
    const missing = bundleLacks(bundle, version, CONTROL_PLANE_BINARIES);
    if (missing.length) {
      const offered = [...new Set(have.map((b) => b.version))].join(', ') || 'none';
      throw new InputError(
        settingPlace(config, 'versions', 'kubernetes'),
        `Kubernetes ${version}: the preloaded bundle has no ${missing.join(', ')} of that version (it has ` +
          `Kubernetes ${offered})`,
        `set versions: {kubernetes: ${offered.split(', ')[0]}} or preload a bundle built for ${version}`,
      );
    }
    return;
  }
  const missing = CONTROL_PLANE_BINARIES.filter((name) => !existsSync(path.join(cluster.binDir, name)));
  if (missing.length) {
    throw new InputError(
      { file: cluster.binDir },
      `Kubernetes ${version}: bin/ has no ${missing.join(', ')}`,
      `preload a bundle (furrow bundle preload) or put the ${version} binaries in ${cluster.binDir}`,
    );
  }
}

/**
 * Why a master cannot have this address, or undefined: the `kubernetes` Service is single-stack, of
 * SERVICE_CIDR's family, and its endpoints are the masters' addresses (the apiserver advertises its
 * own), so an address of the other family breaks it for every pod. A name cannot be told.
 */
export function masterFamilyProblem(master: string, address: string, serviceCidr: string): string | undefined {
  const family = isIP(address);
  const serviceFamily = serviceCidr.includes(':') ? 6 : 4;
  if (family === 0 || family === serviceFamily) return undefined;
  return (
    `master ${master}: its address ${address} is IPv${family} and SERVICE_CIDR ${serviceCidr} is ` +
    `IPv${serviceFamily}; the kubernetes Service's endpoints are the masters' addresses and must be of its family`
  );
}
