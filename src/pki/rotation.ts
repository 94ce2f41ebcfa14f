/**
 * CA rotation on the controller's pki/ (kubeasz's kca-renew, without the outage): three phases,
 * each followed by a rollout the caller runs (deploy), so every host moves one step at a time:
 *
 *  trust    a new CA is made beside each old one (<ca>.next.crt/.key) and the hosts trust both
 *           (<ca>.trust.crt: old, new); every leaf is still the old CA's.
 *  reissue  the new CA signs (<ca>.crt/.key) and the old one stays trusted (bundle: new, old); the
 *           old CA's leaves are removed from pki/, so the rollout issues new ones with new keys
 *           (a leaked key must not live on) and rolls them out host by host.
 *  drop     the bundle goes: the hosts trust the new CA alone.
 *
 * pki/rotation.json records the phase and whether its rollout ended, so a rotation cut off at any
 * point is resumed by running it again. Each move between phases is safe to repeat.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { FurrowError } from '../engine/errors.js';
import { CA_COMMON_NAMES, loadAuthority } from './authority.js';
import { parseCertificate } from './describe.js';
import { createCaCertificate } from './issue.js';
import { generateKeyPair } from './keys.js';
import { checkKeyType, DEFAULT_CA_DAYS, type PkiSettings } from './spec.js';
import { CERT_MODE, certPath, KEY_MODE, keyPath, readIfExists, writeAtomic } from './store.js';
import { bundle, pemBlocks, trustPath } from './trust.js';

export type RotationPhase = 'trust' | 'reissue' | 'drop';
export const ROTATION_PHASES: readonly RotationPhase[] = ['trust', 'reissue', 'drop'];

export interface RotationState {
  /** The CAs rotated, as pki/ names them ('etcd/ca', 'ca', 'front-proxy-ca'). */
  cas: string[];
  phase: RotationPhase;
  /** The phase's rollout ended well; the next run moves on to the next phase. */
  rolledOut: boolean;
  started: string;
}

const stateFile = (pkiDir: string) => path.join(pkiDir, 'rotation.json');
/** The CA being brought in during the trust phase: 'ca' -> pki/ca.next. */
const nextName = (ca: string) => `${ca}.next`;

export async function readRotation(pkiDir: string): Promise<RotationState | undefined> {
  const text = await readIfExists(stateFile(pkiDir));
  if (text === undefined) return undefined;
  try {
    const state = JSON.parse(text) as RotationState;
    if (Array.isArray(state.cas) && ROTATION_PHASES.includes(state.phase)) return state;
  } catch {
    // reported below
  }
  throw new FurrowError('input', `${stateFile(pkiDir)} is not a rotation state Furrow wrote; restore it or remove it`);
}

export function writeRotation(pkiDir: string, state: RotationState): Promise<void> {
  return writeAtomic(stateFile(pkiDir), `${JSON.stringify(state, null, 2)}\n`, CERT_MODE);
}

/**
 * Phase trust: a new CA beside each old one (made once; a repeated call keeps it) and a bundle of
 * both. Every CA must exist: rotation never starts a cluster's first CA.
 */
export async function beginRotation(
  pkiDir: string,
  cas: string[],
  settings: PkiSettings & { now?: Date } = {},
): Promise<RotationState> {
  const now = settings.now ?? new Date();
  for (const ca of cas) {
    const old = await loadAuthority(pkiDir, ca);
    if (!old)
      throw new FurrowError(
        'input',
        `CA '${ca}' does not exist in ${pkiDir}: there is nothing to rotate; deploy first`,
      );
    let next = await loadAuthority(pkiDir, nextName(ca));
    if (!next) {
      const keys = await generateKeyPair(checkKeyType(settings.keyType ?? 'rsa', `CA '${ca}'`));
      // A name of its own, so a certificate's issuer says which CA signed it.
      const iso = now.toISOString();
      const stamp = `${iso.slice(0, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}`;
      const commonName = `${CA_COMMON_NAMES[ca] ?? path.basename(ca)}-${stamp}`;
      const cert = await createCaCertificate(commonName, keys, settings.caDays ?? DEFAULT_CA_DAYS, now);
      await writeAtomic(keyPath(pkiDir, nextName(ca)), keys.privatePem, KEY_MODE);
      await writeAtomic(certPath(pkiDir, nextName(ca)), `${cert.toString('pem')}\n`, CERT_MODE);
      next = { name: nextName(ca), cert, keys };
    }
    await writeAtomic(trustPath(pkiDir, ca), bundle([old.cert.toString('pem'), next.cert.toString('pem')]), CERT_MODE);
  }
  const state: RotationState = { cas, phase: 'trust', rolledOut: false, started: now.toISOString() };
  await writeRotation(pkiDir, state);
  return state;
}

