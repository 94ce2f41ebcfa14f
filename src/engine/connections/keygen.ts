import { generateKeyPairSync, randomBytes } from 'node:crypto';

/**
 * A fresh ed25519 key pair in OpenSSH formats (private PEM, `ssh-ed25519 AAAA... comment`).
 *
 * Not ssh2's generateKeyPairSync: it strips leading zero bytes from the public key, so about one
 * key in 256 is 31 bytes long and sshd refuses it ("Unable to load host key"; mscdex/ssh2#1390,
 * still open in 1.17). Node makes the key; the OpenSSH encoding (PROTOCOL.key) is a few fields.
 */
export function generateSshKeyPair(comment: string): { privateKey: string; publicKey: string } {
  const pair = generateKeyPairSync('ed25519');
  const pub = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const seed = Buffer.from(pair.privateKey.export({ format: 'jwk' }).d!, 'base64url');
  return {
    privateKey: openSshPrivateKey(seed, pub, comment),
    publicKey: `ssh-ed25519 ${publicBlob(pub).toString('base64')} ${comment}`,
  };
}

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function publicBlob(pub: Buffer): Buffer {
  return Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
}

/** An unencrypted `openssh-key-v1` file holding one ed25519 key. */
function openSshPrivateKey(seed: Buffer, pub: Buffer, comment: string): string {
  const check = randomBytes(4);
  const parts = [
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ];
  let section = Buffer.concat(parts);
  // Padded with 1, 2, 3, ... to the cipher's block size, which is 8 for "none".
  const pad = (8 - (section.length % 8)) % 8;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(publicBlob(pub)),
    sshString(section),
  ]).toString('base64');
  const lines = body.match(/.{1,70}/g) ?? [];
  return ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n');
}
