import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostKeyError } from '../../../src/engine/errors.js';
import {
  changedKeyMessage,
  fingerprint,
  formatKnownHostLine,
  hostFieldMatches,
  hostKeyAlgorithmsFor,
  judgeHostKey,
  keyTypeOf,
  knownHostName,
  parseKnownHosts,
  unknownKeyMessage,
  verifyHostKey,
} from '../../../src/engine/connections/known-hosts.js';

/** An ed25519 public key blob: string "ssh-ed25519", then the 32-byte key. */
function ed25519Blob(seed = randomBytes(32)): Buffer {
  const type = Buffer.from('ssh-ed25519');
  const len = (n: number): Buffer => Buffer.from([0, 0, 0, n]);
  return Buffer.concat([len(type.length), type, len(32), seed]);
}

// Known value: `ssh-keygen -lf` of this public key prints this fingerprint.
const KNOWN_KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const KNOWN_FP = 'SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU';

describe('known_hosts format', () => {
  it('names non-22 ports as [host]:port', () => {
    expect(knownHostName('10.0.0.1', 22)).toBe('10.0.0.1');
    expect(knownHostName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });

  it('reads the key type from the blob and formats an OpenSSH line', () => {
    const blob = ed25519Blob();
    expect(keyTypeOf(blob)).toBe('ssh-ed25519');
    expect(formatKnownHostLine('[h]:2222', blob)).toBe(`[h]:2222 ssh-ed25519 ${blob.toString('base64')}\n`);
    expect(() => keyTypeOf(Buffer.from([0, 0]))).toThrow();
  });

  it('prints fingerprints as OpenSSH does: SHA256, base64 without padding', () => {
    const fp = fingerprint(Buffer.from(KNOWN_KEY, 'base64'));
    expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fp).toBe(KNOWN_FP);
  });

  it('parses lines, skipping comments, blanks and malformed ones, keeping markers and line numbers', () => {
    const text = [
      '# comment',
      '',
      'a,b ssh-ed25519 AAAA',
      'broken-line',
      '@revoked * ssh-rsa BBBB',
      '  [c]:2222 ecdsa-sha2-nistp256 CCCC  # trailing',
    ].join('\n');
    expect(parseKnownHosts(text)).toEqual([
      { hosts: 'a,b', keyType: 'ssh-ed25519', keyBase64: 'AAAA', line: 3 },
      { marker: '@revoked', hosts: '*', keyType: 'ssh-rsa', keyBase64: 'BBBB', line: 5 },
      { hosts: '[c]:2222', keyType: 'ecdsa-sha2-nistp256', keyBase64: 'CCCC', line: 6 },
    ]);
  });

  it('matches host lists, wildcards, negations and hashed names', () => {
    expect(hostFieldMatches('web1,10.0.0.1', '10.0.0.1')).toBe(true);
    expect(hostFieldMatches('web*', 'WEB7')).toBe(true);
    expect(hostFieldMatches('web?', 'web12')).toBe(false);
    expect(hostFieldMatches('*.lab,!bad.lab', 'bad.lab')).toBe(false);
    expect(hostFieldMatches('10.0.0.1', '[10.0.0.1]:2222')).toBe(false);
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update('[n1]:2222').digest('base64');
    expect(hostFieldMatches(`|1|${salt.toString('base64')}|${hash}`, '[n1]:2222')).toBe(true);
    expect(hostFieldMatches(`|1|${salt.toString('base64')}|${hash}`, 'n1')).toBe(false);
  });
});

