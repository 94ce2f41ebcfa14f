import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Inventory } from '../engine/inventory/types.js';
import { selectHosts } from '../engine/inventory/select.js';
import { DEBIAN_REPO_DIR, IMAGES_DIR, INDEX_NAME, type BundleIndex } from './format.js';

/**
 * A bundle in a cluster folder: `furrow bundle preload` unpacks it into <cluster>/bundle/, and
 * from then on every run on the cluster (preload itself and `furrow deploy`) sees what it holds
 * through these variables. Binaries come from it instead of the cluster's bin/.
 */
export const clusterBundleDir = (clusterDir: string) => path.join(clusterDir, 'bundle');

export function readClusterBundle(clusterDir: string): BundleIndex | undefined {
  const file = path.join(clusterBundleDir(clusterDir), INDEX_NAME);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BundleIndex) : undefined;
}

export function bundleVars(clusterDir: string, index: BundleIndex, inventory: Inventory): Record<string, unknown> {
  const dir = clusterBundleDir(clusterDir);
  const binaries = index.binaries.flatMap((b) => {
    const hosts = selectHosts(inventory, b.hosts);
    return b.files.map((f) => ({ name: path.basename(f), src: path.join(dir, f), arch: b.arch, hosts }));
  });
  const vars: Record<string, unknown> = {
    furrow_bundle_dir: dir,
    // One arch: a plain path. Several: each host's own (facts are then gathered by every play).
    furrow_bin_dir:
      index.arches.length === 1 ? path.join(dir, 'bin', index.arches[0]!) : `${path.join(dir, 'bin')}/{{ facts.arch }}`,
    furrow_bundle_binaries: binaries,
    furrow_bundle_images: index.images.map((i) => ({ name: i.name, digest: i.digest })),
    furrow_bundle_layout: path.join(dir, IMAGES_DIR),
  };
  if (index.packages) {
    const prefix = `${DEBIAN_REPO_DIR}/`;
    vars.furrow_bundle_repo = {
      dir: path.join(dir, DEBIAN_REPO_DIR),
      codename: index.packages.distribution.codename,
      distribution: `${index.packages.distribution.id} ${index.packages.distribution.versionId}`,
      files: index.files.filter((f) => f.path.startsWith(prefix)).map((f) => f.path.slice(prefix.length)),
    };
  }
  return vars;
}
