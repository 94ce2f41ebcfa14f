import { existsSync, readFileSync } from 'node:fs';
import { InputError } from '../engine/errors.js';
import type { ReachedHost } from '../engine/run/runner.js';
import { sh } from '../engine/shell.js';
import { CA, certPath } from '../pki/index.js';
import { fingerprints, trustPath } from '../pki/trust.js';
import type { Cluster } from './cluster.js';

/**
 * Pre-flight: checks a deploy makes on the hosts before any task of the run touches one. Each
 * reads only; a problem is bad input (exit 2) and no host has been changed.
 */

/** A CA the hosts may trust, where it lives on them, and where the cluster folder keeps it. */
interface TrustedCa {
  label: string;
  /** The CA's name under pki/ ('etcd/ca', 'ca'). */
  name: string;
  hostPath: string;
}

/** The CAs the roles put on hosts, at the paths the cluster's settings give (the roles' defaults otherwise). */
export function trustedCas(config: Record<string, unknown>): TrustedCa[] {
  const etcdDir = typeof config.etcd_cert_dir === 'string' ? config.etcd_cert_dir : '/etc/kubernetes/pki/etcd';
  const caDir = typeof config.ca_dir === 'string' ? config.ca_dir : '/etc/kubernetes/pki';
  return [
    { label: 'etcd CA', name: CA.etcd, hostPath: `${etcdDir}/ca.crt` },
    { label: 'cluster CA', name: CA.cluster, hostPath: `${caDir}/ca.crt` },
  ];
}

/** Each CA file on the host after a `==> path` line (certificates only; no key is read). */
export function hostCasScript(paths: string[]): string {
  return (
    sh`for f in ${paths}; do if [ -f "$f" ]; then echo "==> $f"; sed -n '/BEGIN CERTIFICATE/,/END ` +
    sh`CERTIFICATE/p' "$f"; fi; done`
  );
}

export function parseHostCas(stdout: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const block of stdout.split(/^==> /m).filter(Boolean)) {
    const nl = block.indexOf('\n');
    found.set(block.slice(0, nl).trim(), block.slice(nl + 1));
  }
  return found;
}

/** One CA whose hosts trust another certificate than the folder's, with the hosts per fingerprint. */
export interface CaMismatch {
  label: string;
  /** pki/'s file, and its fingerprint (undefined: pki/ has none, a run would make a new CA). */
  folderFile: string;
  folder?: string;
  hosts: Map<string, string[]>;
}

/**
 * Compares what each host trusts (host -> path -> PEM) with the folder's CAs. While a CA is
 * rotated, the folder trusts two and the hosts one or both: a host passes when it trusts any of
 * the folder's (a lost or re-created folder shares none with the hosts).
 */
export function compareCas(cluster: Cluster, onHosts: Map<string, Map<string, string>>): CaMismatch[] {
  const mismatches: CaMismatch[] = [];
  for (const ca of trustedCas(cluster.config)) {
    const folderFile = certPath(cluster.pkiDir, ca.name);
    const bundleFile = trustPath(cluster.pkiDir, ca.name);
    const trusted = [bundleFile, folderFile].find((f) => existsSync(f));
    const folderPrints = trusted ? fingerprints(readFileSync(trusted, 'utf8')) : [];
    const hosts = new Map<string, string[]>();
    for (const [host, files] of onHosts) {
      const pem = files.get(ca.hostPath);
      if (!pem) continue;
      let prints: string[];
      try {
        prints = fingerprints(pem);
      } catch {
        prints = [];
      }
      if (prints.some((p) => folderPrints.includes(p))) continue;
      const print = prints.length ? prints.join(' + ') : `(unreadable certificate in ${ca.hostPath})`;
      hosts.set(print, [...(hosts.get(print) ?? []), host]);
    }
    if (hosts.size)
      mismatches.push({
        label: ca.label,
        folderFile: trusted ?? folderFile,
        ...(folderPrints.length ? { folder: folderPrints.join(' + ') } : {}),
        hosts,
      });
  }
  return mismatches;
}

export function describeMismatches(mismatches: CaMismatch[]): string {
  return mismatches
    .map((m) => {
      const folder = m.folder
        ? `${m.folderFile} has SHA-256 ${m.folder}`
        : `${m.folderFile} does not exist (the run would make a new CA)`;
      const hosts = [...m.hosts].map(([print, names]) => `hosts ${names.join(', ')} trust SHA-256 ${print}`);
      return `the ${m.label} differs: ${folder}; ${hosts.join('; ')}`;
    })
    .join('\n  ');
}

/**
 * A cluster folder whose pki/ is not the one the hosts trust (a lost or re-created folder) would put
 * certificates from another CA on running members and split them. Run as the run's `beforeTasks`:
 * on its own connections, before any task, so the deploy stops before it touches a host. Hosts
 * that cannot be reached, or cannot be read, are left to the run, which reports them.
 */
export async function checkHostsTrustFolderCas(cluster: Cluster, hosts: ReachedHost[]): Promise<void> {
  const script = hostCasScript(trustedCas(cluster.config).map((c) => c.hostPath));
  const read = await Promise.all(
    hosts.map(async ({ name, conn }) => {
      const r = await conn.exec(script, { become: true }).catch(() => undefined);
      return r?.code === 0 ? ([[name, parseHostCas(r.stdout.toString())]] as const) : [];
    }),
  );
  const mismatches = compareCas(cluster, new Map(read.flat()));
  if (!mismatches.length) return;
  throw new InputError(
    { file: cluster.pkiDir },
    `the hosts trust another CA than this cluster folder's pki/; nothing was changed ` +
      `on any host:\n  ${describeMismatches(mismatches)}`,
    "restore the cluster's pki/ from its backup (the one the hosts were deployed with), or rotate the CA on purpose",
  );
}