describe('judging a presented key', () => {
  const blob = ed25519Blob();
  const other = ed25519Blob();
  const file = (lines: string[]): ReturnType<typeof parseKnownHosts> => parseKnownHosts(lines.join('\n'));

  it('knows, does not know, or sees a change', () => {
    expect(judgeHostKey(file([formatKnownHostLine('h', blob)]), 'h', blob)).toEqual({ kind: 'known' });
    expect(judgeHostKey(file([formatKnownHostLine('other', blob)]), 'h', blob)).toEqual({ kind: 'unknown' });
    expect(judgeHostKey(file([formatKnownHostLine('h', other)]), 'h', blob).kind).toBe('changed');
  });

  it('treats a key of another type than the recorded one as a change, never as new', () => {
    const rsa = parseKnownHosts(`h ssh-rsa ${Buffer.from('x').toString('base64')}`);
    expect(judgeHostKey(rsa, 'h', blob).kind).toBe('changed');
  });

  it('accepts any of several recorded keys, and refuses revoked ones', () => {
    const lines = file([formatKnownHostLine('h', other), formatKnownHostLine('h', blob)]);
    expect(judgeHostKey(lines, 'h', blob)).toEqual({ kind: 'known' });
    const revoked = parseKnownHosts(
      `@revoked * ssh-ed25519 ${blob.toString('base64')}\n${formatKnownHostLine('h', blob)}`,
    );
    expect(judgeHostKey(revoked, 'h', blob).kind).toBe('revoked');
  });

  it('asks for the recorded key types first', () => {
    expect(hostKeyAlgorithmsFor(['ssh-rsa']).slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(hostKeyAlgorithmsFor([])[0]).toBe('ssh-ed25519');
    expect(new Set(hostKeyAlgorithmsFor(['ecdsa-sha2-nistp256'])).size).toBe(hostKeyAlgorithmsFor([]).length);
  });

  it('names the host, both fingerprints, the line and the fix when a key changed', () => {
    const recorded = file([formatKnownHostLine('[h]:2222', other)]);
    const message = changedKeyMessage('[h]:2222', '/k/known_hosts', blob, recorded);
    expect(message).toContain('[h]:2222');
    expect(message).toContain(fingerprint(blob));
    expect(message).toContain(fingerprint(other));
    expect(message).toContain('remove line 1 from /k/known_hosts');
  });

  it('tells how to add an unknown key under strict checking', () => {
    const message = unknownKeyMessage('h', '/k/known_hosts', blob);
    expect(message).toContain(fingerprint(blob));
    expect(message).toContain(formatKnownHostLine('h', blob).trim());
  });
});

describe('verifyHostKey (file)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'furrow-kh-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records on first use into a new 0600 file in a new folder, then knows the key', async () => {
    const file = join(dir, 'sub', 'known_hosts');
    const blob = ed25519Blob();
    const check = { host: 'web1', name: 'web1', file, strict: false };
    await expect(verifyHostKey(check, blob)).resolves.toBe('recorded');
    await expect(verifyHostKey(check, blob)).resolves.toBe('known');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(formatKnownHostLine('web1', blob));
  });

  it('refuses unknown keys when strict, and changed keys always, with HostKeyError', async () => {
    const file = join(dir, 'known_hosts');
    const blob = ed25519Blob();
    await expect(verifyHostKey({ host: 'web1', name: 'web1', file, strict: true }, blob)).rejects.toThrow(HostKeyError);
    writeFileSync(file, formatKnownHostLine('web1', ed25519Blob()));
    await expect(verifyHostKey({ host: 'web1', name: 'web1', file, strict: false }, blob)).rejects.toThrow(
      /web1: host key for web1 has CHANGED/,
    );
  });

  it('records many hosts in parallel without losing or mangling lines, once per host', async () => {
    const file = join(dir, 'known_hosts');
    writeFileSync(file, '# hand-written, no final newline');
    const blobs = Array.from({ length: 40 }, () => ed25519Blob());
    await Promise.all(
      blobs.flatMap((blob, i) =>
        [0, 1].map(() => verifyHostKey({ host: `h${i}`, name: `h${i}`, file, strict: false }, blob)),
      ),
    );
    const entries = parseKnownHosts(readFileSync(file, 'utf8'));
    expect(entries).toHaveLength(40);
    for (const [i, blob] of blobs.entries()) expect(judgeHostKey(entries, `h${i}`, blob)).toEqual({ kind: 'known' });
  });
});
