import { X509Certificate } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Cluster } from '../../../src/cluster/cluster.js';
import { compareCas, describeMismatches, parseHostCas, trustedCas } from '../../../src/cluster/preflight.js';
import { CA, ensureAuthorities } from '../../../src/pki/index.js';
import { beginRotation } from '../../../src/pki/rotation.js';

describe('pre-flight: the CA the hosts trust against the cluster folder', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-preflight-'));
  const cluster = (pkiDir: string, config: Record<string, unknown> = {}): Cluster => ({
    dir,
    inventory: path.join(dir, 'hosts'),
    config,
    pkiDir,
    binDir: '',
    repoDir: '',
  });
  const folderPki = path.join(dir, 'pki');
  const otherPki = path.join(dir, 'other');
  const pem = (pki: string, name: string) => readFileSync(path.join(pki, `${name}.crt`), 'utf8');
  const print = (text: string) => new X509Certificate(text).fingerprint256;
  const ETCD_CA = '/etc/kubernetes/pki/etcd/ca.crt';

  beforeAll(async () => {
    await ensureAuthorities(folderPki);
    await ensureAuthorities(otherPki);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("hosts that trust the folder's CAs, or hold none yet, pass", () => {
    const hosts = new Map([
      [
        'h1',
        new Map([
          [ETCD_CA, pem(folderPki, 'etcd/ca')],
          ['/etc/kubernetes/pki/ca.crt', pem(folderPki, 'ca')],
        ]),
      ],
      ['h2', new Map<string, string>()],
    ]);
    expect(compareCas(cluster(folderPki), hosts)).toEqual([]);
  });

  test('another CA on the hosts: both SHA-256 fingerprints and the hosts, per CA', () => {
    const hosts = new Map([
      ['h1', new Map([[ETCD_CA, pem(otherPki, 'etcd/ca')]])],
      ['h2', new Map([[ETCD_CA, pem(otherPki, 'etcd/ca')]])],
      ['h3', new Map([[ETCD_CA, pem(folderPki, 'etcd/ca')]])],
    ]);
    const found = compareCas(cluster(folderPki), hosts);
    expect(found.map((m) => m.label)).toEqual(['etcd CA']);
    const text = describeMismatches(found);
    expect(text).toBe(
      `the etcd CA differs: ${path.join(folderPki, 'etcd/ca.crt')} has SHA-256 ${print(pem(folderPki, 'etcd/ca'))}; ` +
        `hosts h1, h2 trust SHA-256 ${print(pem(otherPki, 'etcd/ca'))}`,
    );
    expect(print(pem(folderPki, 'etcd/ca'))).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  test('a lost pki/: the run would make a new CA, so hosts holding one stop it', () => {
    const hosts = new Map([['h1', new Map([[ETCD_CA, pem(otherPki, 'etcd/ca')]])]]);
    expect(describeMismatches(compareCas(cluster(path.join(dir, 'nothing')), hosts))).toMatch(
      /nothing\/etcd\/ca\.crt does not exist \(the run would make a new CA\); hosts h1 trust SHA-256 /,
    );
  });

  test('during a CA rotation: hosts that trust the old CA, the new one or both pass; a third CA does not', async () => {
    const rotating = path.join(dir, 'rotating');
    cpSync(folderPki, rotating, { recursive: true });
    await beginRotation(rotating, [CA.etcd]);
    const [oldCa, newCa] = [pem(rotating, 'etcd/ca'), pem(rotating, 'etcd/ca.next')];
    const hosts = new Map([
      ['h1', new Map([[ETCD_CA, oldCa]])],
      ['h2', new Map([[ETCD_CA, `${oldCa}${newCa}`]])],
      ['h3', new Map([[ETCD_CA, newCa]])],
    ]);
    expect(compareCas(cluster(rotating), hosts)).toEqual([]);
    hosts.set('h4', new Map([[ETCD_CA, pem(otherPki, 'etcd/ca')]]));
    expect(describeMismatches(compareCas(cluster(rotating), hosts))).toBe(
      `the etcd CA differs: ${path.join(rotating, 'etcd/ca.trust.crt')} has SHA-256 ${print(oldCa)} + ` +
        `${print(newCa)}; hosts h4 trust SHA-256 ${print(pem(otherPki, 'etcd/ca'))}`,
    );
  });

  test("the hosts' paths follow the cluster's settings", () => {
    expect(
      trustedCas({ etcd_cert_dir: '/etc/etcd/ssl', ca_dir: '/etc/kubernetes/ssl' }).map((c) => c.hostPath),
    ).toEqual(['/etc/etcd/ssl/ca.crt', '/etc/kubernetes/ssl/ca.crt']);
  });

  test('the probe output: one block per file present', () => {
    const found = parseHostCas(`==> ${ETCD_CA}\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n`);
    expect([...found.keys()]).toEqual([ETCD_CA]);
    expect(found.get(ETCD_CA)).toContain('AAA');
    expect(parseHostCas('').size).toBe(0);
  });
});
