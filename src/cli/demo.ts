import type { Command } from 'commander';
import { adhocExitCode } from './exec.js';

/** The README's first command: a real run on the built-in default, the lab. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('boot a 3-host lab on this machine and run a command across it over SSH')
    .action(async () => {
      const [{ runAdhoc }, { labUp }] = await Promise.all([import('../engine/adhoc.js'), import('../lab/lab.js')]);
      const log = (line: string) => process.stderr.write(`demo: ${line}\n`);
      const lab = await labUp({ name: 'default', hosts: 3, cwd: process.cwd(), log });
      log(`lab is up; inventory ${lab.inventory}`);
      log(`furrow exec all -i ${lab.inventory} -u furrow --become -- 'echo "$(hostname) $(id -un) $(systemctl is-system-running)"'`);
      const results = await runAdhoc({
        inventory: lab.inventory,
        pattern: 'all',
        user: 'furrow',
        become: true,
        command: 'echo "$(hostname) $(id -un) $(systemctl is-system-running)"',
        onResult: (r) => process.stdout.write(`${r.host} | ${(r.stdout || r.error || '').trim()}\n`),
      });
      log("done. Try 'npx furrow exec all -i .furrow/lab/inventory.yml -- uptime'; 'npx furrow lab down' removes the lab.");
      process.exitCode = adhocExitCode(results);
    });
}
