import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../engine/errors.js';
import type { Inventory } from '../engine/inventory/types.js';
import { PACKAGE_ROOT, packagePath } from '../package-root.js';
import { addRunOptions, type RunFlags, runWithFlags } from './run.js';

export const PACKAGE_PLAYBOOKS = packagePath('playbooks');

/** Where the hosts reach the controller's package repository: config.yml, else the lab's bridge. */
async function repoAddress(config: Record<string, unknown>, inventoryPath: string, inv: Inventory): Promise<string> {
  if (typeof config.furrow_repo_address === 'string') return config.furrow_repo_address;
  const { hostVars } = await import('../engine/inventory/index.js');
  const first = [...inv.hosts.keys()][0];
  const gateway = first ? hostVars(inv, first).furrow_lab_gateway : undefined;
  if (typeof gateway === 'string') return gateway;
  throw new InputError(
    { file: path.join(path.dirname(inventoryPath), 'config.yml') },
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

/** Runs deploy steps on a cluster: its inventory, settings and paths, its repo/ served meanwhile. */
export async function deployCluster(stepArg: string, o: RunFlags): Promise<number> {
  const [{ loadClusterWithHosts, clusterVars }, { resolveSteps }, { serveRepo, aptSourcesLine }, { bundleVars, readClusterBundle }, { checkKubernetesInput, kubernetesVars }] = await Promise.all([
    import('../cluster/cluster.js'),
    import('../cluster/steps.js'),
    import('../repo/index.js'),
    import('../bundle/cluster.js'),
    import('../cluster/kubernetes.js'),
  ]);
  const { cluster, inventory } = await loadClusterWithHosts(o.inventory);
  const steps = resolveSteps(stepArg, PACKAGE_PLAYBOOKS);
  const bundle = readClusterBundle(cluster.dir);
  // Bad input for the control plane stops here, before any host is touched.
  if (steps.some((s) => s.name === 'master')) checkKubernetesInput(cluster, inventory, bundle);
  const serving = existsSync(path.join(cluster.repoDir, 'Packages'));
  const server = serving ? await serveRepo(cluster.repoDir, { host: await repoAddress(cluster.config, cluster.inventory, inventory), port: repoPort(cluster.config, cluster.dir) }) : undefined;
  try {
    const repo = server ? { url: server.url, line: aptSourcesLine(server.url) } : undefined;
    return await runWithFlags(
      steps.map((s) => s.playbook),
      o,
      // Several steps run as one graph: a host that finished one step starts the next at once.
      {
        inventory: cluster.inventory,
        // A preloaded bundle (<cluster>/bundle/) supplies the binaries and the images.
        clusterVars: { ...clusterVars(cluster, repo), ...(bundle ? bundleVars(cluster.dir, bundle, inventory) : {}), ...kubernetesVars(cluster, inventory, bundle) },
        ...(steps.length > 1 ? { joinPlays: false } : {}),
      },
    );
  } finally {
    await server?.close();
  }
}

export function registerDeploy(program: Command): void {
  addRunOptions(
    program
      .command('deploy')
      .description('deploy one step of a cluster (prepare, etcd, ...; 01..07), or all of them as one run')
      .argument('<step>', 'a step name or number, or all (90)'),
    'the cluster folder (hosts or inventory.yml, config.yml, pki/, bin/, repo/)',
  )
    .addHelpText('after', '\nExamples:\n  furrow deploy all -i clusters/prod\n  furrow deploy etcd -i clusters/prod --check --diff\n  furrow deploy 01 -i clusters/prod -l h3\n')
    .action(async (stepArg: string, o: RunFlags) => {
      process.exitCode = await deployCluster(stepArg, o);
    });

  program
    .command('new')
    .description('create a cluster folder from the examples (or from a running lab)')
    .argument('<dir>', 'the folder to create')
    .option('--from-lab [name]', "use a lab's inventory (default lab: 'default') and lab settings")
    .action(async (dir: string, o: { fromLab?: string | boolean }) => {
      if (existsSync(path.join(dir, 'hosts')) || existsSync(path.join(dir, 'inventory.yml'))) {
        throw new InputError({ file: dir }, 'already holds a cluster', 'pick a new folder name');
      }
      mkdirSync(dir, { recursive: true });
      if (o.fromLab) {
        const { labClientDir } = await import('../lab/layout.js');
        const labName = o.fromLab === true ? 'default' : o.fromLab;
        const labInventory = path.join(labClientDir(process.cwd(), labName), 'inventory.yml');
        if (!existsSync(labInventory)) throw new InputError({ file: labInventory }, `lab '${labName}' is not up here`, `run 'furrow lab up${labName === 'default' ? '' : ` --name ${labName}`}' first`);
        copyFileSync(labInventory, path.join(dir, 'inventory.yml'));
        copyFileSync(path.join(PACKAGE_ROOT, 'inventory', 'config.lab.yml'), path.join(dir, 'config.yml'));
      } else {
        copyFileSync(path.join(PACKAGE_ROOT, 'inventory', 'hosts.example'), path.join(dir, 'hosts'));
        copyFileSync(path.join(PACKAGE_ROOT, 'inventory', 'config.example.yml'), path.join(dir, 'config.yml'));
      }
      for (const sub of ['pki', 'bin']) mkdirSync(path.join(dir, sub), { recursive: true });
      writeFileSync(path.join(dir, 'bin', 'README'), 'Binaries for the hosts (etcd, etcdctl, ...): filled by `furrow bundle preload` or by hand.\n');
      process.stdout.write(`created ${dir}: edit ${o.fromLab ? 'config.yml' : 'hosts and config.yml'}, then: furrow deploy all -i ${dir}\n`);
    });
}
