/**
 * Signing: self-signed CA certificates and leaves signed by a CA, with the extensions Kubernetes
 * and etcd expect (as kubeadm writes them).
 */
import { randomBytes } from 'node:crypto';
import { leafKeyUsage, subjectJson, type Certificate } from './describe.js';
import { signingAlgorithm, type KeyPair } from './keys.js';
import type { NormalSpec } from './spec.js';
import { x509 } from './x509.js';

const DAY_MS = 86_400_000;
// Leaves start a little in the past: a host whose clock lags the controller (chrony is not set up
// yet when etcd's certificates are first issued) must not see a certificate from the future.
const BACKDATE_MS = 5 * 60_000;

export interface Authority {
  name: string;
  cert: Certificate;
  keys: KeyPair;
}

/** A positive 128-bit serial: unique without a counter to keep. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

export async function createCaCertificate(
  commonName: string,
  keys: KeyPair,
  days: number,
  now = new Date(),
): Promise<Certificate> {
  const { keyCertSign, cRLSign, digitalSignature } = x509.KeyUsageFlags;
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subjectJson(commonName, []),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    keys: { privateKey: keys.privateKey, publicKey: keys.publicKey } as never,
    signingAlgorithm: signingAlgorithm(keys.type),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(keyCertSign | cRLSign | digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
}

export async function issueLeafCertificate(
  spec: NormalSpec,
  keys: KeyPair,
  ca: Authority,
  now = new Date(),
): Promise<Certificate> {
  const notAfter = new Date(now.getTime() + spec.days * DAY_MS);
  const extensions: InstanceType<typeof x509.Extension>[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(leafKeyUsage(keys.type), true),
    new x509.ExtendedKeyUsageExtension(extendedUsages(spec), false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert as never),
  ];
  const names = [
    ...spec.dns.map((value) => ({ type: 'dns' as const, value })),
    ...spec.ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  return x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: subjectJson(spec.commonName, spec.organization),
    issuer: ca.cert.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    // A leaf never outlives its CA: it would fail verification from that day on anyway.
    notAfter: notAfter > ca.cert.notAfter ? ca.cert.notAfter : notAfter,
    publicKey: keys.publicKey as never,
    signingKey: ca.keys.privateKey as never,
    signingAlgorithm: signingAlgorithm(ca.keys.type),
    extensions,
  });
}

function extendedUsages(spec: NormalSpec): string[] {
  const server = spec.usages.includes('server') || spec.usages.includes('peer');
  const client = spec.usages.includes('client') || spec.usages.includes('peer');
  return [...(server ? [x509.ExtendedKeyUsage.serverAuth] : []), ...(client ? [x509.ExtendedKeyUsage.clientAuth] : [])];
}
