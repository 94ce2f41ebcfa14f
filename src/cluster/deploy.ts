import { readClusterBundle } from '../bundle/cluster.js';
import { loadClusterWithHosts } from './cluster.js';
import { checkExLbInput } from './ex-lb.js';
import { checkKubernetesInput } from './kubernetes.js';
import { checkNetworkInput } from './network.js';
import { checkHostsTrustFolderCas } from './preflight.js';
import { withClusterRepo } from './repo-serve.js';
import { PACKAGE_PLAYBOOKS, runOnCluster, type ClusterRunOptions, type ListRequest } from './run.js';
import { roleVars } from './role-vars.js';
import { resolveSteps } from './steps.js';

/**
 * `furrow deploy STEP`: runs deploy steps on a cluster, its repo/ served meanwhile; the run's exit
 * code. Every check of the folder happens before the first host is touched.
 */
export async function deployCluster(
  clusterDir: string,
  stepArg: string,
  run: ClusterRunOptions,
  list?: ListRequest,
): Promise<number> {
  // The step first: a mistyped one is named with the known ones whatever state the folder is in.
  const steps = resolveSteps(stepArg, PACKAGE_PLAYBOOKS);
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  const bundle = readClusterBundle(cluster.dir);
  // Bad input for the control plane stops here, before any host is touched.
  if (steps.some((s) => s.name === 'master')) checkKubernetesInput(cluster, inventory, bundle);
  if (steps.some((s) => s.name === 'network')) checkNetworkInput(cluster);
  // The VIP goes into the apiserver certificate (04) as well as into keepalived (10).
  if (steps.some((s) => s.name === 'master' || s.name === 'ex-lb')) checkExLbInput(cluster, inventory);
  // A listing touches no host, so it does not ask the hosts either. The check runs on the run's
  // own connections (one per host), before its first task.
  const options: ClusterRunOptions = list
    ? run
    : { ...run, beforeTasks: (hosts) => checkHostsTrustFolderCas(cluster, hosts) };
  return withClusterRepo(
    cluster,
    inventory,
    (repo) =>
      runOnCluster(
        cluster,
        steps.map((s) => s.playbook),
        options,
        // A preloaded bundle (<cluster>/bundle/) supplies the binaries and the images.
        roleVars(cluster, inventory, bundle, repo),
        list,
      ),
    { serve: !list },
  );
}
