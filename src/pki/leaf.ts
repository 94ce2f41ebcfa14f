/**
 * Leaf certificates on the controller: issued when missing, when they no longer match their spec
 * or CA, or when they expire within the renew window; otherwise kept byte for byte (kubeasz
 * re-issues every leaf on every run; we must not, or every re-run would restart every service).
 */
import { FurrowError, InputError } from '../engine/errors.js';
import { ensureAuthorityUnlocked, loadAuthority } from './authority.js';
import {
  daysLeft,
  describeCertificate,
  describeSpec,
  knownDescription,
  mismatches,
  parseCertificate,
  type CertDescription,
} from './describe.js';
import { issueLeafCertificate, type Authority } from './issue.js';
import { leafDigest, rememberedLeaf, rememberLeaf } from './checked.js';
import { generateKeyPair, loadKeyPair, publicKeyDer, type KeyPair } from './keys.js';
import { checkKeyType, normalizeSpec, type KeyType, type LeafSpec, type NormalSpec, type PkiSettings } from './spec.js';
import { CERT_MODE, certPath, KEY_MODE, keyPath, readIfExists, withPkiLock, writeAtomic } from './store.js';

export const DEFAULT_RENEW_WITHIN_DAYS = 30;

export interface LeafOptions extends PkiSettings {
  /** Re-issue when the certificate expires within this many days (default 30). */
  renewWithinDays?: number;
  /** Check mode: decide and describe, write nothing (not even a missing CA). */
  dryRun?: boolean;
  now?: Date;
}

export type LeafAction = 'kept' | 'issued' | 'would-issue';

export interface LeafResult {
  name: string;
  action: LeafAction;
  /** Why: 'valid until ...' when kept, or what was wrong ('missing', 'SANs are [...], want [...]'). */
  reason: string;
  certPath: string;
  keyPath: string;
  /** The certificate now in place (or, for would-issue, the one that would be). Never key material. */
  description: CertDescription;
  /** The certificate that was replaced, when there was one. */
  previous?: CertDescription;
  /** A new private key was (or would be) generated; otherwise the existing key was kept. */
  newKey: boolean;
}

interface Existing {
  cert?: ReturnType<typeof parseCertificate>;
  keys?: KeyPair;
  /** Problems that force a re-issue; empty means the leaf is good. */
  problems: string[];
}

/** Makes sure the leaf of `spec` exists and is good; see the file comment for when it is re-issued. */
export async function ensureLeaf(pkiDir: string, spec: LeafSpec, opts: LeafOptions = {}): Promise<LeafResult> {
  const normal = normalizeSpec(spec);
  const now = opts.now ?? new Date();
  // The CA first, alone under its own name (the first leaf makes it); then the leaf under its name,
  // beside the other hosts' leaves.
  const ca = await withPkiLock(pkiDir, () => ensureAuthorityUnlocked(pkiDir, normal.ca, { ...opts, now }), [normal.ca]);
  return withPkiLock(pkiDir, () => ensureLeafUnlocked(pkiDir, normal, { ...opts, now }, ca, false), [normal.name]);
}

/**
 * Re-issues leaves with the existing CAs, whatever their state (`certs renew`); `only` picks
 * leaves by name. Keys are kept (delete a .key to rotate it). A missing CA is an error here:
 * renewing must never start a new root.
 */
export async function renewLeaves(
  pkiDir: string,
  specs: LeafSpec[],
  opts: LeafOptions & { only?: string[] } = {},
): Promise<LeafResult[]> {
  const normal = specs.map(normalizeSpec);
  const known = new Set(normal.map((s) => s.name));
  const unknown = (opts.only ?? []).filter((n) => !known.has(n));
  if (unknown.length)
    throw new InputError(
      undefined,
      `no certificate named ${unknown.map((n) => `'${n}'`).join(', ')}`,
      `choose from: ${[...known].sort().join(', ')}`,
    );
  const chosen = opts.only ? normal.filter((s) => opts.only!.includes(s.name)) : normal;
  return withPkiLock(pkiDir, async () => {
    const results: LeafResult[] = [];
    for (const spec of chosen)
      results.push(await ensureLeafUnlocked(pkiDir, spec, opts, await requireAuthority(pkiDir, spec), true));
    return results;
  });
}

