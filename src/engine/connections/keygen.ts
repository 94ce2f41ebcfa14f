import ssh2 from 'ssh2';

/** A fresh ed25519 key pair in OpenSSH formats (private PEM, `ssh-ed25519 AAAA... comment`). */
export function generateSshKeyPair(comment: string): { privateKey: string; publicKey: string } {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: pair.private, publicKey: pair.public };
}
