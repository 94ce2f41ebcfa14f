import path from 'node:path';
import { readBundleIndex } from '../bundle/archive.js';
import { bundleVars, readClusterBundle } from '../bundle/cluster.js';
import type { Progress } from '../bundle/download.js';
import { sameContent } from '../bundle/format.js';
import { unpackIntoCluster } from '../bundle/preload.js';
import { clusterVars, loadClusterWithHosts } from './cluster.js';
import { PACKAGE_PLAYBOOKS, runOnCluster, type ClusterRunOptions } from './run.js';

const PRELOAD_PLAYBOOK = path.join(PACKAGE_PLAYBOOKS, 'preload.yml');

/**
 * `furrow bundle preload FILE`: the bundle unpacked into the cluster folder, then a run of the
 * bundle role that puts on each host what it lacks; the run's exit code.
 */
export async function preloadCluster(
  file: string,
  clusterDir: string,
  run: ClusterRunOptions,
  log: Progress,
): Promise<number> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  if (!run.check) await unpackIntoCluster(file, cluster.dir, log);
  const index = readClusterBundle(cluster.dir);
  // Check mode writes nothing, on the controller either: the hosts are compared with what the
  // cluster folder holds, which may be an older bundle, or none.
  if (run.check && !(index && sameContent(index, await readBundleIndex(file)))) {
    log(
      `check mode: ${file} is not unpacked into ${cluster.dir}/bundle ` +
        `yet${index ? '; comparing the hosts with the bundle there now' : ''}`,
    );
    if (!index) return 0;
  }
  return runOnCluster(cluster, [PRELOAD_PLAYBOOK], run, {
    ...clusterVars(cluster),
    ...bundleVars(cluster.dir, index!, inventory),
  });
}
