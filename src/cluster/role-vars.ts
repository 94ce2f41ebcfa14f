import { bundleVars } from '../bundle/cluster.js';
import type { BundleIndex } from '../bundle/format.js';
import type { Inventory } from '../engine/inventory/index.js';
import { type Cluster, clusterVars } from './cluster.js';
import { kubernetesVars } from './kubernetes.js';

/**
 * What a deploy gives the roles: the cluster's settings, its preloaded bundle's files and images,
 * and its Kubernetes settings. A role's clean, stop or start gets the same, so it finds its parts
 * where the deploy put them.
 */
export function roleVars(
  cluster: Cluster,
  inventory: Inventory,
  bundle: BundleIndex | undefined,
  repo?: { url: string; line: string },
): Record<string, unknown> {
  return {
    ...clusterVars(cluster, repo),
    ...(bundle ? bundleVars(cluster.dir, bundle, inventory) : {}),
    ...kubernetesVars(cluster, inventory, bundle),
  };
}
