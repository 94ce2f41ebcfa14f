import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureAuthorities, loadAuthority } from '../../../src/pki/authority.js';
import { describeCertificate, describePem, knownDescription, parseCertificate } from '../../../src/pki/describe.js';
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

  test('the same CA loaded twice is checked once: the same object, until its files change', async () => {
    const first = await loadAuthority(dir, CA.etcd);
    expect(await loadAuthority(dir, CA.etcd)).toBe(first);
    const other = mkdtempSync(path.join(os.tmpdir(), 'furrow-pki-memo-'));
    try {
      await ensureAuthorities(other, { keyType: 'ecdsa' });
      expect(await loadAuthority(other, CA.etcd)).not.toBe(first);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('a description is made once per PEM, each caller gets its own copy, and a known one needs no parse', () => {
    const crt = readFileSync(path.join(dir, 'ca.crt'), 'utf8');
    const mine = describePem(crt, 'ca.crt');
    expect(mine).toEqual(describeCertificate(parseCertificate(crt, 'ca.crt')));
    mine.subject += ' (changed by its caller)';
    mine.sans.push('DNS:x');
    expect(describePem(crt, 'ca.crt')).toEqual(describeCertificate(parseCertificate(crt, 'ca.crt')));
    // Known from pki/.furrow-checked.json: answered without parsing (this text would not parse).
    const known = { ...mine, subject: 'CN=known' };
    knownDescription('not a certificate, but known', known);
    expect(describePem('not a certificate, but known', 'x.crt')).toEqual(known);
    expect(() => describePem('not a certificate', 'x.crt')).toThrow('x.crt is not a readable PEM certificate');
  });

  test('an unreadable certificate or key names its own file each time, and is not kept', async () => {
    expect(() => parseCertificate('not a certificate', 'one.crt')).toThrow('one.crt is not a readable PEM certificate');
    expect(() => parseCertificate('not a certificate', 'two.crt')).toThrow('two.crt is not a readable PEM certificate');
    await expect(loadKeyPair('not a key', 'one.key')).rejects.toThrow('one.key is not a readable private key');
    await expect(loadKeyPair('not a key', 'two.key')).rejects.toThrow('two.key is not a readable private key');
  });
});
