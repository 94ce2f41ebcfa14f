import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { kubeconfigFromPki, renderKubeconfig } from '../../../src/pki/kubeconfig.js';
import { ensureLeaf } from '../../../src/pki/leaf.js';
import { CA } from '../../../src/pki/spec.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

test('renderKubeconfig: cluster, user and context with embedded base64 data', () => {
  const text = renderKubeconfig({
    cluster: 'prod',
    server: 'https://10.0.0.1:6443',
    caCert: 'CA\n',
    clientCert: 'CERT\n',
    clientKey: 'KEY\n',
    user: 'system:kube-scheduler',
    namespace: 'kube-system',
  });
  expect(YAML.parse(text)).toEqual({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'prod', cluster: { 'certificate-authority-data': b64('CA\n'), server: 'https://10.0.0.1:6443' } },
    ],
    contexts: [
      {
        name: 'system:kube-scheduler@prod',
        context: { cluster: 'prod', user: 'system:kube-scheduler', namespace: 'kube-system' },
      },
    ],
    'current-context': 'system:kube-scheduler@prod',
    preferences: {},
    users: [
      {
        name: 'system:kube-scheduler',
        user: { 'client-certificate-data': b64('CERT\n'), 'client-key-data': b64('KEY\n') },
      },
    ],
  });
  // Long base64 values stay on one line, as kubectl writes them.
  const long = renderKubeconfig({
    cluster: 'c',
    server: 'https://a:6443',
    caCert: 'x'.repeat(3000),
    clientCert: 'y',
    clientKey: 'z',
    user: 'u',
  });
  expect(long).toContain(`certificate-authority-data: ${b64('x'.repeat(3000))}\n`);
  expect(YAML.parse(long).contexts[0].context).toEqual({ cluster: 'c', user: 'u' });
});

test('a server that is not https:// is refused', () => {
  expect(() =>
    renderKubeconfig({
      cluster: 'c',
      server: '10.0.0.1:6443',
      caCert: '',
      clientCert: '',
      clientKey: '',
      user: 'admin',
    }),
  ).toThrow("kubeconfig for admin: server '10.0.0.1:6443' is not an https:// address");
});

test('kubeconfigFromPki embeds the CA, the leaf and its key from pki/', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-pki-kubeconfig-'));
  try {
    await expect(
      kubeconfigFromPki(dir, 'admin', { cluster: 'k', server: 'https://127.0.0.1:6443', user: 'admin' }),
    ).rejects.toThrow(`kubeconfig for admin: ca.crt, admin.crt, admin.key missing in ${dir}`);
    await ensureLeaf(dir, {
      name: 'admin',
      ca: CA.cluster,
      commonName: 'kubernetes-admin',
      organization: 'system:masters',
      usages: ['client'],
    });
    const config = YAML.parse(
      await kubeconfigFromPki(dir, 'admin', {
        cluster: 'k',
        server: 'https://127.0.0.1:6443',
        user: 'kubernetes-admin',
      }),
    );
    const read = (f: string) => b64(readFileSync(path.join(dir, f), 'utf8'));
    expect(config.clusters[0].cluster['certificate-authority-data']).toBe(read('ca.crt'));
    expect(config.users[0]).toEqual({
      name: 'kubernetes-admin',
      user: { 'client-certificate-data': read('admin.crt'), 'client-key-data': read('admin.key') },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
