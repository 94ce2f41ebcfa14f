import { packagePath } from '../package-root.js';
import { type Command, Option } from 'commander';
import type { Reporter } from '../engine/events.js';
import type { ListMode } from '../engine/run/listing.js';
import type { RunOptions } from '../engine/run/runner.js';
import { parseCount } from './lab.js';

/** The roles that ship with Furrow (roles/ at the package's top), searched after the playbook's own. */
export const PACKAGE_ROLES = packagePath('roles');

const list = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];
const collect = (value: string, previous: string[] = []) => [...previous, value];

export interface RunFlags {
  inventory: string;
  check?: boolean;
  diff?: boolean;
  verify?: boolean;
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  extraVars?: string[];
  forks?: number;
  startAtTask?: string;
  resume?: boolean;
  /** false with --no-wait (commander's negated option). */
  wait?: boolean;
  json?: boolean;
  verbose?: boolean;
  strictHostKeys?: boolean;
  become?: boolean;
  user?: string;
  askPass?: boolean;
  askBecomePass?: boolean;
  listHosts?: boolean;
  listTasks?: boolean;
  listTags?: boolean;
  syntaxCheck?: boolean;
}

/** The flags `run` and `deploy` share: what to run on, how, and how to report it. */
export function addRunOptions(cmd: Command, inventoryHelp: string, inventoryRequired = true): Command {
  return cmd
    .addOption(new Option('-i, --inventory <path>', inventoryHelp).makeOptionMandatory(inventoryRequired))
    .option(
      '-b, --become',
      "run as root through sudo where the inventory and plays do not say otherwise (Ansible's -b)",
    )
    .option('-u, --user <user>', 'log in as this user where the inventory names none')
    .option(
      '-k, --ask-pass',
      'ask for the SSH password on the terminal (no echo), for hosts whose inventory names none',
    )
    .option(
      '-K, --ask-become-pass',
      'ask for the sudo password on the terminal (no echo), for hosts whose inventory names none',
    )
    .option('-C, --check', 'plan only: report what would change, change nothing')
    .option('-D, --diff', 'show what changes: unified diffs for files, old/new for values')
    .option('--verify', 'hash every file compared, trusting no record of what Furrow wrote (slower: see docs/cli.md)')
    .option('-l, --limit <pattern>', "further limit the hosts (pattern, e.g. 'etcd:!h3')")
    .option('-t, --tags <tags>', 'only tasks with these tags (comma separated)', list)
    .option('--skip-tags <tags>', 'skip tasks with these tags', list)
    .option('-e, --extra-vars <vars>', 'key=value pairs, JSON, or @file.yml (repeatable; highest precedence)', collect)
    .option('-f, --forks <n>', 'tasks in flight at once (default: every host)', parseCount)
    .option('--start-at-task <name>', 'start at the first task with this name')
    .option('--resume', 'continue from where the last run of this playbook failed, per host')
    .option(
      '--no-wait',
      'when another run holds a host (its lock /run/furrow.lock), fail at once (exit 4) instead of waiting for it',
    )
    .option('--json', 'one JSON event per line')
    .option('-v, --verbose', 'also show skipped tasks and every message')
    .option('--strict-host-keys', 'refuse hosts whose key is not yet recorded');
}

/** How to run, from the shared flags: everything but what to run on and which playbooks. */
export async function runOptionsFromFlags(
  o: RunFlags,
): Promise<Omit<RunOptions, 'playbook' | 'inventory' | 'modules'>> {
  // Loaded here, not at start-up: `furrow --help` and `furrow lab` need none of the engine.
  const [{ ConsoleReporter }, { JsonLinesReporter }, { parseExtraVars }] = await Promise.all([
    import('../engine/reporters/console.js'),
    import('../engine/reporters/json.js'),
    import('../engine/vars.js'),
  ]);
  const reporters: Reporter[] = [
    o.json ? new JsonLinesReporter() : new ConsoleReporter({ diff: !!o.diff, verbose: !!o.verbose }),
  ];
  return {
    check: o.check,
    diff: o.diff,
    verifyFiles: o.verify,
    limit: o.limit,
    tags: o.tags,
    skipTags: o.skipTags,
    extraVars: parseExtraVars(o.extraVars ?? [], process.cwd()),
    forks: o.forks,
    startAtTask: o.startAtTask,
    resume: o.resume,
    wait: o.wait !== false,
    strictHostKeys: o.strictHostKeys,
    rolesPath: [PACKAGE_ROLES],
    connection: await connectionFromFlags(o),
    reporters,
  };
}

