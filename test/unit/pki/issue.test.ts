import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureAuthorities } from '../../../src/pki/authority.js';
import { ensureLeaf } from '../../../src/pki/leaf.js';
import { CA, type LeafSpec } from '../../../src/pki/spec.js';
import { x509 } from '../../../src/pki/x509.js';

/** Generated certificates, parsed back with the library: every field a TLS peer relies on. */
const { digitalSignature, keyEncipherment, keyCertSign, cRLSign } = x509.KeyUsageFlags;
const SERVER = x509.ExtendedKeyUsage.serverAuth as string;
const CLIENT = x509.ExtendedKeyUsage.clientAuth as string;
const DAY = 86_400_000;

const etcdServer: LeafSpec = {
  name: 'etcd/server-etcd1',
  ca: CA.etcd,
  commonName: 'etcd1',
  sans: { dns: ['localhost', 'etcd1'], ips: ['10.0.0.1', '127.0.0.1'] },
  usages: ['server'],
};
const admin: LeafSpec = {
  name: 'admin',
  ca: CA.cluster,
  commonName: 'kubernetes-admin',
  organization: 'system:masters',
  usages: ['client'],
  days: 30,
};
const peer: LeafSpec = {
  name: 'etcd/peer-etcd1',
  ca: CA.etcd,
  commonName: 'etcd1',
  sans: { ips: ['10.0.0.1'] },
  usages: ['peer'],
};

function load(dir: string, name: string) {
  return new x509.X509Certificate(readFileSync(path.join(dir, `${name}.crt`), 'utf8'));
}

function extensionsOf(cert: InstanceType<typeof x509.X509Certificate>) {
  return {
    ca: cert.getExtension(x509.BasicConstraintsExtension)?.ca,
    basicCritical: cert.getExtension(x509.BasicConstraintsExtension)?.critical,
    keyUsage: cert.getExtension(x509.KeyUsagesExtension)?.usages,
    eku: cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String) ?? null,
    sans: cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? null,
    ski: cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    aki: cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId,
  };
}

