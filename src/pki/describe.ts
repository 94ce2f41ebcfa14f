/**
 * Reading certificates back: what a person needs to see (subject, issuer, SANs, usages, expiry;
 * never key material), and how an existing certificate differs from its spec.
 */
import { FurrowError } from '../engine/errors.js';
import { certificateKeyType } from './keys.js';
import { uniqueSorted, type KeyType, type NormalSpec, type Usage } from './spec.js';
import { x509 } from './x509.js';

export type Certificate = InstanceType<typeof x509.X509Certificate>;

export interface CertDescription {
  subject: string;
  issuer: string;
  /** 'DNS:name' and 'IP:address', sorted. */
  sans: string[];
  /** 'server', 'client', 'peer' (both) for leaves; 'ca' for a CA. */
  usages: string[];
  isCa: boolean;
  notBefore: string;
  notAfter: string;
  serial: string;
}

const DAY_MS = 86_400_000;

/**
 * Certificates parsed in this process, by their PEM text. A run reads the same CA and leaves for
 * many tasks and hosts, and parsing is most of what a kept certificate costs the controller.
 */
const parsed = new Map<string, Certificate>();
/** Past this many, the memo starts over (a run of a large cluster reads many leaves once each). */
const PARSED_MEMO_MAX = 4096;

export function parseCertificate(pem: string, where: string): Certificate {
  const known = parsed.get(pem);
  if (known) return known;
  let cert: Certificate;
  try {
    cert = new x509.X509Certificate(pem);
  } catch (err) {
    throw new FurrowError('module', `${where} is not a readable PEM certificate (${(err as Error).message})`);
  }
  if (parsed.size >= PARSED_MEMO_MAX) parsed.clear();
  parsed.set(pem, cert);
  return cert;
}

/** Descriptions of certificates met in this process, by their PEM text (see describePem). */
const described = new Map<string, CertDescription>();

const copyOf = (d: CertDescription): CertDescription => ({ ...d, sans: [...d.sans], usages: [...d.usages] });

/**
 * The description of the certificate in `pem`, parsed once per process: a deploy distributes the
 * same certificates to many hosts and tasks. Each caller gets its own copy.
 */
export function describePem(pem: string, where: string): CertDescription {
  let description = described.get(pem);
  if (!description) {
    description = describeCertificate(parseCertificate(pem, where));
    knownDescription(pem, description);
  }
  return copyOf(description);
}

/** Tells describePem what the certificate in `pem` is, when that is known without parsing it. */
export function knownDescription(pem: string, description: CertDescription): void {
  if (described.size >= PARSED_MEMO_MAX) described.clear();
  described.set(pem, copyOf(description));
}

/** Subjects as the library prints them: 'O=system:masters, CN=kubernetes-admin'. */
export function subjectOf(commonName: string, organization: string[]): string {
  return new x509.Name(subjectJson(commonName, organization)).toString();
}

/** One RDN per organization, then the CN, as Go's crypto/x509 writes them. */
export function subjectJson(commonName: string, organization: string[]): Record<string, string[]>[] {
  return [...organization.map((o) => ({ O: [o] })), { CN: [commonName] }];
}

export function describeCertificate(cert: Certificate): CertDescription {
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  const isCa = !!basic?.ca;
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    sans: sanList(cert),
    usages: isCa ? ['ca'] : usagesOf(cert),
    isCa,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    serial: cert.serialNumber,
  };
}

/** What a certificate issued now from `spec` would show (check mode describes it without issuing). */
export function describeSpec(spec: NormalSpec, issuer: string, now: Date): CertDescription {
  return {
    subject: subjectOf(spec.commonName, spec.organization),
    issuer,
    sans: [...spec.dns.map((d) => `DNS:${d}`), ...spec.ips.map((ip) => `IP:${ip}`)].sort(),
    usages: usageNames(spec.usages),
    isCa: false,
    notBefore: now.toISOString(),
    notAfter: new Date(now.getTime() + spec.days * DAY_MS).toISOString(),
    serial: '(new)',
  };
}

