/**
 * The certificates a cluster needs, as specs built from the inventory's hosts and the cluster
 * settings: one server and one peer certificate per etcd member, the etcd clients, and the
 * Kubernetes control plane and node certificates with kubeadm's names, subjects and usages.
 */
import { isIP } from 'node:net';
import { InputError } from '../engine/errors.js';
import { cidrHost } from '../engine/template/cidr.js';
import { CA, type LeafSpec } from './spec.js';

export interface Member {
  /** Inventory name (and host name) of the host. */
  name: string;
  ip: string;
}

/** etcd member certificates are named after the member: etcd/server-<name>, etcd/peer-<name>. */
export function etcdServerSpec(member: Member, days?: number): LeafSpec {
  return withDays(
    {
      name: `etcd/server-${member.name}`,
      ca: CA.etcd,
      commonName: member.name,
      sans: hostSans(member),
      // Both usages, as kubeadm: etcd also dials itself with its server certificate (grpc-gateway).
      usages: ['server', 'client'],
    },
    days,
  );
}

export function etcdPeerSpec(member: Member, days?: number): LeafSpec {
  return withDays(
    {
      name: `etcd/peer-${member.name}`,
      ca: CA.etcd,
      commonName: member.name,
      sans: hostSans(member),
      usages: ['peer'],
    },
    days,
  );
}

/**
 * Every etcd certificate: per member a server and a peer one, plus the apiserver's and the health check's client
 * certificates.
 */
export function etcdCertSpecs(members: Member[], opts: { days?: number } = {}): LeafSpec[] {
  checkMembers(members, 'etcd');
  return [
    ...members.flatMap((m) => [etcdServerSpec(m, opts.days), etcdPeerSpec(m, opts.days)]),
    withDays(
      { name: 'etcd/healthcheck-client', ca: CA.etcd, commonName: 'kube-etcd-healthcheck-client', usages: ['client'] },
      opts.days,
    ),
    withDays(
      { name: 'apiserver-etcd-client', ca: CA.etcd, commonName: 'kube-apiserver-etcd-client', usages: ['client'] },
      opts.days,
    ),
  ];
}

export interface KubeSettings {
  masters: Member[];
  nodes: Member[];
  /** SERVICE_CIDR: the apiserver's service IP is its first address. */
  serviceCidr: string;
  /** CLUSTER_DNS_DOMAIN, e.g. cluster.local. */
  clusterDnsDomain: string;
  /** MASTER_CERT_HOSTS: load balancer names and addresses clients use to reach the apiserver. */
  extraSans?: string[];
  days?: number;
}

export function apiserverSpec(k: KubeSettings): LeafSpec {
  const serviceIp = kubernetesServiceIp(k.serviceCidr);
  const domain = k.clusterDnsDomain.replace(/\.$/, '');
  const extra = k.extraSans ?? [];
  const dns = [
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    `kubernetes.default.svc.${domain}`,
    'localhost',
    ...k.masters.map((m) => m.name).filter((n) => !isAddress(n)),
    ...extra.filter((s) => !isAddress(s)),
  ];
  const ips = [serviceIp, '127.0.0.1', ...k.masters.map((m) => m.ip), ...extra.filter(isAddress)];
  return withDays(
    { name: 'apiserver', ca: CA.cluster, commonName: 'kube-apiserver', sans: { dns, ips }, usages: ['server'] },
    k.days,
  );
}

export function kubeletSpec(node: Member, days?: number): LeafSpec {
  // kubeasz's kubelet certificate both logs in to the apiserver and serves the kubelet's port 10250.
  return withDays(
    {
      name: `kubelet-${node.name}`,
      ca: CA.cluster,
      commonName: `system:node:${node.name}`,
      organization: 'system:nodes',
      sans: hostSans(node),
      usages: ['server', 'client'],
    },
    days,
  );
}

/** The Kubernetes certificates: apiserver, its clients, the components, admin, and a kubelet per node. */
export function kubeCertSpecs(k: KubeSettings): LeafSpec[] {
  checkMembers(k.masters, 'kube_master');
  checkMembers(k.nodes, 'kube_node');
  const client = (name: string, ca: string, commonName: string, organization?: string): LeafSpec =>
    withDays({ name, ca, commonName, ...(organization ? { organization } : {}), usages: ['client'] }, k.days);
  const kubelets = new Map([...k.masters, ...k.nodes].map((n) => [n.name, n]));
  return [
    apiserverSpec(k),
    client('apiserver-kubelet-client', CA.cluster, 'kube-apiserver-kubelet-client', 'system:masters'),
    client('front-proxy-client', CA.frontProxy, 'front-proxy-client'),
    client('admin', CA.cluster, 'kubernetes-admin', 'system:masters'),
    client('controller-manager', CA.cluster, 'system:kube-controller-manager'),
    client('scheduler', CA.cluster, 'system:kube-scheduler'),
    client('kube-proxy', CA.cluster, 'system:kube-proxy'),
    ...[...kubelets.values()].map((n) => kubeletSpec(n, k.days)),
  ];
}

/** The first address of SERVICE_CIDR, as Kubernetes gives it to the `kubernetes` service. */
export function kubernetesServiceIp(serviceCidr: string): string {
  try {
    return cidrHost(serviceCidr, 1);
  } catch (err) {
    throw new InputError(undefined, `SERVICE_CIDR: ${(err as Error).message}`, 'give a CIDR such as 10.68.0.0/16');
  }
}

/** A host's own names and addresses, and loopback (kubeasz inventories often name hosts by their IP). */
function hostSans(host: Member): { dns: string[]; ips: string[] } {
  return isAddress(host.name)
    ? { dns: ['localhost'], ips: [host.ip, host.name, '127.0.0.1'] }
    : { dns: [host.name, 'localhost'], ips: [host.ip, '127.0.0.1'] };
}

function isAddress(text: string): boolean {
  return isIP(text) !== 0;
}

function withDays(spec: LeafSpec, days: number | undefined): LeafSpec {
  return days === undefined ? spec : { ...spec, days };
}

function checkMembers(members: Member[], group: string): void {
  const seen = new Set<string>();
  for (const m of members) {
    if (!m.name || !m.ip)
      throw new InputError(
        undefined,
        `group ${group}: a host needs a name and an address, got ${JSON.stringify(m)}`,
        'set ansible_host (or use the address as the host name) for every host',
      );
    if (seen.has(m.name))
      throw new InputError(undefined, `group ${group}: host '${m.name}' is listed twice`, 'list each host once');
    seen.add(m.name);
  }
}
