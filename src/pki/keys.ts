/**
 * Key pairs: generated with Node's WebCrypto, stored as PEM (PKCS#8 private keys, SPKI public
 * keys, which Go's crypto/tls, etcd and Kubernetes all read), loaded back for signing.
 */
import { createPrivateKey, createPublicKey, type KeyObject, type webcrypto as WebCrypto } from 'node:crypto';
import { FurrowError } from '../engine/errors.js';
import type { KeyType } from './spec.js';
import { webcrypto, x509 } from './x509.js';

type CryptoKey = WebCrypto.CryptoKey;

export interface KeyPair {
  type: KeyType;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** PKCS#8 PEM: the only form the private key is ever written in. */
  privatePem: string;
}

// RSA 2048 for compatibility (kubeadm's default), ECDSA P-256 when asked; both sign with SHA-256.
const GENERATE = {
  rsa: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  ecdsa: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
} as const;

/** The algorithm a key of this type signs certificates with. */
export function signingAlgorithm(type: KeyType): { name: string; hash: string } {
  return type === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', hash: 'SHA-256' };
}

export async function generateKeyPair(type: KeyType): Promise<KeyPair> {
  const pair = (await webcrypto.subtle.generateKey(GENERATE[type], true, [
    'sign',
    'verify',
  ])) as WebCrypto.CryptoKeyPair;
  const der = await webcrypto.subtle.exportKey('pkcs8', pair.privateKey);
  const privatePem = x509.PemConverter.encode(der, 'PRIVATE KEY');
  return { type, privateKey: pair.privateKey, publicKey: pair.publicKey, privatePem };
}

/**
 * Keys loaded in this process, by their PEM text: a run loads each CA's key for every leaf it
 * checks. Only loads that worked are kept, so a bad key's error always names the file it came from.
 */
const loaded = new Map<string, Promise<KeyPair>>();
const LOADED_MEMO_MAX = 4096;

/** Loads a PEM private key (PKCS#8, or PKCS#1 / SEC1 as other tools write them); `where` names the file in errors. */
export function loadKeyPair(pem: string, where: string): Promise<KeyPair> {
  const known = loaded.get(pem);
  if (known) return known;
  if (loaded.size >= LOADED_MEMO_MAX) loaded.clear();
  const loading = readKeyPair(pem, where);
  loaded.set(pem, loading);
  loading.catch(() => loaded.delete(pem));
  return loading;
}

async function readKeyPair(pem: string, where: string): Promise<KeyPair> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (err) {
    throw new FurrowError('module', `${where} is not a readable private key (${(err as Error).message})`);
  }
  const type = keyTypeOf(keyObject.asymmetricKeyType, keyObject.asymmetricKeyDetails?.namedCurve, where);
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  const algorithm = GENERATE[type];
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', spki, algorithm, true, ['verify']);
  return { type, privateKey, publicKey, privatePem: keyObject.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function keyTypeOf(asymmetric: string | undefined, curve: string | undefined, where: string): KeyType {
  if (asymmetric === 'rsa') return 'rsa';
  if (asymmetric === 'ec' && curve === 'prime256v1') return 'ecdsa';
  const what = asymmetric === 'ec' ? `an EC key on curve ${curve ?? '?'}` : `a ${asymmetric ?? 'unknown'} key`;
  throw new FurrowError('module', `${where} is ${what}: only RSA and ECDSA P-256 keys are supported`);
}

/** The DER SubjectPublicKeyInfo of a key pair, to compare with a certificate's public key. */
export async function publicKeyDer(pair: KeyPair): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey('spki', pair.publicKey));
}

/** The public key as PEM (the service-account pair's sa.pub). */
export async function publicKeyPem(pair: KeyPair): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('spki', pair.publicKey), 'PUBLIC KEY');
}

/** The key type of a certificate's public key. */
export function certificateKeyType(cert: InstanceType<typeof x509.X509Certificate>): KeyType | 'other' {
  const name = cert.publicKey.algorithm.name;
  if (name === 'RSASSA-PKCS1-v1_5' || name === 'RSA-PSS' || name === 'RSA-OAEP') return 'rsa';
  return name === 'ECDSA' && (cert.publicKey.algorithm as { namedCurve?: string }).namedCurve === 'P-256'
    ? 'ecdsa'
    : 'other';
}