async function ensureLeafUnlocked(
  pkiDir: string,
  spec: NormalSpec,
  opts: LeafOptions,
  ca: { authority?: Authority },
  force: boolean,
): Promise<LeafResult> {
  const now = opts.now ?? new Date();
  const keyType = checkKeyType(opts.keyType ?? 'rsa', `certificate '${spec.name}'`);
  const files = { certPath: certPath(pkiDir, spec.name), keyPath: keyPath(pkiDir, spec.name) };
  const authority = ca.authority;
  if (!authority) {
    // Check mode with no CA yet: everything under it would be new.
    const description = describeSpec(spec, `CN=${spec.ca} (would be created)`, now);
    return {
      name: spec.name,
      action: 'would-issue',
      reason: `CA '${spec.ca}' does not exist yet`,
      ...files,
      description,
      newKey: true,
    };
  }
  const renewWithinDays = opts.renewWithinDays ?? DEFAULT_RENEW_WITHIN_DAYS;
  const kept = (description: CertDescription): LeafResult => ({
    name: spec.name,
    action: 'kept',
    reason: `valid until ${description.notAfter.slice(0, 10)} (${daysLeft(description.notAfter, now)} days left)`,
    ...files,
    description,
    newKey: false,
  });
  const texts = await readLeaf(files);
  const digest = force ? undefined : inputsDigest(texts, spec, authority, keyType);
  const remembered = digest && (await rememberedLeaf(pkiDir, spec.name, digest));
  if (remembered && !expiring(remembered.notAfter, renewWithinDays, now).length) {
    knownDescription(texts.crt!, remembered); // the tasks that put it on hosts describe it too
    return kept(remembered);
  }
  const existing = await inspectLeaf(files, texts, spec, authority, keyType, renewWithinDays, now);
  const previous = existing.cert ? describeCertificate(existing.cert) : undefined;
  if (!force && existing.problems.length === 0 && previous) {
    if (digest && !opts.dryRun) await rememberLeaf(pkiDir, spec.name, digest, previous);
    return kept(previous);
  }
  const reason = force ? 'renewal requested' : existing.problems.join('; ');
  const newKey = !existing.keys;
  if (opts.dryRun) {
    const description = describeSpec(spec, authority.cert.subject, now);
    return {
      name: spec.name,
      action: 'would-issue',
      reason,
      ...files,
      description,
      ...(previous ? { previous } : {}),
      newKey,
    };
  }
  const keys = existing.keys ?? (await generateKeyPair(keyType));
  const cert = await issueLeafCertificate(spec, keys, authority, now);
  const certText = `${cert.toString('pem')}\n`;
  if (newKey) await writeAtomic(files.keyPath, keys.privatePem, KEY_MODE);
  await writeAtomic(files.certPath, certText, CERT_MODE);
  const description = describeCertificate(cert);
  // Remembered as an inspection would: it was issued with this key, so only the spec is matched
  // here. The first re-run then reads it from memory instead of parsing and verifying it again.
  const written: LeafTexts = { crt: certText, key: newKey ? keys.privatePem : texts.key };
  const issuedDigest = inputsDigest(written, spec, authority, keyType);
  if (issuedDigest && mismatches(cert, spec, authority.cert, keyType).length === 0)
    await rememberLeaf(pkiDir, spec.name, issuedDigest, description);
  return {
    name: spec.name,
    action: 'issued',
    reason,
    ...files,
    description,
    ...(previous ? { previous } : {}),
    newKey,
  };
}

async function requireAuthority(pkiDir: string, spec: NormalSpec): Promise<{ authority: Authority }> {
  const authority = await loadAuthority(pkiDir, spec.ca);
  if (!authority)
    throw new FurrowError(
      'module',
      `certificate '${spec.name}': its CA '${spec.ca}' does not exist in ${pkiDir}; deploy first (renew only ` +
        `re-issues leaves of existing CAs)`,
    );
  return { authority };
}

/** Why a certificate valid until `notAfter` must be re-issued now: expired, or within the renew window. */
function expiring(notAfter: string, renewWithinDays: number, now: Date): string[] {
  const left = daysLeft(notAfter, now);
  const day = notAfter.slice(0, 10);
  if (left < 0) return [`expired on ${day}`];
  if (left < renewWithinDays) return [`expires on ${day}, within the renew window of ${renewWithinDays} days`];
  return [];
}

interface LeafTexts {
  crt?: string;
  key?: string;
}

/** The leaf's certificate and key as they are on the controller (each undefined when missing). */
async function readLeaf(files: { certPath: string; keyPath: string }): Promise<LeafTexts> {
  const [crt, key] = await Promise.all([readIfExists(files.certPath), readIfExists(files.keyPath)]);
  return { crt, key };
}

/**
 * The digest of everything inspectLeaf reads for this leaf (see checked.ts); undefined when the
 * certificate or its key is missing: then there is nothing to remember, and the inspection says why.
 */
function inputsDigest({ crt, key }: LeafTexts, spec: NormalSpec, ca: Authority, keyType: KeyType): string | undefined {
  if (crt === undefined || key === undefined) return undefined;
  return leafDigest([crt, key, new Uint8Array(ca.cert.rawData), JSON.stringify(spec), keyType]);
}

/** Lists every reason to re-issue the leaf read as `texts`. A key of another type than wanted is replaced. */
async function inspectLeaf(
  files: { certPath: string; keyPath: string },
  { crt, key }: LeafTexts,
  spec: NormalSpec,
  ca: Authority,
  keyType: KeyType,
  renewWithinDays: number,
  now: Date,
): Promise<Existing> {
  const keys = key === undefined ? undefined : await loadKeyPair(key, files.keyPath);
  const usableKeys = keys && keys.type === keyType ? keys : undefined;
  if (crt === undefined)
    return { ...(usableKeys ? { keys: usableKeys } : {}), problems: [`${files.certPath} is missing`] };
  const cert = parseCertificate(crt, files.certPath);
  const problems = mismatches(cert, spec, ca.cert, keyType);
  if (!keys) problems.push(`${files.keyPath} is missing`);
  else if (!Buffer.from(cert.publicKey.rawData).equals(await publicKeyDer(keys)))
    problems.push(`${files.keyPath} is not the key of this certificate`);
  if (problems.length === 0 && !(await cert.verify({ publicKey: ca.cert as never, signatureOnly: true }))) {
    problems.push(`not signed by the current CA '${spec.ca}' (the CA was replaced)`);
  }
  problems.push(...expiring(cert.notAfter.toISOString(), renewWithinDays, now));
  // A key that does not match the certificate is still a good key: the new certificate is issued for it.
  return { cert, ...(usableKeys ? { keys: usableKeys } : {}), problems };
}
