import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';

/**
 * The README's first command: the main job on the built-in default. A 3-host lab, the lab's
 * Kubernetes binaries and offline bundle, a cluster folder from the lab, `deploy all`, then what
 * a user checks first (nodes, pods) and how to go on or take it all down.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'a Kubernetes cluster on this machine: boot a 3-host lab, deploy all steps on it, show its nodes and pods',
    )
    .option('--name <name>', 'the lab to boot (or reuse)', 'default')
    .option('--dir <dir>', 'the cluster folder (made from the lab on the first run, reused after)', 'clusters/demo')
    .action(async (o: { name: string; dir: string }) => {
      process.exitCode = await runDemo(o.name, o.dir);
    });
}

async function runDemo(name: string, dir: string): Promise<number> {
  const started = Date.now();
  const log = (line: string) => process.stderr.write(`demo: ${line}\n`);
  const took = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  const [{ labStatus, labUp }, kube, { buildLabBundle, labBundleFile }] = await Promise.all([
    import('../lab/lab.js'),
    import('../lab/kubernetes.js'),
    import('../lab/lab-bundle.js'),
  ]);

  // A lab of 3 hosts or more already up (an earlier demo's, or one made bigger on purpose) is
  // kept with its cluster folder: then the run below is a re-run of what that folder says, which
  // changes nothing. Otherwise a fresh lab, and a fresh cluster folder for it.
  const status = await labStatus({ name, cwd: process.cwd(), log });
  const reuse =
    status !== undefined &&
    status.hosts.length >= 3 &&
    status.hosts.every((h) => h.state === 'up') &&
    existsSync(path.join(dir, 'inventory.yml'));
  if (reuse) {
    log(`1/5 the lab '${name}' is up already (${status.hosts.length} hosts) and ${dir} is its cluster: both kept`);
  } else {
    log(`1/5 the lab '${name}': 3 Debian hosts with systemd and sshd, on a private bridge`);
    const lab = await labUp({ name, hosts: 3, cwd: process.cwd(), log });
    log(`lab is up (${took()}); inventory ${lab.inventory}`);
    if (existsSync(dir)) {
      const old = `${dir}.${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
      renameSync(dir, old);
      log(`${dir} belonged to an earlier lab: moved to ${old}`);
    }
  }

  log(
    kube.cachedKubernetesBinDir()
      ? '2/5 Kubernetes v1.20.2 binaries: cached on this machine'
      : "2/5 Kubernetes v1.20.2 binaries: not built on this machine yet; building them once from Debian's source " +
          'package takes about 5 minutes on 2 idle cores (more under load) and ~5 GB free; later runs take the cache',
  );
  const k = await kube.labKubernetes({ log });
  await buildLabBundle({ kubernetes: k, log });
  log(`binaries and the lab's offline bundle ready (${took()})`);

  const [{ newCluster }, { preloadCluster }, { deployCluster }, { runOptionsFromFlags }] = await Promise.all([
    import('../cluster/new.js'),
    import('../cluster/preload.js'),
    import('../cluster/deploy.js'),
    import('./run.js'),
  ]);
  if (reuse) {
    log(`3/5 the cluster folder ${dir}: kept (its PKI and settings stay)`);
  } else {
    newCluster(dir, { cwd: process.cwd(), fromLab: name });
    log(`3/5 the cluster folder ${dir}, made from the lab (config.yml says what differs on lab hosts)`);
  }
  const run = await runOptionsFromFlags({ inventory: dir });
  log(
    `the hosts get binaries, OS packages and images from the bundle, as an offline site's do: furrow ` +
      `bundle preload ${labBundleFile()} -i ${dir}`,
  );
  const preloaded = await preloadCluster(labBundleFile(), dir, run, (line) => log(line));
  if (preloaded !== 0) return preloaded;

  log(`4/5 furrow deploy all -i ${dir}: every step, as one run (${took()} so far)`);
  const deployed = await deployCluster(dir, 'all', run);
  if (deployed !== 0) {
    log(
      `deploy all failed (exit ${deployed}); the lines above name the host and task. Re-run 'npm run demo' after a ` +
        `fix: it picks up where it is.`,
    );
    return deployed;
  }

  log(`5/5 the cluster, as kubectl on the first master sees it (${took()} in all):`);
  const [{ runAdhoc }, { adhocExitCode }] = await Promise.all([import('../engine/adhoc.js'), import('./exec.js')]);
  const results = await runAdhoc({
    inventory: path.join(dir, 'inventory.yml'),
    pattern: 'kube_master[0]',
    command:
      'kubectl() { /opt/kube/bin/kubectl --kubeconfig=/root/.kube/config "$@"; }; echo "$ kubectl get nodes -o ' +
      'wide"; kubectl get nodes -o wide 2>&1 && echo && echo "$ kubectl get pods -A -o wide" && kubectl get pods ' +
      '-A -o wide 2>&1',
    onResult: (r) => process.stdout.write(`${r.stdout}${r.status === 'ok' ? '' : r.stderr || r.error || ''}`),
  });
  process.stdout.write(
    `
Use it:
  npx furrow exec 'kube_master[0]' -i ${dir}/inventory.yml -- /opt/kube/bin/kubectl get pods -A   (kubectl on the \
first master)
  KUBECONFIG=${dir}/kubeconfig kubectl get nodes   (from here, with your own kubectl; the admin kubeconfig: keep it \
secret)
  npx furrow deploy all -i ${dir}   (again: changes nothing)
Take it down:
  npx furrow lab down${name === 'default' ? '' : ` --name ${name}`}   (every process, mount and ` +
      `link the lab made; ${dir} stays)
`,
  );
  return adhocExitCode(results);
}
