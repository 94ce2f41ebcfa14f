import { runAdhoc } from '../engine/adhoc.js';
import { hostVars, loadInventory, selectHosts } from '../engine/inventory/index.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  certificateStatus,
  checkCertificates,
  DEFAULT_RENEW_WITHIN_DAYS,
  etcdCertSpecs,
  kubeCertSpecs,
  renewLeaves,
  type CertCheck,
  type LeafResult,
  type Member,
} from '../pki/index.js';
import { sh } from '../engine/shell.js';
import type { Cluster } from './cluster.js';
import { kubeSettings } from './kubernetes.js';

/** A certificate and where it was found: 'controller' (pki/) or a host's name. */
export type LocatedCheck = CertCheck & { where: string };

const DEFAULT_HOST_CERT_DIRS = ['/etc/kubernetes/pki'];
/** The kubeconfigs step 04 writes (and step 05's kubelet and kube-proxy ones): their client certificates expire too. */
const DEFAULT_HOST_KUBECONFIGS = ['/etc/kubernetes/*.kubeconfig', '/root/.kube/config'];

export function renewWindow(cluster: Cluster): number {
  const days = cluster.config.cert_renew_within_days;
  return typeof days === 'number' ? days : DEFAULT_RENEW_WITHIN_DAYS;
}

/**
 * Every certificate block in the folders, each after a `==> path` line. Only the certificate
 * blocks leave the host: a key next to a certificate (or in the same file) is never read out.
 */
export function hostCertsScript(dirs: string[], kubeconfigs: string[] = []): string {
  const certs = sh`find ${dirs} -type f \\( -name '*.crt' -o -name '*.pem' \\) 2>/dev/null | sort | while read -r f; do
  if grep -q 'BEGIN CERTIFICATE' "$f"; then echo "==> $f"; sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$f"; fi
done`;
  if (kubeconfigs.length === 0) return certs;
  // Only the client certificate line of a kubeconfig is read out, never its client-key-data.
  return `${certs}
for f in ${kubeconfigs.map(globWord).join(' ')}; do
  [ -f "$f" ] || continue
  d=$(sed -n 's/^ *client-certificate-data: *//p' "$f" | head -n 1)
  if [ -n "$d" ]; then echo "==> $f"; printf '%s' "$d" | base64 -d; echo; fi
done`;
}

/** A path pattern for the shell: * stays a glob, everything else is quoted. */
function globWord(pattern: string): string {
  return pattern
    .split('*')
    .map((part) => (part ? sh`${part}` : ''))
    .join('*');
}

export function parseHostCerts(stdout: string): Array<{ path: string; pem: string }> {
  return stdout
    .split(/^==> /m)
    .filter(Boolean)
    .map((block) => {
      const nl = block.indexOf('\n');
      return { path: block.slice(0, nl).trim(), pem: block.slice(nl + 1) };
    });
}

/** The admin kubeconfigs on the controller: step 04's (the first master) and step 10's (the ex-lb VIP). */
const controllerKubeconfigs = (cluster: Cluster) => [
  path.join(cluster.dir, 'kubeconfig'),
  path.join(cluster.dir, 'kubeconfig-ex-lb'),
];

/** `furrow certs check`: pki/ on the controller, then every host's certificate folders. */
export async function checkClusterCerts(cluster: Cluster): Promise<LocatedCheck[]> {
  const opts = { renewWithinDays: renewWindow(cluster) };
  const local = (await checkCertificates(cluster.pkiDir, opts)).map((c) => ({ ...c, where: 'controller' }));
  const dirs = Array.isArray(cluster.config.furrow_cert_dirs)
    ? cluster.config.furrow_cert_dirs.map(String)
    : DEFAULT_HOST_CERT_DIRS;
  const kubeconfigs = Array.isArray(cluster.config.furrow_kubeconfigs)
    ? cluster.config.furrow_kubeconfigs.map(String)
    : DEFAULT_HOST_KUBECONFIGS;
  for (const adminKubeconfig of controllerKubeconfigs(cluster).filter((f) => existsSync(f))) {
    const data = /^\s*client-certificate-data:\s*(\S+)/m.exec(readFileSync(adminKubeconfig, 'utf8'))?.[1];
    if (data)
      local.push({
        ...certificateStatus(adminKubeconfig, adminKubeconfig, Buffer.from(data, 'base64').toString('utf8'), opts),
        where: 'controller',
      });
  }
  const results = await runAdhoc({
    inventory: cluster.inventory,
    pattern: 'all',
    command: hostCertsScript(dirs, kubeconfigs),
    become: true,
  });
  const remote: LocatedCheck[] = results.flatMap((r) => {
    if (r.status !== 'ok') {
      return [
        {
          name: '(host)',
          path: '',
          subject: '',
          issuer: '',
          isCa: false,
          notAfter: '',
          daysLeft: 0,
          status: 'unreadable' as const,
          problem: r.error ?? r.stderr.trim(),
          where: r.host,
        },
      ];
    }
    return parseHostCerts(r.stdout).map((c) => ({ ...certificateStatus(c.path, c.path, c.pem, opts), where: r.host }));
  });
  return [...local, ...remote];
}

