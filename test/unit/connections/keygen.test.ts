import { execFileSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { generateSshKeyPair } from '../../../src/engine/connections/keygen.js';

/** The raw 32-byte key inside `ssh-ed25519 AAAA... comment`. */
function rawPublicKey(line: string): Buffer {
  const blob = Buffer.from(line.split(' ')[1]!, 'base64');
  expect(blob.readUInt32BE(0)).toBe(11);
  expect(blob.subarray(4, 15).toString()).toBe('ssh-ed25519');
  expect(blob.readUInt32BE(15)).toBe(32);
  expect(blob.length).toBe(19 + 32);
  return blob.subarray(19);
}

/** A key pair whose public key starts with a zero byte: the case ssh2's generator gets wrong. */
function pairWithLeadingZero(): ReturnType<typeof generateSshKeyPair> {
  for (let i = 0; i < 20_000; i++) {
    const pair = generateSshKeyPair('zero@h1');
    if (Buffer.from(pair.publicKey.split(' ')[1]!, 'base64')[19] === 0) return pair;
  }
  throw new Error('no public key with a leading zero byte in 20000 tries');
}

describe('generateSshKeyPair', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'furrow-keygen-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** What sshd and ssh do with the files: ssh-keygen -y derives the public key from the private one. */
  function opensshPublicKey(privateKey: string): string {
    const file = join(dir, 'key');
    writeFileSync(file, privateKey, { mode: 0o600 });
    return execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim();
  }

  it.each([
    ['an ordinary key', () => generateSshKeyPair('root@h1')],
    ['a key whose public half starts with a zero byte', pairWithLeadingZero],
  ])('writes %s that OpenSSH loads, with the matching public line', (_name, make) => {
    const pair = make();
    rawPublicKey(pair.publicKey);
    expect(pair.publicKey.split(' ')[2]).toMatch(/^(root|zero)@h1$/);
    expect(pair.privateKey).toMatch(
      /^-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END OPENSSH PRIVATE KEY-----\n$/,
    );
    // ssh-keygen prints the comment stored in the private key too.
    expect(opensshPublicKey(pair.privateKey)).toBe(pair.publicKey);
  });

  it('writes keys ssh2 can sign with, verified against the public line', () => {
    const pair = pairWithLeadingZero();
    const parsed = ssh2.utils.parseKey(pair.privateKey);
    if (parsed instanceof Error) throw parsed;
    const key = Array.isArray(parsed) ? parsed[0]! : parsed;
    expect(key.type).toBe('ssh-ed25519');
    expect(key.comment).toBe('zero@h1');
    const data = Buffer.from('furrow');
    const signature = key.sign(data);
    if (signature instanceof Error) throw signature;
    const raw = rawPublicKey(pair.publicKey);
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
      format: 'jwk',
    });
    expect(verify(null, data, publicKey, signature)).toBe(true);
  });

  it('makes a new key every time', () => {
    const keys = new Set(Array.from({ length: 20 }, () => generateSshKeyPair('x').privateKey));
    expect(keys.size).toBe(20);
  });
});