/** One line for logs and reasons: 'CN=etcd1 [DNS:etcd1, IP:10.0.0.1] until 2027-01-01'. */
export function summary(d: CertDescription): string {
  const sans = d.sans.length ? ` [${d.sans.join(', ')}]` : '';
  return `${d.subject}${sans} until ${d.notAfter.slice(0, 10)}`;
}

export function daysLeft(notAfter: Date | string, now: Date): number {
  return Math.floor((new Date(notAfter).getTime() - now.getTime()) / DAY_MS);
}

/** 'peer' stands for server and client together, in both directions, so usages compare as sets. */
export function usageNames(usages: Usage[]): string[] {
  const server = usages.includes('server') || usages.includes('peer');
  const client = usages.includes('client') || usages.includes('peer');
  return server && client ? ['peer'] : server ? ['server'] : client ? ['client'] : [];
}

function usagesOf(cert: Certificate): string[] {
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const list = (eku?.usages ?? []).map(String);
  const usages: Usage[] = [];
  if (list.includes(x509.ExtendedKeyUsage.serverAuth)) usages.push('server');
  if (list.includes(x509.ExtendedKeyUsage.clientAuth)) usages.push('client');
  return usageNames(usages);
}

function sanList(cert: Certificate): string[] {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = ext ? ext.names.toJSON() : [];
  return uniqueSorted(names.map((n) => `${n.type === 'ip' ? 'IP' : n.type === 'dns' ? 'DNS' : n.type}:${n.value}`));
}

/** The key usage bits a leaf of this key type gets: RSA also enciphers keys (TLS RSA key exchange). */
export function leafKeyUsage(keyType: KeyType): number {
  const { digitalSignature, keyEncipherment } = x509.KeyUsageFlags;
  return keyType === 'rsa' ? digitalSignature | keyEncipherment : digitalSignature;
}

/**
 * Why an existing leaf does not match its spec and CA (empty when it does): issuer, subject,
 * SANs, key usage and extended key usage. Lifetime (`days`) is not compared: a new lifetime
 * applies at the next renewal, it is no reason to re-issue.
 */
export function mismatches(cert: Certificate, spec: NormalSpec, ca: Certificate, keyType: KeyType): string[] {
  const found = describeCertificate(cert);
  const wanted = describeSpec(spec, ca.subject, new Date());
  const out: string[] = [];
  if (found.issuer !== ca.subject) out.push(`issuer is ${found.issuer}, wants ${ca.subject}`);
  if (found.subject !== wanted.subject) out.push(`subject is ${found.subject}, wants ${wanted.subject}`);
  if (found.sans.join() !== wanted.sans.join())
    out.push(`SANs are [${found.sans.join(', ')}], want [${wanted.sans.join(', ')}]`);
  if (found.isCa) out.push('it is a CA certificate, wants a leaf');
  if (found.usages.join() !== wanted.usages.join())
    out.push(`extended key usage is ${found.usages.join(', ') || 'none'}, wants ${wanted.usages.join(', ')}`);
  const ku = cert.getExtension(x509.KeyUsagesExtension)?.usages;
  const certKeyType = certificateKeyType(cert);
  if (certKeyType !== keyType) out.push(`key type is ${certKeyType}, wants ${keyType}`);
  else if (ku !== leafKeyUsage(keyType))
    out.push(`key usage is ${keyUsageText(ku)}, wants ${keyUsageText(leafKeyUsage(keyType))}`);
  return out;
}

export function keyUsageText(bits: number | undefined): string {
  if (bits === undefined) return 'none';
  const names = Object.entries(x509.KeyUsageFlags).filter(
    ([name, bit]) => typeof bit === 'number' && bits & bit && !/^\d+$/.test(name),
  );
  return names.map(([name]) => name).join(', ') || 'none';
}
