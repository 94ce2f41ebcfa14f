import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostCertsScript, parseHostCerts } from '../../../src/cluster/certs.js';

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
