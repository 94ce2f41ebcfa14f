import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BundleIndex } from '../../../src/bundle/format.js';
import { loadCluster } from '../../../src/cluster/cluster.js';
import { checkKubernetesInput, clusterVersions, kubernetesVars } from '../../../src/cluster/kubernetes.js';
import { loadInventory } from '../../../src/engine/inventory/index.js';
import { inputErrorOf } from '../../support/errors.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * A cluster folder with an INI inventory and config.yml; bin/ holds the control plane binaries unless told otherwise.
 */
async function cluster(
  hosts: string,
  config = '',
  bin = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'],
) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-k8s-input-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'hosts'), hosts);
  writeFileSync(path.join(dir, 'config.yml'), config);
  mkdirSync(path.join(dir, 'bin'));
  for (const b of bin) writeFileSync(path.join(dir, 'bin', b), '');
  const c = loadCluster(dir);
  return { cluster: c, inventory: await loadInventory(c.inventory) };
}

const HOSTS =
  '[etcd]\nh1 ansible_host=10.0.0.1\n[kube_master]\nh1 ansible_host=10.0.0.1\n10.0.0.2\n[kube_node]\nh3 ' +
  'ansible_host=10.0.0.3\n';
const bundle = (version: string): BundleIndex => ({
  format: 'furrow-bundle/1',
  name: 'b',
  created: '',
  arches: ['amd64'],
  images: [],
  files: [],
  binaries: [
    {
      name: 'kubernetes-server',
      version,
      arch: 'amd64',
      url: 'x',
      sha256: 'x',
      hosts: 'kube_master',
      files: [
        'bin/amd64/kube-apiserver',
        'bin/amd64/kube-controller-manager',
        'bin/amd64/kube-scheduler',
        'bin/amd64/kubectl',
      ],
    },
  ],
});

describe('checks before any host is touched', () => {
  test('a good cluster passes', async () => {
    const { cluster: c, inventory } = await cluster(HOSTS);
    expect(() => checkKubernetesInput(c, inventory)).not.toThrow();
  });

  test('SERVICE_CIDR overlapping CLUSTER_CIDR names config.yml, its line and both networks', async () => {
    const { cluster: c, inventory } = await cluster(
      HOSTS,
      'chrony_clock_control: false\nSERVICE_CIDR: 172.20.0.0/24\n',
    );
    const err = inputErrorOf(() => checkKubernetesInput(c, inventory));
    expect(err.place).toEqual({ file: path.join(c.dir, 'config.yml'), line: 2 });
    expect(err.problem).toBe(
      'SERVICE_CIDR 172.20.0.0/24 overlaps CLUSTER_CIDR 172.20.0.0/16: service and pod addresses must be apart',
    );
  });

  test('an empty kube_master group names the inventory', async () => {
    const { cluster: c, inventory } = await cluster('[etcd]\nh1\n[kube_master]\n[kube_node]\nh1\n');
    const err = inputErrorOf(() => checkKubernetesInput(c, inventory));
    expect(err.place).toEqual({ file: path.join(c.dir, 'hosts') });
    expect(err.problem).toMatch(/^group kube_master has no hosts/);
    const { cluster: c2, inventory: i2 } = await cluster('[etcd]\nh1\n[kube_node]\nh1\n');
    expect(inputErrorOf(() => checkKubernetesInput(c2, i2)).problem).toMatch(/^group kube_master has no hosts/);
  });

  test('a version the preloaded bundle has no binaries for names versions.kubernetes in config.yml', async () => {
    const { cluster: c, inventory } = await cluster(HOSTS, 'versions:\n  kubernetes: 1.29.0\n');
    const err = inputErrorOf(() => checkKubernetesInput(c, inventory, bundle('1.31.0')));
    expect(err.place).toEqual({ file: path.join(c.dir, 'config.yml'), line: 2 });
    expect(err.problem).toBe(
      'Kubernetes 1.29.0: the preloaded bundle has no kube-apiserver, kube-controller-manager, kube-scheduler, ' +
        'kubectl of that version (it has Kubernetes 1.31.0)',
    );
    expect(() => checkKubernetesInput(c, inventory, bundle('1.29.0'))).not.toThrow();
  });

  test('without a bundle, bin/ must hold the control plane binaries', async () => {
    const { cluster: c, inventory } = await cluster(HOSTS, '', ['kubectl']);
    expect(inputErrorOf(() => checkKubernetesInput(c, inventory)).problem).toMatch(
      /: bin\/ has no kube-apiserver, kube-controller-manager, kube-scheduler$/,
    );
  });
});

describe('what a deploy passes to the roles', () => {
  test("versions: config.yml over the bundle over Furrow's manifest", async () => {
    const { cluster: plain } = await cluster(HOSTS);
    expect(clusterVersions(plain).kubernetes).toMatch(/^1\.31\./);
    expect(clusterVersions(plain, bundle('1.30.1')).kubernetes).toBe('1.30.1');
    const { cluster: pinned } = await cluster(HOSTS, 'versions:\n  kubernetes: 1.20.2\n');
    expect(clusterVersions(pinned, bundle('1.30.1'))).toMatchObject({ kubernetes: '1.20.2', etcd: expect.any(String) });
  });

  test(
    'the apiserver SANs: masters by name and address, the service IP, MASTER_CERT_HOSTS ' + 'and the ex-lb VIP',
    async () => {
      const { cluster: c, inventory } = await cluster(
        `${HOSTS}[ex_lb]\nlb1 EX_APISERVER_VIP=10.0.0.250\n`,
        'SERVICE_CIDR: 10.96.0.0/12\nMASTER_CERT_HOSTS: [k8s.example.com, ' +
          '192.168.9.9]\nCLUSTER_DNS_DOMAIN: corp.local.\n',
      );
      const sans = kubernetesVars(c, inventory).kube_apiserver_cert_sans as { dns: string[]; ips: string[] };
      expect(sans.dns.sort()).toEqual([
        'h1',
        'k8s.example.com',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.corp.local',
        'localhost',
      ]);
      expect(sans.ips.sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.250', '10.96.0.1', '127.0.0.1', '192.168.9.9']);
    },
  );
});
