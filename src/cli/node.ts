import type { Command } from 'commander';
import { EXIT, InputError } from '../engine/errors.js';
import { parseCount } from './lab.js';
import { confirmed } from './prompt.js';
import { addDay2Options, type Day2Flags } from './day2-options.js';
import { runOptionsFromFlags } from './run.js';

export function registerNode(program: Command): void {
  const node = program
    .command('node')
    .description(
      "add a worker node to a running cluster, or take one out (the cluster folder's inventory is " +
        'edited, comments kept)',
    );

  addDay2Options(
    node
      .command('add')
      .description(
        'put a host into kube_node in the inventory, run the steps a node needs on it alone, then tell the other ' +
          'hosts (/etc/hosts, pod network routes)',
      )
      .argument(
        '<host>',
        "the node's inventory name: an IPv4 or IPv6 address or a host name (kubeasz names hosts by address)",
      )
      .option('--address <address>', 'how to reach it (ansible_host), when <host> is a name and not its address'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  furrow node add 192.168.1.14 -i clusters/prod\n  furrow node add worker-04 --address ' +
        '192.168.1.14 -i clusters/prod\n\nA run that stops halfway leaves the host in the inventory: the same ' +
        'command again completes it.\n',
    )
    .action(async (host: string, o: Day2Flags & { address?: string }) => {
      const [{ addNode }, run] = await Promise.all([import('../cluster/node-add.js'), runOptionsFromFlags(o)]);
      const out = o.json ? process.stderr : process.stdout;
      const r = await addNode(o.inventory, { name: host, ...(o.address ? { address: o.address } : {}) }, run, (line) =>
        out.write(`node add: ${line}\n`),
      );
      if (r.code === 0) out.write(`node add: ${host} is a node of the cluster\n`);
      else
        process.stderr.write(
          `node add: stopped (exit ${r.code}). Done so far:\n${r.done.map((d) => `  ${d}\n`).join('')}${host} stays ` +
            `in the inventory: run the same command again to complete the add, once the cause is fixed\n`,
        );
      process.exitCode = r.code;
    });

  addDay2Options(
    node
      .command('remove')
      .description(
        'drain a node (DaemonSet and static pods stay; emptyDir data goes), stop and clean the host, delete the ' +
          'Node, take it out of the inventory, tell the other hosts',
      )
      .argument('<host>', "the node's inventory name")
      .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
      .option('--force', 'also evict pods that no controller manages (they are gone for good)')
      .option('--drain-timeout <seconds>', 'how long to wait for the evicted pods to go (default 120)', parseCount),
  )
    .addHelpText(
      'after',
      '\nExample:\n  furrow node remove 192.168.1.14 -i clusters/prod\n\nRefused, before anything is touched: a host ' +
        'that is also a master or an etcd member, or the last node.\n',
    )
    .action(async (host: string, o: Day2Flags & { yes?: boolean; force?: boolean; drainTimeout?: number }) => {
      const [{ removeNode, checkNodeRemove }, { loadClusterWithHosts }, run] = await Promise.all([
        import('../cluster/node-remove.js'),
        import('../cluster/cluster.js'),
        runOptionsFromFlags(o),
      ]);
      // Every check before the question, and the question before anything is touched.
      const { cluster, inventory } = await loadClusterWithHosts(o.inventory);
      checkNodeRemove(cluster, inventory, host);
      if (!o.yes && !process.stdin.isTTY) {
        throw new InputError(
          { file: cluster.inventory },
          'node remove asks for confirmation, and there is no terminal to ask on; nothing was touched',
          'give --yes to remove without asking',
        );
      }
      const out = o.json ? process.stderr : process.stdout;
      if (
        !o.yes &&
        !(await confirmed(
          `The node ${host} is drained, its host stopped and ` +
            `cleaned, and it leaves ${cluster.inventory}. Type 'yes' to remove it: `,
        ))
      ) {
        process.stderr.write('node remove: not confirmed; nothing was touched\n');
        process.exitCode = EXIT.failed;
        return;
      }
      const r = await removeNode(o.inventory, host, {
        run,
        say: (line) => out.write(`node remove: ${line}\n`),
        ...(o.force ? { force: true } : {}),
        ...(o.drainTimeout ? { drainTimeoutMs: o.drainTimeout * 1000 } : {}),
      });
      if (r.code === 0) out.write(`node remove: ${host} is no longer part of the cluster\n`);
      else
        process.stderr.write(
          `node remove: stopped (exit ${r.code}). Done so ` +
            `far:\n${r.done.map((d) => `  ${d}\n`).join('') || '  nothing\n'}`,
        );
      process.exitCode = r.code;
    });
}
