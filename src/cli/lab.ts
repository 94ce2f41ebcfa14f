import type { Command } from 'commander';
import { InputError } from '../engine/errors.js';
import { textTable } from '../engine/text-table.js';

const log = (line: string) => process.stderr.write(`lab: ${line}\n`);
/** The lab's code (and ssh2 behind it) loads only when a lab command runs. */
const lab = () => import('../lab/lab.js');

export function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new InputError(undefined, `expected a whole number, got '${value}'`);
  return n;
}

export function registerLab(program: Command): void {
  const labCommand = program
    .command('lab')
    .description('real Debian hosts on this machine (systemd-nspawn), for trying Furrow and for its tests');

  labCommand
    .command('up')
    .description('boot N hosts and write an inventory to .furrow/lab/inventory.yml')
    .option('--hosts <n>', 'how many hosts', parseCount, 3)
    .option('--name <name>', 'lab name (each lab has its own network, state and folder)', 'default')
    .option(
      '--packages <names>',
      'extra Debian packages on the hosts, comma separated (e.g. python3 for Ansible)',
      (v: string, prev: string[] = []) => [
        ...prev,
        ...v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ],
    )
    .option(
      '--replace',
      "replace a running lab of this name that another folder made (its hosts and that folder's inventory go)",
    )
    .option('--ipv6', "give the hosts IPv6 addresses too (the lab's fd46:7572:N::/64), and reach them by those")
    .action(async (o: { hosts: number; name: string; packages?: string[]; replace?: boolean; ipv6?: boolean }) => {
      const started = Date.now();
      const r = await (await lab()).labUp({
        name: o.name,
        hosts: o.hosts,
        cwd: process.cwd(),
        log,
        replace: !!o.replace,
        ipv6: !!o.ipv6,
        ...(o.packages ? { packages: o.packages } : {}),
      });
      for (const h of r.hosts) {
        const failed = h.failedUnits.length ? ` (failed units: ${h.failedUnits.join(', ')})` : '';
        process.stdout.write(`${h.name}\t${h.address}\t${h.state}${failed}\n`);
      }
      log(
        `${r.hosts.length} host(s) up in ${((Date.now() - started) / 1000).toFixed(1)} ` +
          `s${r.rootfsBuilt ? ' (root filesystem built)' : ''}; inventory: ${r.inventory}`,
      );
    });

  labCommand
    .command('down')
    .description('stop the hosts and remove every mount, namespace, link and process the lab made')
    .option('--name <name>', 'lab name', 'default')
    .action(async (o: { name: string }) => {
      const removed = await (await lab()).labDown({ name: o.name, cwd: process.cwd(), log });
      log(removed.length ? `removed ${removed.join(', ')}` : `lab '${o.name}' was not up`);
    });

  labCommand
    .command('status')
    .description("the lab's network, age and owner folder, then its hosts with address and state")
    .option('--name <name>', 'lab name', 'default')
    .option('--json', 'one JSON document')
    .action(async (o: { name: string; json?: boolean }) => {
      const status = await (await lab()).labStatus({ name: o.name, cwd: process.cwd(), log });
      if (o.json)
        return void process.stdout.write(
          `${JSON.stringify({ name: o.name, up: !!status, ...status, hosts: status?.hosts ?? [] })}\n`,
        );
      if (!status) return void process.stdout.write(`lab '${o.name}' is not up\n`);
      const made = status.createdAt ? `, made ${status.createdAt.replace(/\.\d+Z$/, 'Z')}` : '';
      process.stdout.write(
        `lab '${status.name}': ${status.hosts.length} host(s) on ${status.net}.0/24${made} from ` +
          `${status.owner}\ninventory: ${status.inventory}\n`,
      );
      process.stdout.write(
        textTable([['HOST', 'ADDRESS', 'STATE'], ...status.hosts.map((h) => [h.name, h.address, h.state])]),
      );
    });

  labCommand
    .command('kubernetes')
    .description(
      "Kubernetes server binaries for the lab, built once per machine from Debian's source package (cached), and the " +
        "lab's offline bundle",
    )
    .option('--rebuild', 'build again even when the cache has the binaries')
    .addHelpText(
      'after',
      `\nThe first run builds for about 5 minutes on 2 idle cores; later runs take the cache at once.\nCache: ` +
        `/var/lib/furrow/kubernetes/<source version>/bin (see docs/lab.md).\n`,
    )
    .action(async (o: { rebuild?: boolean }) => {
      const started = Date.now();
      const { labKubernetes } = await import('../lab/kubernetes.js');
      const k = await labKubernetes({ log, ...(o.rebuild ? { rebuild: true } : {}) });
      log(
        `Kubernetes v${k.version} (${k.sourceVersion}): ${k.built ? `built in ${k.seconds} s` : 'cached'}: ${k.binDir}`,
      );
      const { buildLabBundle } = await import('../lab/lab-bundle.js');
      const b = await buildLabBundle({ kubernetes: k, log, ...(o.rebuild ? { rebuild: true } : {}) });
      process.stdout.write(`${b.file}\n`);
      log(
        `lab bundle: ${b.file}${b.built ? '' : ' (up to date)'}, manifest ${b.manifest}; ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s in all`,
      );
    });

  labCommand
    .command('stop <host>')
    .description('power one host off (its disk and address stay, for lab start)')
    .option('--name <name>', 'lab name', 'default')
    .action(async (host: string, o: { name: string }) => {
      const h = await (await lab()).labStopHost({ name: o.name, host, cwd: process.cwd(), log });
      process.stdout.write(`${h.name}\t${h.address}\t${h.state}\n`);
      log(
        `${h.name} is off; its disk and address stay: ` +
          `'furrow lab start ${h.name}${o.name === 'default' ? '' : ` --name ${o.name}`}' boots it again`,
      );
    });

  labCommand
    .command('start <host>')
    .description('boot a stopped host again')
    .option('--name <name>', 'lab name', 'default')
    .action(async (host: string, o: { name: string }) => {
      const started = Date.now();
      const h = await (await lab()).labStartHost({ name: o.name, host, cwd: process.cwd(), log });
      process.stdout.write(`${h.name}\t${h.address}\t${h.state}\n`);
      log(
        h.wasUp
          ? `${h.name} was running already`
          : `${h.name} booted in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    });
}
