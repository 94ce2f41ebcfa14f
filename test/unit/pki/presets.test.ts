import { apiserverSpec, etcdCertSpecs, kubeCertSpecs, kubernetesServiceIp } from '../../../src/pki/presets.js';
import { normalizeSpec } from '../../../src/pki/spec.js';

/** The cluster's certificate specs from the inventory's hosts and the cluster settings. */
const members = [
  { name: 'etcd1', ip: '192.168.1.1' },
  { name: '192.168.1.2', ip: '192.168.1.2' },
];

test('etcd: a server and a peer certificate per member, and two clients', () => {
  expect(etcdCertSpecs(members, { days: 730 })).toEqual([
    {
      name: 'etcd/server-etcd1',
      ca: 'etcd/ca',
      commonName: 'etcd1',
      sans: { dns: ['etcd1', 'localhost'], ips: ['192.168.1.1', '127.0.0.1'] },
      usages: ['server', 'client'],
      days: 730,
    },
    {
      name: 'etcd/peer-etcd1',
      ca: 'etcd/ca',
      commonName: 'etcd1',
      sans: { dns: ['etcd1', 'localhost'], ips: ['192.168.1.1', '127.0.0.1'] },
      usages: ['peer'],
      days: 730,
    },
    // A host named by its address (kubeasz inventories often are) gets it as an IP SAN, not a DNS one.
    {
      name: 'etcd/server-192.168.1.2',
      ca: 'etcd/ca',
      commonName: '192.168.1.2',
      sans: { dns: ['localhost'], ips: ['192.168.1.2', '192.168.1.2', '127.0.0.1'] },
      usages: ['server', 'client'],
      days: 730,
    },
    {
      name: 'etcd/peer-192.168.1.2',
      ca: 'etcd/ca',
      commonName: '192.168.1.2',
      sans: { dns: ['localhost'], ips: ['192.168.1.2', '192.168.1.2', '127.0.0.1'] },
      usages: ['peer'],
      days: 730,
    },
    {
      name: 'etcd/healthcheck-client',
      ca: 'etcd/ca',
      commonName: 'kube-etcd-healthcheck-client',
      usages: ['client'],
      days: 730,
    },
    {
      name: 'apiserver-etcd-client',
      ca: 'etcd/ca',
      commonName: 'kube-apiserver-etcd-client',
      usages: ['client'],
      days: 730,
    },
  ]);
  for (const spec of etcdCertSpecs(members)) expect(() => normalizeSpec(spec)).not.toThrow();
  expect(normalizeSpec(etcdCertSpecs(members)[2]!).ips).toEqual(['127.0.0.1', '192.168.1.2']);
});

const kube = {
  masters: [{ name: 'master1', ip: '10.0.0.11' }],
  nodes: [
    { name: 'node1', ip: '10.0.0.21' },
    { name: 'master1', ip: '10.0.0.11' },
  ],
  serviceCidr: '10.68.0.0/16',
  clusterDnsDomain: 'cluster.local.',
  extraSans: ['lb.example.org', '10.0.0.100', 'fd00::1'],
};

test('apiserver: the kubernetes service IP (first address of SERVICE_CIDR), service names, masters, extra SANs', () => {
  const spec = normalizeSpec(apiserverSpec(kube));
  expect(spec).toEqual({
    name: 'apiserver',
    ca: 'ca',
    commonName: 'kube-apiserver',
    organization: [],
    dns: [
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
      'lb.example.org',
      'localhost',
      'master1',
    ],
    ips: ['10.0.0.100', '10.0.0.11', '10.68.0.1', '127.0.0.1', 'fd00::1'],
    usages: ['server'],
    days: 365,
  });
  expect(kubernetesServiceIp('fd00:10:96::/112')).toBe('fd00:10:96::1');
  expect(() => kubernetesServiceIp('10.68.0.0')).toThrow("SERVICE_CIDR: '10.68.0.0' is not a CIDR");
});

test(
  'kube: clients with kubeadm subjects, and one kubelet certificate per node (a master that is ' + 'also a node once)',
  () => {
    const specs = kubeCertSpecs(kube);
    expect(specs.map((s) => [s.name, s.ca, s.commonName, s.organization ?? null, s.usages.join('+')])).toEqual([
      ['apiserver', 'ca', 'kube-apiserver', null, 'server'],
      ['apiserver-kubelet-client', 'ca', 'kube-apiserver-kubelet-client', 'system:masters', 'client'],
      ['front-proxy-client', 'front-proxy-ca', 'front-proxy-client', null, 'client'],
      ['admin', 'ca', 'kubernetes-admin', 'system:masters', 'client'],
      ['controller-manager', 'ca', 'system:kube-controller-manager', null, 'client'],
      ['scheduler', 'ca', 'system:kube-scheduler', null, 'client'],
      ['kube-proxy', 'ca', 'system:kube-proxy', null, 'client'],
      ['kubelet-master1', 'ca', 'system:node:master1', 'system:nodes', 'server+client'],
      ['kubelet-node1', 'ca', 'system:node:node1', 'system:nodes', 'server+client'],
    ]);
    expect(specs[8]!.sans).toEqual({ dns: ['node1', 'localhost'], ips: ['10.0.0.21', '127.0.0.1'] });
  },
);

test('bad hosts are input errors naming the group', () => {
  expect(() => etcdCertSpecs([{ name: 'a', ip: '' }])).toThrow(
    'group etcd: a host needs a name and an address, got {"name":"a","ip":""}',
  );
  expect(() => kubeCertSpecs({ ...kube, masters: [kube.masters[0]!, kube.masters[0]!] })).toThrow(
    "group kube_master: host 'master1' is listed twice",
  );
});
