import path from 'node:path';
import { type Command, Option } from 'commander';
import type { ClusterStatus } from '../cluster/status.js';
import { clusterRunsDir } from '../cluster/run.js';
import { EXIT } from '../engine/errors.js';
import { textTable } from '../engine/text-table.js';
import { parseCount } from './lab.js';
import { confirmedOrRefused, requireConfirmable } from './prompt.js';
import { stoppedReport } from './day2-options.js';
import { runOptionsFromFlags } from './run.js';

/** The flags every `furrow cluster` command takes: the cluster folder, and how to reach the hosts. */
interface ClusterFlags {
  inventory: string;
  json?: boolean;
  strictHostKeys?: boolean;
  forks?: number;
}

function addClusterOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-i, --inventory <cluster>', 'the cluster folder').makeOptionMandatory())
    .option('-f, --forks <n>', 'tasks in flight at once (default: every host)', parseCount)
    .option('--json', 'one JSON document instead of the text')
    .option('--strict-host-keys', 'refuse hosts whose key is not yet recorded');
}

const mib = (bytes: number | undefined) => (bytes === undefined ? '?' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);
const seconds = (ms: number | undefined) => (ms === undefined ? '' : ` in ${(ms / 1000).toFixed(1)} s`);

/** `furrow cluster status` as text: one section per subject, tables where there are rows. */
export function formatStatus(s: ClusterStatus, cwd = process.cwd()): string {
  // As the user named it: relative to the current folder when it is inside it.
  const named = path.relative(cwd, s.cluster);
  const lines: string[] = [`cluster ${named && !named.startsWith('..') ? named : s.cluster}`, ''];
  lines.push(
    `api: ${s.api.server || '(none)'}: ${s.api.ready ? `ready, ${s.api.detail}` : `NOT READY: ${s.api.detail}`}`,
    '',
  );

  lines.push(`nodes: ${s.nodes.filter((n) => n.ready).length} of ${s.nodes.length} Ready`);
  if (s.nodes.length)
    lines.push(
      textTable([
        ['NAME', 'STATUS', 'ROLES', 'VERSION', 'ADDRESS'],
        ...s.nodes.map((n) => [n.name, n.ready ? 'Ready' : 'NotReady', n.roles, n.version, n.address]),
      ]).trimEnd(),
    );
  lines.push('');

  lines.push(`etcd: ${s.etcd.filter((m) => m.healthy).length} of ${s.etcd.length} members healthy`);
  lines.push(
    textTable([
      ['MEMBER', 'HEALTH', 'VERSION', 'DB SIZE', 'LEADER', 'PROBLEM'],
      ...s.etcd.map((m) => [
        m.host,
        m.healthy ? 'healthy' : 'UNHEALTHY',
        m.version ?? '',
        m.version ? mib(m.dbSizeBytes) : '',
        m.leader ? 'yes' : m.leader === false ? 'no' : '',
        m.problem ?? '',
      ]),
    ]).trimEnd(),
  );
  lines.push('');

  const c = s.certificates;
  lines.push(`certificates: ${c.total}, ${c.attention.length ? `${c.attention.length} need attention` : 'all ok'}`);
  if (c.soonest)
    lines.push(
      `  first to expire: ${c.soonest.name} (${c.soonest.where}) on ${c.soonest.notAfter.slice(0, 10)}, ` +
        `${c.soonest.daysLeft} days left`,
    );
  for (const a of c.attention) lines.push(`  ${a.status}: ${a.name} (${a.where}), ${a.daysLeft} days left`);
  lines.push('');

  const d = s.lastDeploy;
  if (!d)
    lines.push(
      `last deploy: none recorded in ${path.relative(cwd, clusterRunsDir(s.cluster)) || '.'} (where the cluster's ` +
        'deploys keep their journals)',
    );
  else {
    const outcome = !d.finished
      ? 'did not finish (killed, or still running)'
      : d.failedHosts.length || d.unreachableHosts.length
        ? `failed on ${[...d.failedHosts, ...d.unreachableHosts].join(', ')}`
        : 'no host failed';
    lines.push(
      `last deploy: ${d.at}, steps ${d.steps.join(',')}, ${outcome}${seconds(d.durationMs)}`,
      `  journal: ${path.relative(cwd, d.journal)}`,
    );
  }

  if (s.drift) {
    const hosts = Object.entries(s.drift.changes).sort(([a], [b]) => a.localeCompare(b));
    const clean = !hosts.length && !s.drift.unreachable.length && !s.drift.failed.length;
    lines.push(
      `drift: deploy ${s.drift.steps.join(',')} --check ${clean ? 'would change nothing on any host' : 'found work:'}`,
    );
    for (const [host, tasks] of hosts)
      lines.push(
        `  ${host}: ${tasks.length} task(s) would change: ` +
          `${tasks.slice(0, 3).join('; ')}${tasks.length > 3 ? '; ...' : ''}`,
      );
    for (const host of s.drift.unreachable) lines.push(`  ${host}: unreachable`);
    for (const host of s.drift.failed)
      lines.push(`  ${host}: a task failed in check mode (run the deploy with --check to see it)`);
  } else lines.push('drift: not checked (--no-drift)');
  return `${lines.join('\n')}\n`;
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('day-2 operations on a deployed cluster');

  addClusterOptions(
    cluster
      .command('status')
      .description(
        'the cluster at a glance: the API and its nodes, etcd members and health, certificate expiry, the last ' +
          'deploy, and whether the hosts drifted from it (a deploy in check mode)',
      )
      .option('--no-drift', 'skip the drift check (the deploy in check mode, the slow part)'),
  )
    .addHelpText(
      'after',
      '\nExit status: 0 when everything is healthy and nothing drifted, 1 when something needs ' +
        'attention.\n\nExample:\n  furrow cluster status -i clusters/prod\n',
    )
    .action(async (o: ClusterFlags & { drift?: boolean }) => {
      const [{ clusterStatus, needsAttention }, run] = await Promise.all([
        import('../cluster/status.js'),
        runOptionsFromFlags(o),
      ]);
      const s = await clusterStatus(o.inventory, { run, drift: o.drift !== false });
      process.stdout.write(o.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
      process.exitCode = needsAttention(s) ? EXIT.failed : 0;
    });

  addClusterOptions(
    cluster
      .command('destroy')
      .description(
        "kubeasz's 99.clean: stop and take away every unit, binary, configuration, data folder, CNI interface and " +
          "iptables/IPVS rule Furrow made on the cluster's hosts (etcd's data too); the cluster folder stays",
      )
      .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
      .option('-C, --check', 'show what would be taken away, change nothing')
      .option('-v, --verbose', 'also show skipped tasks and every message')
      .option('--no-wait', 'when another run holds a host, fail at once (exit 4) instead of waiting for it'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  furrow cluster destroy -i clusters/prod --check\n  furrow cluster destroy -i clusters/prod ' +
        '--yes\n\nWhat stays on the hosts (Debian packages, chrony, ...): docs/cli.md#furrow-node.\n',
    )
    .action(async (o: ClusterFlags & { yes?: boolean; check?: boolean; verbose?: boolean; wait?: boolean }) => {
      const [{ destroyCluster }, { loadClusterWithHosts }] = await Promise.all([
        import('../cluster/clean.js'),
        import('../cluster/cluster.js'),
      ]);
      const { cluster, inventory } = await loadClusterWithHosts(o.inventory);
      const hosts = [...inventory.hosts.keys()];
      const noQuestion = !!(o.check || o.yes);
      requireConfirmable(
        'cluster destroy',
        noQuestion,
        cluster.inventory,
        'give --yes to destroy without asking (or --check to see what it would take away)',
      );
      if (
        !(await confirmedOrRefused(
          'cluster destroy',
          noQuestion,
          `Every Kubernetes service on ${hosts.join(', ')} stops and is taken away, with etcd's data (the cluster's ` +
            `whole state). Type 'yes' to destroy the cluster: `,
        ))
      )
        return;
      const code = await destroyCluster(o.inventory, await runOptionsFromFlags(o));
      const out = o.json ? process.stderr : process.stdout;
      if (code === 0 && !o.check)
        out.write(
          `cluster destroy: done; ${cluster.dir} is kept (inventory, config.yml, pki/, backup/): \`furrow deploy ` +
            `all\` from it makes the cluster again, empty\n`,
        );
      process.exitCode = code;
    });

  addClusterOptions(
    cluster
      .command('stop')
      .description(
        "kubeasz's 92.stop: stop every Kubernetes service on the cluster's hosts and keep it down at boot, from " +
          'kubelet down to etcd (the pods stop with the container runtime); nothing is taken away',
      )
      .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
      .option('-C, --check', 'show what would stop, change nothing')
      .option('-v, --verbose', 'also show skipped tasks and every message')
      .option('--no-wait', 'when another run holds a host, fail at once (exit 4) instead of waiting for it'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  furrow cluster stop -i clusters/prod --yes\n  furrow cluster start -i clusters/prod\n',
    )
    .action(async (o: ClusterFlags & { yes?: boolean; check?: boolean; verbose?: boolean; wait?: boolean }) => {
      const [{ startStopCluster }, { loadClusterWithHosts }] = await Promise.all([
        import('../cluster/start-stop.js'),
        import('../cluster/cluster.js'),
      ]);
      const { cluster, inventory } = await loadClusterWithHosts(o.inventory);
      const noQuestion = !!(o.check || o.yes);
      requireConfirmable(
        'cluster stop',
        noQuestion,
        cluster.inventory,
        'give --yes to stop without asking (or --check to see what it would stop)',
      );
      const hosts = [...inventory.hosts.keys()].join(', ');
      if (
        !(await confirmedOrRefused(
          'cluster stop',
          noQuestion,
          `Every Kubernetes service on ${hosts} stops, with every pod, until \`furrow cluster start\`. ` +
            `Type 'yes' to stop the cluster: `,
        ))
      )
        return;
      process.exitCode = await startStopCluster(o.inventory, 'stop', await runOptionsFromFlags(o));
    });

  addClusterOptions(
    cluster
      .command('start')
      .description(
        "kubeasz's 91.start: start every Kubernetes service on the cluster's hosts and enable it at boot, from etcd " +
          'up, each layer ready before the next (etcd healthy, apiservers ready, nodes Ready)',
      )
      .option('-C, --check', 'show what would start, change nothing')
      .option('-v, --verbose', 'also show skipped tasks and every message')
      .option('--no-wait', 'when another run holds a host, fail at once (exit 4) instead of waiting for it'),
  ).action(async (o: ClusterFlags & { check?: boolean; verbose?: boolean; wait?: boolean }) => {
    const { startStopCluster } = await import('../cluster/start-stop.js');
    process.exitCode = await startStopCluster(o.inventory, 'start', await runOptionsFromFlags(o));
  });

  addClusterOptions(
    cluster
      .command('upgrade')
      .description(
        "kubeasz's upgrade: move the cluster to the Kubernetes version a newer bundle carries, each master's control " +
          'plane in turn, then each kubelet host in turn (drained, new kubelet and kube-proxy, Ready, uncordoned)',
      )
      .argument('<bundle>', 'the bundle file of the version to go to (furrow bundle build)')
      .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
      .option('-C, --check', 'check that the upgrade can be made and show the plan, change nothing')
      .option('--force', 'also evict pods that no controller manages while draining (they are gone for good)')
      .option('--drain-timeout <seconds>', 'how long to wait for the evicted pods to go (default 120)', parseCount)
      .option('-v, --verbose', 'also show skipped tasks and every message')
      .option('--no-wait', 'when another run holds a host, fail at once (exit 4) instead of waiting for it'),
  )
    .addHelpText(
      'after',
      '\nRefused, before anything is touched: a downgrade, a skipped minor version, a bundle without every ' +
        'Kubernetes binary of its version, config.yml pinning another version, an apiserver that does not answer or ' +
        'a Node that is not Ready. A run that stops halfway goes on from there when run again.\n\nExamples:\n' +
        '  furrow cluster upgrade k8s-1.21.14.tar -i clusters/prod --check\n' +
        '  furrow cluster upgrade k8s-1.21.14.tar -i clusters/prod --yes\n',
    )
    .action(
      async (
        bundle: string,
        o: ClusterFlags & {
          yes?: boolean;
          check?: boolean;
          verbose?: boolean;
          wait?: boolean;
          force?: boolean;
          drainTimeout?: number;
        },
      ) => {
        const [{ planUpgrade, describeUpgrade, applyUpgrade }, run] = await Promise.all([
          import('../cluster/upgrade.js'),
          runOptionsFromFlags(o),
        ]);
        const out = o.json ? process.stderr : process.stdout;
        const say = (line: string) => out.write(`cluster upgrade: ${line}\n`);
        // Every check before the question, and the question before anything is touched.
        const plan = await planUpgrade(o.inventory, bundle);
        for (const line of describeUpgrade(plan)) say(line);
        if (o.check) return;
        requireConfirmable('cluster upgrade', !!o.yes, plan.cluster.inventory, 'give --yes to upgrade without asking');
        const question =
          'Every node is drained in turn and every Kubernetes service restarts. ' +
          `Type 'yes' to upgrade to ${plan.target}: `;
        if (!(await confirmedOrRefused('cluster upgrade', !!o.yes, question))) return;
        const r = await applyUpgrade(plan, {
          run,
          say,
          ...(o.force ? { force: true } : {}),
          ...(o.drainTimeout ? { drainTimeoutMs: o.drainTimeout * 1000 } : {}),
        });
        if (r.code === 0) say(`the cluster runs Kubernetes ${plan.target}`);
        else process.stderr.write(`${stoppedReport('cluster upgrade', r)}run the same command again to go on\n`);
        process.exitCode = r.code;
      },
    );
}