describe.each(['rsa', 'ecdsa'] as const)('certificates with %s keys', (keyType) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), `furrow-pki-issue-${keyType}-`));
  const before = Date.now();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    await ensureAuthorities(dir, { keyType });
    for (const spec of [etcdServer, admin, peer]) await ensureLeaf(dir, spec, { keyType });
  });

  test('CAs: self-signed, CA:true (critical), keyCertSign and cRLSign, 10 years, kubeadm names', async () => {
    for (const [name, cn] of [
      [CA.etcd, 'etcd-ca'],
      [CA.cluster, 'kubernetes'],
      [CA.frontProxy, 'front-proxy-ca'],
    ]) {
      const ca = load(dir, name!);
      expect(ca.subject).toBe(`CN=${cn}`);
      expect(ca.issuer).toBe(`CN=${cn}`);
      expect(await ca.verify({ publicKey: ca as never })).toBe(true);
      const ext = extensionsOf(ca);
      expect(ext).toMatchObject({
        ca: true,
        basicCritical: true,
        keyUsage: digitalSignature | keyCertSign | cRLSign,
        eku: null,
      });
      expect(ext.ski).toMatch(/^[0-9a-f]{40}$/);
      const years = (ca.notAfter.getTime() - before) / DAY / 365;
      expect(years).toBeGreaterThan(9.99);
      expect(years).toBeLessThan(10.01);
    }
  });

  test(
    'the etcd server certificate: subject, SANs, serverAuth only, CA:false, key usage, AKI ' + '= the CA key id',
    async () => {
      const cert = load(dir, 'etcd/server-etcd1');
      const ca = load(dir, 'etcd/ca');
      expect(cert.subject).toBe('CN=etcd1');
      expect(cert.issuer).toBe('CN=etcd-ca');
      const ext = extensionsOf(cert);
      expect(ext.sans).toEqual([
        { type: 'dns', value: 'etcd1' },
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '10.0.0.1' },
        { type: 'ip', value: '127.0.0.1' },
      ]);
      expect(ext.eku).toEqual([SERVER]);
      expect(ext.ca).toBe(false);
      expect(ext.keyUsage).toBe(keyType === 'rsa' ? digitalSignature | keyEncipherment : digitalSignature);
      expect(ext.aki).toBe(extensionsOf(ca).ski);
      expect(ext.ski).not.toBe(ext.aki);
      expect(cert.publicKey.algorithm.name).toBe(keyType === 'rsa' ? 'RSASSA-PKCS1-v1_5' : 'ECDSA');
    },
  );

  test('each leaf verifies against its own CA only', async () => {
    const etcdCa = load(dir, 'etcd/ca');
    const clusterCa = load(dir, 'ca');
    expect(await load(dir, 'etcd/server-etcd1').verify({ publicKey: etcdCa as never })).toBe(true);
    expect(await load(dir, 'admin').verify({ publicKey: clusterCa as never })).toBe(true);
    expect(await load(dir, 'admin').verify({ publicKey: etcdCa as never, signatureOnly: true })).toBe(false);
  });

  test('client and peer usages; organization in the subject; lifetime in days, started 5 minutes back', () => {
    const a = load(dir, 'admin');
    expect(a.subject).toBe('O=system:masters, CN=kubernetes-admin');
    expect(extensionsOf(a).eku).toEqual([CLIENT]);
    expect(extensionsOf(a).sans).toBeNull();
    expect(Math.round((a.notAfter.getTime() - before) / DAY)).toBe(30);
    expect(before - a.notBefore.getTime()).toBeGreaterThanOrEqual(4 * 60_000);
    expect(before - a.notBefore.getTime()).toBeLessThan(6 * 60_000);
    expect(extensionsOf(load(dir, 'etcd/peer-etcd1')).eku).toEqual([SERVER, CLIENT]);
    expect(Math.round((load(dir, 'etcd/peer-etcd1').notAfter.getTime() - before) / DAY)).toBe(365);
  });

  test('keys are 0600 PKCS#8, certificates 0644, sa.pub beside sa.key', () => {
    for (const key of ['ca.key', 'etcd/ca.key', 'front-proxy-ca.key', 'sa.key', 'admin.key', 'etcd/server-etcd1.key']) {
      expect((statSync(path.join(dir, key)).mode & 0o777).toString(8)).toBe('600');
      expect(readFileSync(path.join(dir, key), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    }
    for (const crt of ['ca.crt', 'etcd/ca.crt', 'admin.crt', 'sa.pub'])
      expect((statSync(path.join(dir, crt)).mode & 0o777).toString(8)).toBe('644');
    expect(readFileSync(path.join(dir, 'sa.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
  });

  // An independent check with another X.509 implementation: a test tool only, the engine never runs openssl.
  const openssl = spawnSync('openssl', ['version']).status === 0;
  (openssl ? test : test.skip)('openssl agrees: the chain verifies, the extensions read as intended', () => {
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    expect(run('verify', '-CAfile', 'etcd/ca.crt', 'etcd/server-etcd1.crt', 'etcd/peer-etcd1.crt')).toBe(
      'etcd/server-etcd1.crt: OK\netcd/peer-etcd1.crt: OK\n',
    );
    expect(run('verify', '-CAfile', 'ca.crt', 'admin.crt')).toBe('admin.crt: OK\n');
    expect(
      spawnSync('openssl', ['verify', '-CAfile', 'ca.crt', 'etcd/server-etcd1.crt'], { cwd: dir }).status,
    ).not.toBe(0);
    // -purpose checks key usage and EKU together, the way TLS stacks do.
    expect(run('verify', '-CAfile', 'etcd/ca.crt', '-purpose', 'sslserver', 'etcd/server-etcd1.crt')).toBe(
      'etcd/server-etcd1.crt: OK\n',
    );
    expect(
      spawnSync('openssl', ['verify', '-CAfile', 'ca.crt', '-purpose', 'sslserver', 'admin.crt'], { cwd: dir }).status,
    ).not.toBe(0);
    const text = run('x509', '-noout', '-text', '-in', 'etcd/server-etcd1.crt');
    expect(text).toContain('DNS:etcd1, DNS:localhost, IP Address:10.0.0.1, IP Address:127.0.0.1');
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Extended Key Usage: ?\n\s+TLS Web Server Authentication\n/);
    expect(text).toMatch(
      keyType === 'rsa'
        ? /Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/
        : /Key Usage: critical\n\s+Digital Signature\n/,
    );
    expect(run('pkey', '-in', 'etcd/server-etcd1.key', '-pubout')).toBe(
      run('x509', '-in', 'etcd/server-etcd1.crt', '-noout', '-pubkey'),
    );
  });
});
