import type { Command } from 'commander';
import type { AdhocResult } from '../engine/adhoc.js';
import { EXIT } from '../engine/errors.js';
import { parseCount } from './lab.js';

function printHost(r: AdhocResult): void {
  const out: string[] = [];
  const prefix = (text: string, mark: string) => {
    if (!text) return;
    for (const line of text.replace(/\n$/, '').split('\n')) out.push(`${r.host}${mark} ${line}`);
  };
  prefix(r.stdout, ' |');
  prefix(r.stderr, ' !');
  if (r.error) out.push(`${r.host} ! ${r.error}`);
  process.stdout.write(out.length ? `${out.join('\n')}\n` : '');
}

/** Exit status: 0 all ok, 1 a host failed, 3 hosts were only unreachable (docs/cli.md). */
export function adhocExitCode(results: AdhocResult[]): number {
  if (results.some((r) => r.status === 'failed')) return EXIT.failed;
  if (results.some((r) => r.status === 'unreachable')) return EXIT.unreachable;
  return EXIT.ok;
}

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('run one command on every host matching PATTERN, in parallel')
    .argument('<pattern>', "hosts: a name, a group, 'all', or a:b for both")
    .argument('<command...>', 'the command (after --)')
    .requiredOption('-i, --inventory <path>', 'inventory file or folder, or a cluster folder')
    .option('-f, --forks <n>', 'hosts at once (default: all)', parseCount)
    .option('-b, --become', 'run as root through sudo')
    .option('-u, --user <user>', 'log in as this user')
    .option(
      '-k, --ask-pass',
      'ask for the SSH password on the terminal (no echo), for hosts whose inventory names none',
    )
    .option(
      '-K, --ask-become-pass',
      'ask for the sudo password on the terminal (no echo), for hosts whose inventory names none',
    )
    .option('-t, --timeout <seconds>', 'kill the command after this long', parseCount)
    .option('--strict-host-keys', 'refuse hosts whose key is not yet recorded')
    .option('--json', 'one JSON object per host per line')
    .addHelpText(
      'after',
      '\nExamples:\n  furrow exec all -i .furrow/lab/inventory.yml -- hostname\n  furrow exec etcd:kube_master -i ' +
        'hosts -u furrow --become -- id -u\n',
    )
    .action(
      async (
        pattern: string,
        command: string[],
        o: {
          inventory: string;
          forks?: number;
          become?: boolean;
          user?: string;
          askPass?: boolean;
          askBecomePass?: boolean;
          timeout?: number;
          strictHostKeys?: boolean;
          json?: boolean;
        },
      ) => {
        const [{ runAdhoc }, { resolveInventoryArg }, { readSecret }] = await Promise.all([
          import('../engine/adhoc.js'),
          import('../cluster/cluster.js'),
          import('./prompt.js'),
        ]);
        const inventory = resolveInventoryArg(o.inventory).inventory;
        const connection = {
          ...(o.askPass ? { password: await readSecret('SSH password: ', '-k/--ask-pass', 'ansible_password') } : {}),
          ...(o.askBecomePass
            ? {
                becomePassword: await readSecret(
                  'BECOME password: ',
                  '-K/--ask-become-pass',
                  'ansible_become_password',
                ),
              }
            : {}),
        };
        const results = await runAdhoc({
          inventory,
          connection,
          pattern,
          command: command.join(' '),
          forks: o.forks,
          become: o.become,
          user: o.user,
          timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000,
          strictHostKeys: o.strictHostKeys,
          onResult: (r) => (o.json ? process.stdout.write(`${JSON.stringify(r)}\n`) : printHost(r)),
        });
        if (!o.json) {
          process.stdout.write('\nRECAP\n');
          for (const r of results) {
            const detail = r.status === 'ok' ? '' : r.code !== null ? ` rc=${r.code}` : '';
            process.stdout.write(`${r.host.padEnd(16)} ${r.status}${detail} (${(r.durationMs / 1000).toFixed(2)} s)\n`);
          }
        }
        process.exitCode = adhocExitCode(results);
      },
    );
}
