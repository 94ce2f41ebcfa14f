import type { Command } from 'commander';
import type { Cluster } from '../cluster/cluster.js';
import type { NodeAddRequest, NodeAddResult } from '../cluster/node-add.js';
import type { NodeRemoveOptions, NodeRemoveResult } from '../cluster/node-remove.js';
import type { ClusterRunOptions } from '../cluster/run.js';
import type { Inventory } from '../engine/inventory/index.js';
import { parseCount } from './lab.js';
import { confirmedOrRefused, requireConfirmable } from './prompt.js';
import { addDay2Options, type Day2Flags, stoppedReport } from './day2-options.js';
import { runOptionsFromFlags } from './run.js';

/** `furrow node` and `furrow master`: the same two commands, each with its own words and its own operations. */
interface HostCommands {
  name: 'node' | 'master';
  description: string;
  add: { description: string; examples: string; what: string };
  remove: { description: string; examples: string; what: string };
  addHost: (
    dir: string,
    req: NodeAddRequest,
    run: ClusterRunOptions,
    say: (line: string) => void,
  ) => Promise<NodeAddResult>;
  checkRemove: (cluster: Cluster, inventory: Inventory, host: string) => Promise<void>;
  removeHost: (dir: string, host: string, o: NodeRemoveOptions) => Promise<NodeRemoveResult>;
}

function registerHostCommands(program: Command, spec: HostCommands): void {
  const group = program.command(spec.name).description(spec.description);
  const label = (verb: string) => `${spec.name} ${verb}`;

  addDay2Options(
    group
      .command('add')
      .description(spec.add.description)
      .argument(
        '<host>',
        `the ${spec.name}'s inventory name: an IPv4 or IPv6 address or a host name (kubeasz names hosts by address)`,
      )
      .option('--address <address>', 'how to reach it (ansible_host), when <host> is a name and not its address'),
  )
    .addHelpText(
      'after',
      `\nExamples:\n${spec.add.examples}\nA run that stops halfway leaves the host in the inventory: the same ` +
        'command again completes it.\n',
    )
    .action(async (host: string, o: Day2Flags & { address?: string }) => {
      const run = await runOptionsFromFlags(o);
      const out = o.json ? process.stderr : process.stdout;
      const r = await spec.addHost(
        o.inventory,
        { name: host, ...(o.address ? { address: o.address } : {}) },
        run,
        (l) => out.write(`${label('add')}: ${l}\n`),
      );
      if (r.code === 0) out.write(`${label('add')}: ${host} is ${spec.add.what}\n`);
      else
        process.stderr.write(
          `${stoppedReport(label('add'), r)}${host} stays in the inventory: run the same command again to complete ` +
            'the add, once the cause is fixed\n',
        );
      process.exitCode = r.code;
    });

  addDay2Options(
    group
      .command('remove')
      .description(spec.remove.description)
      .argument('<host>', `the ${spec.name}'s inventory name`)
      .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
      .option('--force', 'also evict pods that no controller manages (they are gone for good)')
      .option('--drain-timeout <seconds>', 'how long to wait for the evicted pods to go (default 120)', parseCount),
  )
    .addHelpText('after', `\nExample:\n${spec.remove.examples}`)
    .action(async (host: string, o: Day2Flags & { yes?: boolean; force?: boolean; drainTimeout?: number }) => {
      const [{ loadClusterWithHosts }, run] = await Promise.all([
        import('../cluster/cluster.js'),
        runOptionsFromFlags(o),
      ]);
      // Every check before the question, and the question before anything is touched.
      const { cluster, inventory } = await loadClusterWithHosts(o.inventory);
      await spec.checkRemove(cluster, inventory, host);
      requireConfirmable(label('remove'), !!o.yes, cluster.inventory, 'give --yes to remove without asking');
      const out = o.json ? process.stderr : process.stdout;
      const question =
        `The ${spec.name} ${host} is drained, its host stopped and cleaned, and it leaves ${cluster.inventory}. ` +
        `Type 'yes' to remove it: `;
      if (!(await confirmedOrRefused(label('remove'), !!o.yes, question))) return;
      const r = await spec.removeHost(o.inventory, host, {
        run,
        say: (line) => out.write(`${label('remove')}: ${line}\n`),
        ...(o.force ? { force: true } : {}),
        ...(o.drainTimeout ? { drainTimeoutMs: o.drainTimeout * 1000 } : {}),
      });
      if (r.code === 0) out.write(`${label('remove')}: ${host} is ${spec.remove.what}\n`);
      else process.stderr.write(stoppedReport(label('remove'), r));
      process.exitCode = r.code;
    });
}

export function registerNode(program: Command): void {
  registerHostCommands(program, {
    name: 'node',
    description:
      "add a worker node to a running cluster, or take one out (the cluster folder's inventory is edited, comments " +
      'kept)',
    add: {
      description:
        'put a host into kube_node in the inventory, run the steps a node needs on it alone, then tell the other ' +
        'hosts (/etc/hosts, pod network routes)',
      examples:
        '  furrow node add 192.168.1.14 -i clusters/prod\n  furrow node add worker-04 --address 192.168.1.14 ' +
        '-i clusters/prod\n',
      what: 'a node of the cluster',
    },
    remove: {
      description:
        'drain a node (DaemonSet and static pods stay; emptyDir data goes), stop and clean the host, delete the ' +
        'Node, take it out of the inventory, tell the other hosts',
      examples:
        '  furrow node remove 192.168.1.14 -i clusters/prod\n\nRefused, before anything is touched: a host that is ' +
        'also a master or an etcd member, or the last node.\n',
      what: 'no longer part of the cluster',
    },
    addHost: async (...a) => (await import('../cluster/node-add.js')).addNode(...a),
    checkRemove: async (...a) => (await import('../cluster/node-remove.js')).checkNodeRemove(...a),
    removeHost: async (...a) => (await import('../cluster/node-remove.js')).removeNode(...a),
  });
}

export function registerMaster(program: Command): void {
  registerHostCommands(program, {
    name: 'master',
    description:
      "add a master to a running control plane, or take one out (the cluster folder's inventory is edited, comments " +
      'kept)',
    add: {
      description:
        'put a host into kube_master in the inventory, run the steps a master needs on it alone, then give every ' +
        'kube-lb (and the ex-lb) the new apiserver, reloaded, and tell the other hosts',
      examples:
        '  furrow master add 192.168.1.5 -i clusters/prod\n  furrow master add master-03 --address 192.168.1.5 ' +
        '-i clusters/prod\n',
      what: 'a master of the cluster',
    },
    remove: {
      description:
        "drain a master's node, stop and clean the host, take it out of the inventory, take its apiserver out of " +
        'every kube-lb (and the ex-lb), delete its Node',
      examples:
        '  furrow master remove 192.168.1.5 -i clusters/prod\n\nRefused, before anything is touched: the last ' +
        'master, a master that is an etcd member (furrow etcd remove first) or an ex_lb host.\n',
      what: 'no longer part of the cluster',
    },
    addHost: async (...a) => (await import('../cluster/master-add.js')).addMaster(...a),
    checkRemove: async (...a) => (await import('../cluster/master-remove.js')).checkMasterRemove(...a),
    removeHost: async (...a) => (await import('../cluster/master-remove.js')).removeMaster(...a),
  });
}
