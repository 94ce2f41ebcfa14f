import type { Command } from 'commander';
import type { RestoreStep } from '../cluster/etcd-restore.js';
import { confirmedOrRefused, requireConfirmable } from './prompt.js';
import { addDay2Options, type Day2Flags, stoppedReport } from './day2-options.js';
import { runOptionsFromFlags } from './run.js';

/** The steps of a restore as the user confirms them. */
export function describePlan(plan: RestoreStep[]): string {
  return plan
    .map((s, i) => `  ${i + 1}. ${s.what}: ${s.hosts.length ? s.hosts.join(', ') : `(no host in ${s.group})`}\n`)
    .join('');
}

export function registerEtcd(program: Command): void {
  const etcd = program
    .command('etcd')
    .description(
      "back up and restore a cluster's etcd (snapshots in <cluster>/backup/), and add and remove its members",
    );

  addDay2Options(
    etcd
      .command('backup')
      .description(
        'a snapshot from the first healthy etcd member into <cluster>/backup/snapshot-<UTC time>.db, with its ' +
          '.sha256 (mode 0600: it holds every Secret)',
      ),
  )
    .addHelpText('after', '\nExample:\n  furrow etcd backup -i clusters/prod\n')
    .action(async (o: Day2Flags) => {
      const [{ backupEtcd }, run] = await Promise.all([import('../cluster/etcd-backup.js'), runOptionsFromFlags(o)]);
      const r = await backupEtcd(o.inventory, run);
      const out = o.json ? process.stderr : process.stdout;
      if (r.file) {
        out.write(
          `etcd backup: ${r.file}\n  size: ${r.size} bytes\n  sha256: ${r.sha256} (in ${r.file}.sha256)\n  member: ` +
            `${r.member ?? '(unknown)'}\n  it holds every Secret of the cluster: keep it as safe as pki/ (mode 0600)\n`,
        );
      } else {
        process.stderr.write(`etcd backup: no snapshot was taken (exit ${r.code}); see the failed task above\n`);
      }
      process.exitCode = r.code;
    });

  addDay2Options(
    etcd
      .command('restore')
      .description(
        'restore every etcd member from a snapshot: checks its sha256 first, then stops the apiservers and etcd, ' +
          "restores, starts etcd and the apiservers (the members' old data is kept)",
      )
      .argument('<snapshot>', 'a snapshot file, or the name of one in <cluster>/backup/ (with or without .db)')
      .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  furrow etcd restore snapshot-20261204T211500Z -i clusters/prod\n  furrow etcd restore ' +
        '/safe/place/snapshot-20261204T211500Z.db -i clusters/prod --yes\n',
    )
    .action(async (snapshotArg: string, o: Day2Flags & { yes?: boolean }) => {
      const { prepareRestore, checkRestoreHosts, restoreEtcd } = await import('../cluster/etcd-restore.js');
      // Every check before anything is stopped: the input first (the snapshot's sha256; whether
      // anyone can confirm), then the hosts; the question comes last.
      const prepared = await prepareRestore(o.inventory, snapshotArg);
      requireConfirmable('etcd restore', !!o.yes, prepared.snapshot, 'give --yes to restore without asking');
      await checkRestoreHosts(prepared.cluster, prepared.inventory, o);
      const out = o.json ? process.stderr : process.stdout;
      out.write(
        `etcd restore: ${prepared.snapshot}\n  sha256 ${prepared.sha256} matches its .sha256\n` +
          `Every etcd member's data is replaced by the snapshot: whatever was written after it was taken is lost.\n` +
          `The API is down from step 1 until step 4 ends:\n${describePlan(prepared.plan)}`,
      );
      if (!(await confirmedOrRefused('etcd restore', !!o.yes, "Type 'yes' to restore: "))) return;
      const r = await restoreEtcd(prepared, await runOptionsFromFlags(o));
      for (const [host, line] of r.kept) out.write(`  ${host}: ${line}\n`);
      if (r.code === 0) out.write('etcd restore: done: etcd is healthy and every apiserver answers\n');
      else
        process.stderr.write(
          `etcd restore: stopped (exit ${r.code}) at the failed task above; members restored so far keep their data ` +
            `from before beside ETCD_DATA_DIR (<dir>.before-restore-<time>)\n`,
        );
      process.exitCode = r.code;
    });

  addDay2Options(
    etcd
      .command('add')
      .description(
        'put a host into group etcd in the inventory and make it a member: it joins the running cluster as a ' +
          "learner, is promoted once it has caught up, then the other members' and the apiservers' member lists " +
          'roll, one host at a time',
      )
      .argument('<host>', "the member's inventory name: an IPv4 address or a host name")
      .option('--address <address>', 'how to reach it (ansible_host), when <host> is a name and not its address'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  furrow etcd add 192.168.1.4 -i clusters/prod\n  furrow etcd add etcd-04 --address ' +
        '192.168.1.4 -i ' +
        'clusters/prod\n\nRefused, before anything changes: a member that is not healthy (take it out first). A run ' +
        'that stops halfway leaves the host in the inventory: the same command again completes it.\n',
    )
    .action(async (host: string, o: Day2Flags & { address?: string }) => {
      const [{ addEtcdMember }, run] = await Promise.all([import('../cluster/etcd-member.js'), runOptionsFromFlags(o)]);
      const out = o.json ? process.stderr : process.stdout;
      const r = await addEtcdMember(
        o.inventory,
        { name: host, ...(o.address ? { address: o.address } : {}) },
        run,
        (l) => out.write(`etcd add: ${l}\n`),
      );
      if (r.code === 0) out.write(`etcd add: ${host} is a member of etcd\n`);
      else
        process.stderr.write(
          `${stoppedReport('etcd add', r)}${host} stays in group etcd: run the same command again to complete the ` +
            'add, once the cause is fixed\n',
        );
      process.exitCode = r.code;
    });

  addDay2Options(
    etcd
      .command('remove')
      .description(
        'take a member out of etcd through a healthy one, stop and clean etcd on its host (the whole host when it ' +
          "was only a member), take it out of the inventory, then roll the other members' and the apiservers' " +
          'member lists',
      )
      .argument('<host>', "the member's inventory name")
      .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  furrow etcd remove 192.168.1.3 -i clusters/prod --yes\n\nRefused, before anything changes: the ' +
        "last member, or a removal that would leave the members without a quorum of healthy ones (etcd's own rule).\n",
    )
    .action(async (host: string, o: Day2Flags & { yes?: boolean }) => {
      const [{ prepareEtcdRemove, removeEtcdMember }, run] = await Promise.all([
        import('../cluster/etcd-member.js'),
        runOptionsFromFlags(o),
      ]);
      // Every check (the members' health included) before the question, the question before any change.
      const prepared = await prepareEtcdRemove(o.inventory, host, run);
      requireConfirmable('etcd remove', !!o.yes, prepared.cluster.inventory, 'give --yes to remove without asking');
      const what = `etcd-${host} leaves etcd and etcd is taken off ${host} (with its data).`;
      const question = `${what} Type 'yes' to remove it: `;
      if (!(await confirmedOrRefused('etcd remove', !!o.yes, question))) return;
      const out = o.json ? process.stderr : process.stdout;
      const r = await removeEtcdMember(prepared, run, (l) => out.write(`etcd remove: ${l}\n`));
      if (r.code === 0) out.write(`etcd remove: ${host} is no longer a member of etcd\n`);
      else process.stderr.write(stoppedReport('etcd remove', r));
      process.exitCode = r.code;
    });
}
