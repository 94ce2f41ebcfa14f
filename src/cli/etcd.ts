import type { Command } from 'commander';
import { EXIT, InputError } from '../engine/errors.js';
import type { RestoreStep } from '../cluster/etcd-restore.js';
import { confirmed } from './prompt.js';
import { addDay2Options, type Day2Flags } from './day2-options.js';
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
    .description("back up and restore a cluster's etcd (snapshots in <cluster>/backup/)");

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
      if (!o.yes && !process.stdin.isTTY) {
        throw new InputError(
          { file: prepared.snapshot },
          'etcd restore asks for confirmation, and there is no terminal to ask on; nothing was touched',
          'give --yes to restore without asking',
        );
      }
      await checkRestoreHosts(prepared.cluster, prepared.inventory, o);
      const out = o.json ? process.stderr : process.stdout;
      out.write(
        `etcd restore: ${prepared.snapshot}\n  sha256 ${prepared.sha256} matches its .sha256\n` +
          `Every etcd member's data is replaced by the snapshot: whatever was written after it was taken is lost.\n` +
          `The API is down from step 1 until step 4 ends:\n${describePlan(prepared.plan)}`,
      );
      if (!o.yes && !(await confirmed("Type 'yes' to restore: "))) {
        process.stderr.write('etcd restore: not confirmed; nothing was touched\n');
        process.exitCode = EXIT.failed;
        return;
      }
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
}