/** After a phase's rollout: the next phase's files, and its state (undefined when the rotation is done). */
export async function advanceRotation(pkiDir: string, state: RotationState): Promise<RotationState | undefined> {
  if (!state.rolledOut) throw new Error(`phase ${state.phase} has not been rolled out`);
  if (state.phase === 'trust') {
    for (const ca of state.cas) await swapAuthority(pkiDir, ca);
    return save(pkiDir, { ...state, phase: 'reissue', rolledOut: false });
  }
  if (state.phase === 'reissue') {
    for (const ca of state.cas) await rm(trustPath(pkiDir, ca), { force: true });
    return save(pkiDir, { ...state, phase: 'drop', rolledOut: false });
  }
  await rm(stateFile(pkiDir), { force: true });
  return undefined;
}

async function save(pkiDir: string, state: RotationState): Promise<RotationState> {
  await writeRotation(pkiDir, state);
  return state;
}

/**
 * The new CA takes the old one's place. In an order that a repeat after any cut finishes: the
 * bundle (new first: it signs now), the old CA's leaves out of pki/, the new pair in, .next gone.
 */
async function swapAuthority(pkiDir: string, ca: string): Promise<void> {
  const [nextCrt, nextKey] = await Promise.all([
    readIfExists(certPath(pkiDir, nextName(ca))),
    readIfExists(keyPath(pkiDir, nextName(ca))),
  ]);
  if (nextCrt === undefined || nextKey === undefined) return; // swapped already
  // The old CA is the bundle's other certificate: first until the bundle is rewritten, second after (a repeat).
  const newPem = pemBlocks(nextCrt)[0];
  const trusted = pemBlocks((await readIfExists(trustPath(pkiDir, ca))) ?? '');
  const oldPem = trusted.find((block) => block !== newPem);
  if (!oldPem) throw new FurrowError('input', `${trustPath(pkiDir, ca)} is missing: the trust phase did not end`);
  if (trusted[0] !== newPem) await writeAtomic(trustPath(pkiDir, ca), bundle([nextCrt, oldPem]), CERT_MODE);
  await removeLeavesOf(pkiDir, ca, oldPem);
  await writeAtomic(keyPath(pkiDir, ca), nextKey, KEY_MODE);
  await writeAtomic(certPath(pkiDir, ca), nextCrt, CERT_MODE);
  await rm(keyPath(pkiDir, nextName(ca)), { force: true });
  await rm(certPath(pkiDir, nextName(ca)), { force: true });
}

/** Every leaf in pki/ the old CA signed, certificate and key, so the next deploy issues it anew. */
async function removeLeavesOf(pkiDir: string, ca: string, oldPem: string): Promise<void> {
  const old = parseCertificate(oldPem, trustPath(pkiDir, ca));
  for (const file of await certificateFiles(pkiDir)) {
    const text = await readFile(file, 'utf8');
    const cert = parseCertificate(pemBlocks(text)[0] ?? text, file);
    if (cert.issuer !== old.subject || cert.subject === old.subject) continue;
    if (!(await cert.verify({ publicKey: old as never, signatureOnly: true }))) continue;
    await rm(file.replace(/\.crt$/, '.key'), { force: true });
    await rm(file, { force: true });
  }
}

/** The leaf certificate files under pki/: not the CAs, their bundles or the ones being brought in. */
async function certificateFiles(pkiDir: string): Promise<string[]> {
  const entries = await readdir(pkiDir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.crt') && !/^(ca|front-proxy-ca)(\.next|\.trust)?\.crt$/.test(e.name))
    .map((e) => path.join(e.parentPath ?? e.path, e.name));
}