/** The etcd members as the etcd role names them: the host and its address (etcd_address, else ansible_host). */
export async function etcdMembers(cluster: Cluster): Promise<Member[]> {
  const inv = await loadInventory(cluster.inventory);
  return selectHosts(inv, 'etcd').map((name) => {
    const vars = hostVars(inv, name);
    const address = [vars.etcd_address, vars.ansible_host].find((v) => typeof v === 'string' && !v.includes('{{'));
    return { name, ip: String(address ?? name) };
  });
}

/** The control plane's leaves (step 04), as the kube-master role issues them; apiserver-etcd-client is among etcd's. */
export const CONTROL_PLANE_LEAVES = [
  'apiserver',
  'apiserver-kubelet-client',
  'front-proxy-client',
  'admin',
  'controller-manager',
  'scheduler',
];

/** The nodes' leaves (step 05): kube-proxy's, and each kubelet's (kubelet-<node name>). */
const isNodeLeaf = (name: string) => name === 'kube-proxy' || name.startsWith('kubelet-');

/** `furrow certs renew`: re-issues leaves with the existing CAs (keys kept); the caller rolls them out. */
export async function renewClusterCerts(cluster: Cluster, only?: string[]): Promise<LeafResult[]> {
  const days = typeof cluster.config.etcd_cert_days === 'number' ? cluster.config.etcd_cert_days : undefined;
  const keyType = cluster.config.pki_key_type === 'ecdsa' ? 'ecdsa' : 'rsa';
  const inventory = await loadInventory(cluster.inventory);
  const control =
    inventory.groups.has('kube_master') && selectHosts(inventory, 'kube_master').length
      ? kubeCertSpecs(kubeSettings(cluster, inventory)).filter(
          (s) => CONTROL_PLANE_LEAVES.includes(s.name) || isNodeLeaf(s.name),
        )
      : [];
  const specs = [...etcdCertSpecs(await etcdMembers(cluster), days ? { days } : {}), ...control];
  return renewLeaves(cluster.pkiDir, specs, { keyType, ...(only?.length ? { only } : {}) });
}

/**
 * The deploy steps that roll renewed leaves out: etcd members' to step 02, the apiserver's and the
 * components' to step 04, the kubelets' and kube-proxy's to step 05 (each restarts only the
 * component whose files changed, one host at a time).
 */
export function rolloutSteps(renewed: LeafResult[]): string[] {
  const steps = new Set<string>();
  for (const r of renewed) {
    if (r.name === 'apiserver-etcd-client' || CONTROL_PLANE_LEAVES.includes(r.name)) steps.add('master');
    else if (r.name.startsWith('etcd/')) steps.add('etcd');
    else if (isNodeLeaf(r.name)) steps.add('node');
  }
  return ['etcd', 'master', 'node'].filter((s) => steps.has(s));
}

/** rolloutSteps, and step 10 when the admin certificate was renewed and step 10 wrote kubeconfig-ex-lb. */
export function clusterRolloutSteps(cluster: Cluster, renewed: LeafResult[]): string[] {
  const steps = rolloutSteps(renewed);
  const exLbKubeconfig = existsSync(path.join(cluster.dir, 'kubeconfig-ex-lb'));
  return exLbKubeconfig && renewed.some((r) => r.name === 'admin') ? [...steps, 'ex-lb'] : steps;
}
