/**
 * The roots: the etcd CA, the cluster CA and the front-proxy CA (each its own, as kubeadm keeps
 * them), and the service-account key pair. A root is created once and then only read: a new CA
 * would invalidate every certificate signed by the old one, so a damaged root is an error to fix
 * by hand, never something replaced quietly.
 */
import path from 'node:path';
import { FurrowError } from '../engine/errors.js';
import { describeCertificate, parseCertificate, type CertDescription } from './describe.js';
import { createCaCertificate, type Authority } from './issue.js';
import { generateKeyPair, loadKeyPair, publicKeyDer, publicKeyPem } from './keys.js';
import { CA, checkKeyType, DEFAULT_CA_DAYS, type PkiSettings } from './spec.js';
import { CERT_MODE, certPath, KEY_MODE, keyPath, readIfExists, withPkiLock, writeAtomic } from './store.js';

/** Subject CNs as kubeadm names them. */
export const CA_COMMON_NAMES: Record<string, string> = {
  [CA.etcd]: 'etcd-ca',
  [CA.cluster]: 'kubernetes',
  [CA.frontProxy]: 'front-proxy-ca',
};

export type RootAction = 'kept' | 'created' | 'would-create';

export interface RootResult {
  name: string;
  action: RootAction;
  path: string;
  /** Absent when the CA would be created (check mode). */
  description?: CertDescription;
}

/** Loads a CA, or undefined when neither of its files exists; half a CA, or a mismatch, is an error. */
export async function loadAuthority(pkiDir: string, name: string): Promise<Authority | undefined> {
  const crtFile = certPath(pkiDir, name);
  const keyFile = keyPath(pkiDir, name);
  const [crt, key] = await Promise.all([readIfExists(crtFile), readIfExists(keyFile)]);
  if (crt === undefined && key === undefined) return undefined;
  if (crt === undefined || key === undefined) {
    const [have, missing] = crt === undefined ? [keyFile, crtFile] : [crtFile, keyFile];
    throw new FurrowError(
      'module',
      `CA '${name}': ${have} exists but ${missing} does not; restore it from a backup (a new CA would invalidate ` +
        `every certificate it signed), or remove both to start a new CA`,
    );
  }
  const memoKey = `${crtFile}\0${crt}\0${key}`;
  const known = checkedAuthorities.get(memoKey);
  if (known) return known;
  const cert = parseCertificate(crt, crtFile);
  const keys = await loadKeyPair(key, keyFile);
  if (!Buffer.from(cert.publicKey.rawData).equals(await publicKeyDer(keys))) {
    throw new FurrowError(
      'module',
      `CA '${name}': ${keyFile} is not the key of ${crtFile}; restore the matching pair from a backup`,
    );
  }
  if (!describeCertificate(cert).isCa)
    throw new FurrowError('module', `CA '${name}': ${crtFile} is not a CA certificate (basicConstraints CA:false)`);
  const authority = { name, cert, keys };
  if (checkedAuthorities.size >= CHECKED_AUTHORITIES_MAX) checkedAuthorities.clear();
  checkedAuthorities.set(memoKey, authority);
  return authority;
}

/**
 * CAs loaded and checked in this process, by their files' names and texts: every leaf task reads
 * its CA again, and the checks (the key matches, it is a CA) are the same for the same bytes.
 */
const checkedAuthorities = new Map<string, Authority>();
const CHECKED_AUTHORITIES_MAX = 64;

/** The CA, created when it does not exist yet (not in a dry run: then `undefined` and 'would-create'). */
export async function ensureAuthorityUnlocked(
  pkiDir: string,
  name: string,
  settings: PkiSettings & { dryRun?: boolean; now?: Date },
): Promise<{ authority?: Authority; result: RootResult }> {
  const existing = await loadAuthority(pkiDir, name);
  const file = certPath(pkiDir, name);
  if (existing)
    return {
      authority: existing,
      result: { name, action: 'kept', path: file, description: describeCertificate(existing.cert) },
    };
  if (settings.dryRun) return { result: { name, action: 'would-create', path: file } };
  const keys = await generateKeyPair(checkKeyType(settings.keyType ?? 'rsa', `CA '${name}'`));
  const commonName = CA_COMMON_NAMES[name] ?? path.basename(name);
  const cert = await createCaCertificate(commonName, keys, settings.caDays ?? DEFAULT_CA_DAYS, settings.now);
  // Key first: a crash in between leaves "key without cert", which loadAuthority reports.
  await writeAtomic(keyPath(pkiDir, name), keys.privatePem, KEY_MODE);
  await writeAtomic(file, `${cert.toString('pem')}\n`, CERT_MODE);
  return {
    authority: { name, cert, keys },
    result: { name, action: 'created', path: file, description: describeCertificate(cert) },
  };
}

/** The service-account signing pair (sa.key, sa.pub): not a certificate, only a key pair. */
export async function ensureServiceAccountKeyUnlocked(
  pkiDir: string,
  settings: PkiSettings & { dryRun?: boolean },
): Promise<RootResult> {
  const keyFile = path.join(pkiDir, 'sa.key');
  const pubFile = path.join(pkiDir, 'sa.pub');
  const key = await readIfExists(keyFile);
  if (key !== undefined) {
    const pair = await loadKeyPair(key, keyFile);
    const pub = await publicKeyPem(pair);
    // sa.pub is derived: rewrite it when missing or stale, never the key.
    if ((await readIfExists(pubFile)) !== pub && !settings.dryRun) await writeAtomic(pubFile, pub, CERT_MODE);
    return { name: 'sa', action: 'kept', path: keyFile };
  }
  if (settings.dryRun) return { name: 'sa', action: 'would-create', path: keyFile };
  const pair = await generateKeyPair(checkKeyType(settings.keyType ?? 'rsa', 'service-account key'));
  await writeAtomic(keyFile, pair.privatePem, KEY_MODE);
  await writeAtomic(pubFile, await publicKeyPem(pair), CERT_MODE);
  return { name: 'sa', action: 'created', path: keyFile };
}

/** The service-account pair, created when missing (not in a dry run), under the pki/ lock. */
export function ensureServiceAccountKey(
  pkiDir: string,
  settings: PkiSettings & { dryRun?: boolean } = {},
): Promise<RootResult> {
  return withPkiLock(pkiDir, () => ensureServiceAccountKeyUnlocked(pkiDir, settings), ['sa']);
}

/** Every root of a cluster: the three CAs and the service-account pair, created where missing. */
export async function ensureAuthorities(
  pkiDir: string,
  settings: PkiSettings & { dryRun?: boolean; now?: Date } = {},
): Promise<RootResult[]> {
  return withPkiLock(pkiDir, async () => {
    const results: RootResult[] = [];
    for (const name of [CA.etcd, CA.cluster, CA.frontProxy])
      results.push((await ensureAuthorityUnlocked(pkiDir, name, settings)).result);
    results.push(await ensureServiceAccountKeyUnlocked(pkiDir, settings));
    return results;
  });
}
