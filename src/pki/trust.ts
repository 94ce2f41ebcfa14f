/**
 * What the hosts trust for each CA. Normally that is the CA itself; while a CA is rotated it is a
 * bundle of two (pki/<ca>.trust.crt): the CA that signs, first, and the one being added or
 * retired. Every CA file put on a host and every kubeconfig's certificate-authority-data comes
 * from here, so a component trusts both for as long as leaves of either are in use.
 */
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { certPath, readIfExists } from './store.js';

/** The bundle file of a CA under rotation: 'ca' -> pki/ca.trust.crt. */
export function trustPath(pkiDir: string, ca: string): string {
  return path.join(pkiDir, `${ca}.trust.crt`);
}

/** The PEM the hosts should trust for `ca`: its bundle while rotating, else the CA itself (undefined: no CA yet). */
export async function trustedPem(pkiDir: string, ca: string): Promise<string | undefined> {
  return (await readIfExists(trustPath(pkiDir, ca))) ?? (await readIfExists(certPath(pkiDir, ca)));
}

/** Each certificate block of a PEM text, in order. */
export function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The SHA-256 fingerprint of each certificate in a PEM text, as `openssl x509 -fingerprint -sha256` prints it. */
export function fingerprints(pem: string): string[] {
  return pemBlocks(pem).map((block) => new X509Certificate(block).fingerprint256);
}

/** Certificates joined into one bundle, one block after the other. */
export function bundle(pems: string[]): string {
  return `${pems.map((p) => pemBlocks(p).join('\n')).join('\n')}\n`;
}
