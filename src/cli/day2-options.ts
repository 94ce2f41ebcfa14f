import { type Command, Option } from 'commander';
import { parseCount } from './lab.js';

/**
 * The flags of a day-2 operation on a cluster (etcd backup/restore, node add/remove): the folder, and how to report and
 * lock.
 */
export interface Day2Flags {
  inventory: string;
  json?: boolean;
  verbose?: boolean;
  wait?: boolean;
  strictHostKeys?: boolean;
  forks?: number;
}

export function addDay2Options(cmd: Command): Command {
  return cmd
    .addOption(new Option('-i, --inventory <cluster>', 'the cluster folder').makeOptionMandatory())
    .option('-f, --forks <n>', 'tasks in flight at once (default: every host)', parseCount)
    .option(
      '--no-wait',
      'when another run holds a host (its lock /run/furrow.lock), fail at once (exit 4) instead of waiting for it',
    )
    .option('--json', 'one JSON event per line (the summary goes to stderr)')
    .option('-v, --verbose', 'also show skipped tasks and every message')
    .option('--strict-host-keys', 'refuse hosts whose key is not yet recorded');
}

/** What a day-2 operation that stopped halfway prints: its exit status and each step it had done. */
export const stoppedReport = (label: string, r: { code: number; done: string[] }) =>
  `${label}: stopped (exit ${r.code}). Done so far:\n${r.done.map((d) => `  ${d}\n`).join('') || '  nothing\n'}`;
