/**
 * Expiry report (`furrow certs check`): every certificate under pki/ with its subject, expiry and
 * days left. `certificateStatus` is the same judgement for one PEM, so certificates read from the
 * hosts are judged exactly like the controller's.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { daysLeft, describeCertificate, parseCertificate } from './describe.js';
import { DEFAULT_RENEW_WITHIN_DAYS } from './leaf.js';

export type CertStatus = 'ok' | 'expiring' | 'expired' | 'unreadable';

export interface CertCheck {
  /** Path under pki/ without extension ('etcd/server-etcd1'); for host files, what the caller passed. */
  name: string;
  path: string;
  subject: string;
  issuer: string;
  isCa: boolean;
  notAfter: string;
  daysLeft: number;
  status: CertStatus;
  /** Only for 'unreadable': why. */
  problem?: string;
}

export interface CheckOptions {
  renewWithinDays?: number;
  now?: Date;
}

/** Judges one certificate: expired, expiring within the window, ok; an unparseable file is 'unreadable'. */
export function certificateStatus(name: string, file: string, pem: string, opts: CheckOptions = {}): CertCheck {
  const now = opts.now ?? new Date();
  const window = opts.renewWithinDays ?? DEFAULT_RENEW_WITHIN_DAYS;
  let described: ReturnType<typeof describeCertificate>;
  try {
    described = describeCertificate(parseCertificate(pem, file));
  } catch (err) {
    return {
      name,
      path: file,
      subject: '',
      issuer: '',
      isCa: false,
      notAfter: '',
      daysLeft: 0,
      status: 'unreadable',
      problem: (err as Error).message,
    };
  }
  const left = daysLeft(described.notAfter, now);
  const expired = new Date(described.notAfter).getTime() <= now.getTime();
  const status: CertStatus = expired ? 'expired' : left < window ? 'expiring' : 'ok';
  return {
    name,
    path: file,
    subject: described.subject,
    issuer: described.issuer,
    isCa: described.isCa,
    notAfter: described.notAfter,
    daysLeft: left,
    status,
  };
}

/** Every *.crt under pkiDir (CAs included: they expire too), sorted by name. */
export async function checkCertificates(pkiDir: string, opts: CheckOptions = {}): Promise<CertCheck[]> {
  const files = await findCertificates(pkiDir);
  const checks = await Promise.all(
    files.map(async (file) => {
      const name = path
        .relative(pkiDir, file)
        .replace(/\.crt$/, '')
        .split(path.sep)
        .join('/');
      return certificateStatus(name, file, await readFile(file, 'utf8'), opts);
    }),
  );
  return checks.sort((a, b) => a.name.localeCompare(b.name));
}

/** True when any certificate needs attention: the CLI's non-zero exit. */
export function needsAttention(checks: CertCheck[]): boolean {
  return checks.some((c) => c.status !== 'ok');
}

async function findCertificates(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const found: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await findCertificates(full)));
    else if (entry.isFile() && entry.name.endsWith('.crt')) found.push(full);
  }
  return found;
}
