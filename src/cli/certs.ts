import type { Command } from 'commander';
import { EXIT } from '../engine/errors.js';
import { deploy } from './deploy.js';
import { addRunOptions, type RunFlags } from './run.js';

const list = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

export function registerCerts(program: Command): void {
  const certs = program.command('certs').description("check and renew a cluster's certificates");

  certs
    .command('check')
    .description('every certificate in pki/ and on the hosts, with expiry and days left')
    .requiredOption('-i, --inventory <cluster>', 'the cluster folder')
    .option('--json', 'one JSON object per certificate per line')
    .addHelpText(
      'after',
      '\nExit status: 0 when every certificate is valid beyond the renew window (cert_renew_within_days,\ndefault ' +
        '30), 1 when any is expired, expiring or unreadable.\n',
    )
    .action(async (o: { inventory: string; json?: boolean }) => {
      const [{ loadCluster }, { checkClusterCerts }, { needsAttention }] = await Promise.all([
        import('../cluster/cluster.js'),
        import('../cluster/certs.js'),
        import('../pki/index.js'),
      ]);
      const checks = await checkClusterCerts(loadCluster(o.inventory));
      for (const c of checks) {
        if (o.json) process.stdout.write(`${JSON.stringify(c)}\n`);
        else {
          const days = c.status === 'unreadable' ? (c.problem ?? '') : `${c.daysLeft} days left (${c.notAfter})`;
          process.stdout.write(
            `${c.where.padEnd(10)} ${c.status.toUpperCase().padEnd(10)} ${c.name}  ${c.subject}  ${days}\n`,
          );
        }
      }
      process.exitCode = needsAttention(checks) ? EXIT.failed : EXIT.ok;
    });

  addRunOptions(
    certs
      .command('renew')
      .description(
        're-issue leaf certificates with the existing CAs and roll them out (etcd members, then apiservers, ' +
          'restart one at a time)',
      )
      .option('--only <names>', "only these (comma separated, as pki/ names them: 'etcd/server-h1')", list),
    'the cluster folder',
  ).action(async (o: RunFlags & { only?: string[] }) => {
    const [{ loadCluster }, { renewClusterCerts, clusterRolloutSteps }] = await Promise.all([
      import('../cluster/cluster.js'),
      import('../cluster/certs.js'),
    ]);
    const cluster = loadCluster(o.inventory);
    const renewed = await renewClusterCerts(cluster, o.only);
    for (const r of renewed) process.stderr.write(`certs: ${r.name}: ${r.action} (${r.reason})\n`);
    // The steps that use them distribute the new certificates; their handlers restart only the
    // components whose files changed, one host at a time (etcd members, then apiservers, ...).
    let code = 0;
    for (const step of clusterRolloutSteps(cluster, renewed)) {
      code = await deploy(step, o);
      if (code !== 0) break;
    }
    process.exitCode = code;
  });

  addRunOptions(
    certs
      .command('rotate-ca')
      .description(
        'replace CAs without an outage: trust old and new everywhere, re-issue every leaf with new keys and roll ' +
          'it out host by host, then drop the old CA (a cut-off rotation resumes when run again)',
      )
      .option(
        '--ca <names>',
        'only these CAs (comma separated): etcd, cluster, front-proxy (default: all three)',
        list,
      ),
    'the cluster folder',
  )
    .addHelpText(
      'after',
      '\nEach phase ends with deploy etcd,master,node (and ex-lb when the cluster has it); restarts are one host ' +
        'at a time.\nAfter the trust phase of the cluster CA, the pods of every ReplicaSet, DaemonSet and ' +
        "StatefulSet are replaced\n(evicted one at a time) so they read the new CA. See docs/cli.md, 'furrow certs'.\n",
    )
    .action(async (o: RunFlags & { ca?: string[] }) => {
      const { rotateClusterCas } = await import('../cluster/rotate-ca.js');
      process.exitCode = await rotateClusterCas(o, (step) => deploy(step, o));
    });
}
