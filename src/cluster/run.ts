import path from 'node:path';
import type { ListMode } from '../engine/run/listing.js';
import type { RunOptions } from '../engine/run/runner.js';
import { packagePath } from '../package-root.js';
import type { Cluster } from './cluster.js';

/** The playbooks that ship with Furrow: the deploy steps (NN.name.yml) and preload.yml. */
export const PACKAGE_PLAYBOOKS = packagePath('playbooks');

/**
 * How to run, as the caller asked (check, limit, tags, reporters, ...): everything of a run except
 * what the cluster itself decides (its inventory, its variables, which playbooks).
 */
export type ClusterRunOptions = Omit<
  RunOptions,
  'playbook' | 'morePlaybooks' | 'inventory' | 'clusterVars' | 'joinPlays' | 'modules'
>;

/**
 * Where the runs on a cluster keep their journals: in the cluster's folder, so `cluster status` and
 * `--resume` find them whatever folder the command ran from.
 */
export const clusterRunsDir = (clusterDir: string): string => path.join(clusterDir, '.furrow', 'runs');

/** --list-hosts, --list-tasks, --list-tags, --syntax-check: describe the run instead of running it. */
export interface ListRequest {
  mode: ListMode;
  print: (text: string) => void;
}

/** Runs playbooks on a cluster's hosts with the cluster's variables (or lists what it would do); the exit code. */
export async function runOnCluster(
  cluster: Cluster,
  playbooks: string[],
  run: ClusterRunOptions,
  clusterVars: Record<string, unknown>,
  list?: ListRequest,
): Promise<number> {
  // Loaded here, not at start-up: `furrow new` needs none of the engine.
  const [{ runPlaybook, listRun }, { modules }] = await Promise.all([
    import('../engine/run/runner.js'),
    import('../modules/index.js'),
  ]);
  const options: RunOptions = {
    ...run,
    modules,
    playbook: playbooks[0]!,
    morePlaybooks: playbooks.slice(1),
    inventory: cluster.inventory,
    clusterVars,
    runsDir: run.runsDir ?? clusterRunsDir(cluster.dir),
    // Several steps run as one graph: a host that finished one step starts the next at once.
    ...(playbooks.length > 1 ? { joinPlays: false } : {}),
  };
  if (list) {
    list.print(await listRun(options, list.mode));
    return 0;
  }
  return (await runPlaybook(options)).exitCode;
}