/** -u, -b, -k, -K: defaults below each host's inventory variables. A listing asks for no password. */
async function connectionFromFlags(o: RunFlags): Promise<NonNullable<RunOptions['connection']>> {
  const { readSecret } = await import('./prompt.js');
  const asks = listModeOf(o) === undefined;
  return {
    ...(o.user !== undefined ? { user: o.user } : {}),
    ...(o.become ? { become: true } : {}),
    ...(o.askPass && asks ? { password: await readSecret('SSH password: ', '-k/--ask-pass', 'ansible_password') } : {}),
    ...(o.askBecomePass && asks
      ? { becomePassword: await readSecret('BECOME password: ', '-K/--ask-become-pass', 'ansible_become_password') }
      : {}),
  };
}

/** Which listing the flags ask for instead of a run, if any (Ansible's names). */
export function listModeOf(o: RunFlags): ListMode | undefined {
  return o.listHosts ? 'hosts' : o.listTasks ? 'tasks' : o.listTags ? 'tags' : o.syntaxCheck ? 'syntax' : undefined;
}

/** ansible-playbook's listings, for the commands that run playbooks as they are (run, deploy). */
export function addListOptions(cmd: Command): Command {
  return cmd
    .option('--list-hosts', 'list the hosts each play would run on, and exit (no host is touched)')
    .option('--list-tasks', 'list the tasks each play would run, with their tags, and exit')
    .option('--list-tags', 'list the tags of the tasks each play would run, and exit')
    .option('--syntax-check', 'load and check everything (playbooks, roles, templates, inventory), and exit');
}

/** Runs one playbook on an inventory with the shared flags. */
async function runWithFlags(playbook: string, o: RunFlags): Promise<number> {
  const [{ runPlaybook }, { modules }, { resolveInventoryArg, clusterVars }, options] = await Promise.all([
    import('../engine/run/runner.js'),
    import('../modules/index.js'),
    import('../cluster/cluster.js'),
    runOptionsFromFlags(o),
  ]);
  // A cluster folder brings its settings, as a deploy sees them (without the package repository).
  const { inventory, cluster } = resolveInventoryArg(o.inventory);
  const run = { ...options, modules, playbook, inventory, ...(cluster ? { clusterVars: clusterVars(cluster) } : {}) };
  const listing = listModeOf(o);
  if (listing) {
    const { listRun } = await import('../engine/run/runner.js');
    process.stdout.write(await listRun(run, listing));
    return 0;
  }
  return (await runPlaybook(run)).exitCode;
}

export function registerRun(program: Command): void {
  addRunOptions(
    addListOptions(program.command('run'))
      .description('run a playbook against an inventory')
      .argument('<playbook>', 'playbook file (YAML list of plays)'),
    'inventory file or folder (YAML or INI), or a cluster folder (its inventory and config.yml)',
  )
    .addHelpText(
      'after',
      `
Examples:
  furrow run site.yml -i inventory/hosts
  furrow run site.yml -i hosts --check --diff          # what would change, and how
  furrow run site.yml -i hosts -l kube_node -t config  # only nodes, only tasks tagged config
  furrow run site.yml -i hosts -e bin_dir=/usr/local/bin -e @cluster.yml
  furrow run site.yml -i hosts --resume                # pick up where the last run failed

Exit status: 0 all good, 1 a host failed, 2 bad input (no host was touched),
3 hosts were unreachable (and none failed), 4 another run holds a host and --no-wait
was given (no host was touched), 70 internal error.`,
    )
    .action(async (playbook: string, o: RunFlags) => {
      process.exitCode = await runWithFlags(playbook, o);
    });
}
