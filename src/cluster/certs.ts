import { runAdhoc } from '../engine/adhoc.js';
import { hostVars, loadInventory, selectHosts } from '../engine/inventory/index.js';
import { certificateStatus, checkCertificates, DEFAULT_RENEW_WITHIN_DAYS, etcdCertSpecs, renewLeaves, type CertCheck, type LeafResult, type Member } from '../pki/index.js';
import { sh } from '../engine/shell.js';
import type { Cluster } from './cluster.js';

/** A certificate and where it was found: 'controller' (pki/) or a host's name. */
export type LocatedCheck = CertCheck & { where: string };

const DEFAULT_HOST_CERT_DIRS = ['/etc/kubernetes/pki'];

export function renewWindow(cluster: Cluster): number {
  const days = cluster.config.cert_renew_within_days;
  return typeof days === 'number' ? days : DEFAULT_RENEW_WITHIN_DAYS;
}

/**
 * Every certificate block in the folders, each after a `==> path` line. Only the certificate
 * blocks leave the host: a key next to a certificate (or in the same file) is never read out.
 */
export function hostCertsScript(dirs: string[]): string {
  return sh`find ${dirs} -type f \\( -name '*.crt' -o -name '*.pem' \\) 2>/dev/null | sort | while read -r f; do
  if grep -q 'BEGIN CERTIFICATE' "$f"; then echo "==> $f"; sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$f"; fi
done`;
}

export function parseHostCerts(stdout: string): Array<{ path: string; pem: string }> {
  return stdout
    .split(/^==> /m)
    .filter(Boolean)
    .map((block) => {
      const nl = block.indexOf('\n');
      return { path: block.slice(0, nl).trim(), pem: block.slice(nl + 1) };
    });
}

/** `furrow certs check`: pki/ on the controller, then every host's certificate folders. */
export async function checkClusterCerts(cluster: Cluster): Promise<LocatedCheck[]> {
  const opts = { renewWithinDays: renewWindow(cluster) };
  const local = (await checkCertificates(cluster.pkiDir, opts)).map((c) => ({ ...c, where: 'controller' }));
  const dirs = Array.isArray(cluster.config.furrow_cert_dirs) ? cluster.config.furrow_cert_dirs.map(String) : DEFAULT_HOST_CERT_DIRS;
  const results = await runAdhoc({ inventory: cluster.inventory, pattern: 'all', command: hostCertsScript(dirs), become: true });
  const remote: LocatedCheck[] = results.flatMap((r) => {
    if (r.status !== 'ok') {
      return [{ name: '(host)', path: '', subject: '', issuer: '', isCa: false, notAfter: '', daysLeft: 0, status: 'unreadable' as const, problem: r.error ?? r.stderr.trim(), where: r.host }];
    }
    return parseHostCerts(r.stdout).map((c) => ({ ...certificateStatus(c.path, c.path, c.pem, opts), where: r.host }));
  });
  return [...local, ...remote];
}

/** The etcd members as the etcd role names them: the host and its address (etcd_address, else ansible_host). */
export async function etcdMembers(cluster: Cluster): Promise<Member[]> {
  const inv = await loadInventory(cluster.inventory);
  return selectHosts(inv, 'etcd').map((name) => {
    const vars = hostVars(inv, name);
    const address = [vars.etcd_address, vars.ansible_host].find((v) => typeof v === 'string' && !v.includes('{{'));
    return { name, ip: String(address ?? name) };
  });
}

/** `furrow certs renew`: re-issues leaves with the existing CAs (keys kept); the caller rolls them out. */
export async function renewClusterCerts(cluster: Cluster, only?: string[]): Promise<LeafResult[]> {
  const days = typeof cluster.config.etcd_cert_days === 'number' ? cluster.config.etcd_cert_days : undefined;
  const keyType = cluster.config.pki_key_type === 'ecdsa' ? 'ecdsa' : 'rsa';
  return renewLeaves(cluster.pkiDir, etcdCertSpecs(await etcdMembers(cluster), days ? { days } : {}), { keyType, ...(only?.length ? { only } : {}) });
}
