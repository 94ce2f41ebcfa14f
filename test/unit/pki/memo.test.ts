import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureAuthorities, loadAuthority } from '../../../src/pki/authority.js';
import { parseCertificate } from '../../../src/pki/describe.js';
import { loadKeyPair } from '../../../src/pki/keys.js';
import { CA } from '../../../src/pki/spec.js';

/**
 * A run parses each certificate and loads each key once, however many tasks read them; a file that
 * cannot be read is still reported under its own name every time.
 */
describe('certificates and keys read once per process', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-pki-memo-'));
    await ensureAuthorities(dir, { keyType: 'ecdsa' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the same PEM gives the same parsed certificate and the same key pair', async () => {
    const crt = readFileSync(path.join(dir, 'ca.crt'), 'utf8');
    const key = readFileSync(path.join(dir, 'ca.key'), 'utf8');
    expect(parseCertificate(crt, 'a.crt')).toBe(parseCertificate(`${crt}`, 'b.crt'));
    expect(await loadKeyPair(key, 'a.key')).toBe(await loadKeyPair(key, 'b.key'));
    // Another CA's files are other objects.
    const etcd = await loadAuthority(dir, CA.etcd);
    expect(etcd!.cert).not.toBe(parseCertificate(crt, 'a.crt'));
    expect(etcd!.cert.subject).toBe('CN=etcd-ca');
  });

  test('an unreadable certificate or key names its own file each time, and is not kept', async () => {
    expect(() => parseCertificate('not a certificate', 'one.crt')).toThrow('one.crt is not a readable PEM certificate');
    expect(() => parseCertificate('not a certificate', 'two.crt')).toThrow('two.crt is not a readable PEM certificate');
    await expect(loadKeyPair('not a key', 'one.key')).rejects.toThrow('one.key is not a readable private key');
    await expect(loadKeyPair('not a key', 'two.key')).rejects.toThrow('two.key is not a readable private key');
  });
});
