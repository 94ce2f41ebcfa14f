import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  clusterRolloutSteps,
  hostCertsScript,
  parseHostCerts,
  renewClusterCerts,
  rolloutSteps,
} from '../../../src/cluster/certs.js';
import { loadCluster } from '../../../src/cluster/cluster.js';
import { ensureAuthorities } from '../../../src/pki/index.js';

test('the host script sends certificate blocks only, never a key, each after its path', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-hostcerts-'));
  try {
    const cert = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const key = '-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n';
    mkdirSync(path.join(dir, 'etcd'));
    writeFileSync(path.join(dir, 'etcd', 'server.crt'), cert);
    writeFileSync(path.join(dir, 'etcd', 'server.key'), key);
    writeFileSync(path.join(dir, 'bundle.pem'), key + cert);
    writeFileSync(path.join(dir, 'key-only.pem'), key);
    const out = execFileSync('sh', ['-c', hostCertsScript([dir])], { encoding: 'utf8' });
    expect(out).not.toContain('SECRET');
    expect(parseHostCerts(out)).toEqual([
      { path: path.join(dir, 'bundle.pem'), pem: cert },
      { path: path.join(dir, 'etcd', 'server.crt'), pem: cert },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('certs renew: the nodes too (step 05)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-renew-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test(
    "re-issues kube-proxy's and every kubelet's certificate (named by K8S_NODENAME), and rolls them out with step " +
      '05 after 02 and 04',
    async () => {
      writeFileSync(
        path.join(dir, 'hosts'),
        '[etcd]\nh1 ansible_host=10.0.0.1\n[kube_master]\nh1 ansible_host=10.0.0.1\n[kube_node]\nh1\nh2 ' +
          'ansible_host=10.0.0.2 k8s_nodename=Node_2\n',
      );
      // ECDSA keys: RSA generation would make the test slow, and the key type does not matter here.
      writeFileSync(path.join(dir, 'config.yml'), 'pki_key_type: ecdsa\n');
      mkdirSync(path.join(dir, 'pki'));
      await ensureAuthorities(path.join(dir, 'pki'), { keyType: 'ecdsa' });
      const renewed = await renewClusterCerts(loadCluster(dir));
      const names = renewed.map((r) => r.name);
      // Named as the kube-node role names them: K8S_NODENAME, from k8s_nodename in lower case with '-'.
      expect(names).toEqual(
        expect.arrayContaining(['kube-proxy', 'kubelet-h1', 'kubelet-node-2', 'apiserver', 'etcd/server-h1']),
      );
      expect(rolloutSteps(renewed)).toEqual(['etcd', 'master', 'node']);
      // One node's certificate alone: only step 05 rolls it out.
      const one = await renewClusterCerts(loadCluster(dir), ['kubelet-node-2']);
      expect(one.map((r) => r.name)).toEqual(['kubelet-node-2']);
      expect(rolloutSteps(one)).toEqual(['node']);
      // Step 10's kubeconfig-ex-lb holds the admin certificate too: step 10 rolls a renewed one out.
      expect(clusterRolloutSteps(loadCluster(dir), renewed)).toEqual(['etcd', 'master', 'node']);
      writeFileSync(path.join(dir, 'kubeconfig-ex-lb'), '');
      expect(clusterRolloutSteps(loadCluster(dir), renewed)).toEqual(['etcd', 'master', 'node', 'ex-lb']);
      expect(clusterRolloutSteps(loadCluster(dir), one)).toEqual(['node']);
    },
  );
});
