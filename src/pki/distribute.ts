/**
 * What distributing a certificate to a host involves on the controller side: the certificate,
 * its key and (when asked) its CA certificate, each with its sha256 and a description for the
 * diff. In check mode a certificate that would be issued has no bytes yet, only a description.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FurrowError } from '../engine/errors.js';
import { describePem, parseCertificate, type CertDescription, type Certificate } from './describe.js';
import type { LeafResult } from './leaf.js';
import { CA } from './spec.js';
import { certPath, keyPath, readIfExists } from './store.js';
import { pemBlocks, trustPath } from './trust.js';

export type SourceKind = 'cert' | 'key' | 'ca';

export interface SourceFile {
  kind: SourceKind;
  localPath: string;
  /** Absent when the file would first be issued (check mode): it differs from anything on a host. */
  sha256?: string;
  /** Certificates only (never keys): what the diff shows. */
  description?: CertDescription;
}

export interface SourceRequest {
  name: string;
  /** The outcome of ensureLeaf at plan time, when the task gave a spec. */
  leaf?: LeafResult;
  /** The CA's name when known (from the spec); otherwise it is found among the cluster's CAs. */
  caName?: string;
  key: boolean;
  ca: boolean;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A file's bytes, or undefined when it cannot be read; synchronously, as store.ts readIfExists says why. */
function readOrUndefined(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

export async function distributionSources(pkiDir: string, req: SourceRequest): Promise<SourceFile[]> {
  const crtFile = certPath(pkiDir, req.name);
  const pending = req.leaf?.action === 'would-issue';
  const out: SourceFile[] = [];
  let certText: string | undefined;
  if (pending) {
    out.push({ kind: 'cert', localPath: crtFile, description: req.leaf!.description });
  } else {
    const bytes = readOrUndefined(crtFile);
    if (!bytes)
      throw new FurrowError(
        'module',
        `certificate '${req.name}' is not in ${pkiDir} (no ${crtFile}); give the task a spec so it is issued, ` +
          `or issue it first`,
      );
    certText = bytes.toString('utf8');
    out.push({ kind: 'cert', localPath: crtFile, sha256: sha256(bytes), description: describePem(certText, crtFile) });
  }
  if (req.key) {
    const keyFile = keyPath(pkiDir, req.name);
    const bytes = pending && req.leaf!.newKey ? undefined : readOrUndefined(keyFile);
    if (!bytes && !(pending && req.leaf!.newKey))
      throw new FurrowError('module', `certificate '${req.name}': its key ${keyFile} is missing on the controller`);
    out.push({ kind: 'key', localPath: keyFile, ...(bytes ? { sha256: sha256(bytes) } : {}) });
  }
  if (req.ca) out.push(await caSource(pkiDir, req, certText === undefined ? undefined : { text: certText, crtFile }));
  return out;
}

async function caSource(
  pkiDir: string,
  req: SourceRequest,
  cert: { text: string; crtFile: string } | undefined,
): Promise<SourceFile> {
  const caName = req.caName ?? (cert ? await findIssuer(pkiDir, parseCertificate(cert.text, cert.crtFile)) : undefined);
  if (!caName)
    throw new FurrowError(
      'module',
      `certificate '${req.name}': none of the CAs in ${pkiDir} (${Object.values(CA).join(', ')}) signed it; give the ` +
        `task its spec (which names the CA)`,
    );
  // While the CA is rotated the hosts get its trust bundle (both CAs) in place of the CA alone.
  const bundleFile = trustPath(pkiDir, caName);
  const trust = await readIfExists(bundleFile);
  const localPath = trust === undefined ? certPath(pkiDir, caName) : bundleFile;
  const text = trust ?? (await readIfExists(localPath));
  // Check mode before the CA exists: it would be created along with the leaf.
  if (text === undefined) {
    const subject = `CA '${caName}' (would be created)`;
    return {
      kind: 'ca',
      localPath,
      description: {
        subject,
        issuer: subject,
        sans: [],
        usages: ['ca'],
        isCa: true,
        notBefore: '',
        notAfter: '(new)',
        serial: '(new)',
      },
    };
  }
  const [first, ...more] = pemBlocks(text);
  const description = describePem(first ?? text, localPath);
  if (more.length) description.subject += ` (and ${more.length} more CA in the trust bundle)`;
  return { kind: 'ca', localPath, sha256: sha256(Buffer.from(text, 'utf8')), description };
}

/** The cluster CA that signed `cert` (by subject, then signature), or the certificate itself when it is a CA. */
export async function findIssuer(pkiDir: string, cert: Certificate): Promise<string | undefined> {
  for (const name of Object.values(CA)) {
    const text = await readIfExists(certPath(pkiDir, name));
    if (text === undefined) continue;
    const ca = parseCertificate(text, certPath(pkiDir, name));
    if (ca.subject === cert.issuer && (await cert.verify({ publicKey: ca as never, signatureOnly: true }))) return name;
  }
  return undefined;
}
