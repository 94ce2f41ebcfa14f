import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { hostVars } from '../engine/inventory/index.js';
import type { Inventory } from '../engine/inventory/types.js';
import type { Cluster } from './cluster.js';

/** The cluster's repo/ as the hosts see it while it is served: its URL and their apt line. */
export interface ServedRepo {
  url: string;
  line: string;
}

/** Where the hosts reach the controller's package repository: config.yml, else the lab's bridge. */
function repoAddress(cluster: Cluster, inv: Inventory): string {
  if (typeof cluster.config.furrow_repo_address === 'string') return cluster.config.furrow_repo_address;
  const first = [...inv.hosts.keys()][0];
  const gateway = first ? hostVars(inv, first).furrow_lab_gateway : undefined;
  if (typeof gateway === 'string') return gateway;
  throw new InputError(
    { file: path.join(path.dirname(cluster.inventory), 'config.yml') },
    'the cluster has a repo/ to serve but no address to serve it on',
    "set furrow_repo_address: to this machine's address on the hosts' network",
  );
}

/**
 * The repository's port is the same on every deploy of a cluster (the hosts' apt line names it,
 * and a re-run must change nothing): furrow_repo_port, else one derived from the cluster's folder.
 */
export function repoPort(config: Record<string, unknown>, clusterDir: string): number {
  if (typeof config.furrow_repo_port === 'number') return config.furrow_repo_port;
  return 20000 + (createHash('sha256').update(clusterDir).digest().readUInt16BE(0) % 20000);
}

/**
 * Runs `work` with the cluster's repo/ served to its hosts (when it holds a repository), then stops
 * serving. `serve: false` (a listing, which reaches no host) gives the same URL without serving:
 * the address may not exist on this machine then (a lab that is down).
 */
export async function withClusterRepo<T>(
  cluster: Cluster,
  inventory: Inventory,
  work: (repo: ServedRepo | undefined) => Promise<T>,
  opts: { serve: boolean } = { serve: true },
): Promise<T> {
  if (!existsSync(path.join(cluster.repoDir, 'Packages'))) return work(undefined);
  const { serveRepo, aptSourcesLine, repoUrl } = await import('../repo/index.js');
  if (!opts.serve) {
    const url = repoUrl(repoAddress(cluster, inventory), repoPort(cluster.config, cluster.dir));
    return work({ url, line: aptSourcesLine(url) });
  }
  const server = await serveRepo(cluster.repoDir, {
    host: repoAddress(cluster, inventory),
    port: repoPort(cluster.config, cluster.dir),
  });
  try {
    return await work({ url: server.url, line: aptSourcesLine(server.url) });
  } finally {
    await server.close();
  }
}
