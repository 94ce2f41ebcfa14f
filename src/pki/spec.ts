/**
 * What a certificate should be, declared as data: a leaf spec names its file, its CA, its subject,
 * its SANs, what it is used for and how long it lives. Specs are checked before anything is issued.
 */
import { isIP } from 'node:net';
import { InputError } from '../engine/errors.js';

// Here, not in keys.ts: the cert module's schema needs them without loading the X.509 library.
export type KeyType = 'rsa' | 'ecdsa';
export const KEY_TYPES: readonly KeyType[] = ['rsa', 'ecdsa'];

export type Usage = 'server' | 'client' | 'peer';
export const USAGES: readonly Usage[] = ['server', 'client', 'peer'];

export interface LeafSpec {
  /** Path under pki/ without extension: 'apiserver', 'etcd/server-etcd1'. */
  name: string;
  /** The CA's name under pki/: 'etcd/ca', 'ca', 'front-proxy-ca'. */
  ca: string;
  commonName: string;
  organization?: string | string[];
  sans?: { dns?: string[]; ips?: string[] };
  /** server: serverAuth; client: clientAuth; peer: both (etcd members talk to each other). */
  usages: Usage[];
  /** Lifetime of a newly issued certificate (default 365, as kubeadm). */
  days?: number;
}

/** The three roots, kept apart as kubeadm does (kubeasz signs everything with one CA). */
export const CA = { etcd: 'etcd/ca', cluster: 'ca', frontProxy: 'front-proxy-ca' } as const;

export const DEFAULT_LEAF_DAYS = 365;
export const DEFAULT_CA_DAYS = 3650;

export interface PkiSettings {
  keyType?: KeyType;
  /** Lifetime of a new CA (default 3650 days). */
  caDays?: number;
}

/** A spec with every list sorted and deduplicated, so two specs compare by value. */
export interface NormalSpec {
  name: string;
  ca: string;
  commonName: string;
  organization: string[];
  dns: string[];
  ips: string[];
  usages: Usage[];
  days: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
// Host names and wildcards as they appear in SANs; '*.' only as the first label.
const DNS_NAME =
  /^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** Checks a spec and brings it to its normal form; every problem names the spec and the fix. */
export function normalizeSpec(spec: LeafSpec): NormalSpec {
  const where = `certificate '${spec.name}'`;
  const fail = (problem: string, fix: string): never => {
    throw new InputError(undefined, `${where}: ${problem}`, fix);
  };
  if (typeof spec.name !== 'string' || !NAME.test(spec.name))
    fail(
      `name ${JSON.stringify(spec.name)} is not a path under pki/`,
      "use letters, digits, '.', '_', '-' and '/' between parts, e.g. 'etcd/server-etcd1'",
    );
  if (typeof spec.ca !== 'string' || !NAME.test(spec.ca))
    fail(`ca ${JSON.stringify(spec.ca)} is not a CA name`, `use one of ${Object.values(CA).join(', ')}`);
  if (spec.ca === spec.name) fail('a leaf cannot be its own CA', 'give the leaf another name');
  if (typeof spec.commonName !== 'string' || spec.commonName.trim() === '')
    fail('commonName is empty', 'give the subject common name, e.g. kube-apiserver');
  const usages = uniqueSorted(spec.usages ?? []) as Usage[];
  if (usages.length === 0) fail('usages is empty', `give one or more of ${USAGES.join(', ')}`);
  for (const u of usages) if (!USAGES.includes(u)) fail(`usage '${u}' is unknown`, `use ${USAGES.join(', ')}`);
  const dns = uniqueSorted(spec.sans?.dns ?? []);
  for (const d of dns)
    if (!DNS_NAME.test(d)) fail(`'${d}' is not a DNS name`, 'put IP addresses under sans.ips, names under sans.dns');
  const ips = uniqueSorted((spec.sans?.ips ?? []).map((ip) => canonicalIp(ip, fail)));
  const days = spec.days ?? DEFAULT_LEAF_DAYS;
  if (!Number.isInteger(days) || days < 1)
    fail(`days ${JSON.stringify(spec.days)} is not a positive whole number`, 'give the lifetime in days, e.g. 365');
  const organization = uniqueSorted(spec.organization === undefined ? [] : ([] as string[]).concat(spec.organization));
  return { name: spec.name, ca: spec.ca, commonName: spec.commonName, organization, dns, ips, usages, days };
}

export function checkKeyType(keyType: unknown, where: string): KeyType {
  if (KEY_TYPES.includes(keyType as KeyType)) return keyType as KeyType;
  throw new InputError(
    undefined,
    `${where}: key type ${JSON.stringify(keyType)} is not supported`,
    `use ${KEY_TYPES.join(' or ')}`,
  );
}

/** IPs compare in one spelling: IPv6 as the library prints it (lower case, compressed). */
function canonicalIp(ip: string, fail: (problem: string, fix: string) => never): string {
  if (typeof ip !== 'string' || isIP(ip) === 0)
    return fail(`${JSON.stringify(ip)} is not an IP address`, 'put names under sans.dns, addresses under sans.ips');
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

export function uniqueSorted(values: string[]): string[] {
  return [...new Set(values)].sort();
}
