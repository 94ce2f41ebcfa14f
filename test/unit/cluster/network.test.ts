import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadCluster } from '../../../src/cluster/cluster.js';
import { checkNetworkInput, networkSetting } from '../../../src/cluster/network.js';
import { inputErrorOf } from '../../support/errors.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function cluster(config: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-network-input-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'hosts'), '[kube_master]\nh1\n[kube_node]\nh1\n');
  writeFileSync(path.join(dir, 'config.yml'), config);
  return loadCluster(dir);
}

describe('the pod network settings, checked before any host is touched', () => {
  test('flannel with vxlan is the default; routes and host-gw pass', () => {
    const plain = cluster('');
    expect([networkSetting(plain, 'CLUSTER_NETWORK'), networkSetting(plain, 'FLANNEL_BACKEND')]).toEqual([
      'flannel',
      'vxlan',
    ]);
    expect(() => checkNetworkInput(plain)).not.toThrow();
    expect(() => checkNetworkInput(cluster('CLUSTER_NETWORK: routes\n'))).not.toThrow();
    expect(() => checkNetworkInput(cluster('FLANNEL_BACKEND: host-gw\n'))).not.toThrow();
  });

  test('an unknown CLUSTER_NETWORK names config.yml, its line and the known values', () => {
    const c = cluster('PROXY_MODE: iptables\nCLUSTER_NETWORK: calico\n');
    const err = inputErrorOf(() => checkNetworkInput(c));
    expect(err.place).toEqual({ file: path.join(c.dir, 'config.yml'), line: 2 });
    expect(err.problem).toBe('CLUSTER_NETWORK is "calico": the pod network step knows flannel and routes');
  });

  test('an unknown FLANNEL_BACKEND is refused too', () => {
    expect(inputErrorOf(() => checkNetworkInput(cluster('FLANNEL_BACKEND: udp\n'))).problem).toBe(
      'FLANNEL_BACKEND is "udp": the pod network step knows vxlan and host-gw',
    );
  });

  test('a lab cluster (furrow new --from-lab copies config.lab.yml) uses routes, and says why', () => {
    const text = readFileSync(path.resolve('inventory/config.lab.yml'), 'utf8');
    expect((YAML.parse(text) as Record<string, unknown>).CLUSTER_NETWORK).toBe('routes');
    expect(text).toMatch(/flannel.*image.*cannot be fetched/s);
  });
});
