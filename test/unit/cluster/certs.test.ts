import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostCertsScript, parseHostCerts, renewClusterCerts, rolloutSteps } from '../../../src/cluster/certs.js';
import { loadCluster } from '../../../src/cluster/cluster.js';

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

  test("re-issues kube-proxy's and every kubelet's certificate, and rolls them out with step 05 after 02 and 04", async () => {
    writeFileSync(path.join(dir, 'hosts'), '[etcd]\nh1 ansible_host=10.0.0.1\n[kube_master]\nh1 ansible_host=10.0.0.1\n[kube_node]\nh1\nh2 ansible_host=10.0.0.2\n');
    writeFileSync(path.join(dir, 'config.yml'), '');
    mkdirSync(path.join(dir, 'pki'));
    const renewed = await renewClusterCerts(loadCluster(dir));
    const names = renewed.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['kube-proxy', 'kubelet-h1', 'kubelet-h2', 'apiserver', 'etcd/server-h1']));
    expect(rolloutSteps(renewed)).toEqual(['etcd', 'master', 'node']);
    // One node's certificate alone: only step 05 rolls it out.
    const one = await renewClusterCerts(loadCluster(dir), ['kubelet-h2']);
    expect(one.map((r) => r.name)).toEqual(['kubelet-h2']);
    expect(rolloutSteps(one)).toEqual(['node']);
  });
});
