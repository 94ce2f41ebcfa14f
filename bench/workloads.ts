/**
 * The benchmark's workloads, each written twice with the same effect on the hosts: once as an
 * Ansible playbook (builtin modules by their full names, Jinja conditions) and once as a Furrow
 * playbook. The host set is chosen with --limit, so both tools get the same inventory file.
 */
import YAML from 'yaml';

export type Tool = 'ansible' | 'furrow';

export interface Workload {
  id: number;
  title: string;
  /** Inventory hosts it runs on (h1..hN of the bench lab). */
  hosts: string[];
  /** First apply on reset hosts, then a no-change re-run; otherwise one run on reset hosts. */
  rerun: boolean;
  playbooks: Record<Tool, string>;
  /** Shell run on each host before a timed first run, so every run starts from the same state. */
  reset: string;
  /** Tasks reported changed, summed over hosts: proves both tools did the same work. */
  changed: { first: number; rerun: number };
  /** A one-task twin, to tell the engine's cost per task from its fixed start-up cost. */
  baseline?: Record<Tool, string>;
  tasksPerHost: number;
  /** Ansible's runs when fewer than the others' (at 100 hosts one of its runs takes minutes). */
  ansibleRuns?: number;
}

type TaskList = Array<Record<string, unknown>>;

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
export const hostNames = (n: number): string[] => range(n).map((i) => `h${i}`);

function playbook(title: string, tasks: TaskList): string {
  return YAML.stringify([{ name: title, hosts: 'all', gather_facts: false, tasks }]);
}

/** 10 directories, 10 small files with content, 10 lines in one file. */
function fileTasks(tool: Tool): TaskList {
  const mod = (name: string) => (tool === 'ansible' ? `ansible.builtin.${name}` : name);
  return [
    ...range(10).map((i) => ({
      name: `Directory ${i}`,
      [mod('file')]: { path: `/bench/dir${i}`, state: 'directory', mode: '0755' },
    })),
    ...range(10).map((i) => ({
      name: `File ${i}`,
      [mod('copy')]: { dest: `/bench/file${i}.txt`, content: `small file ${i}\n`, mode: '0644' },
    })),
    ...range(10).map((i) => ({
      name: `Line ${i}`,
      [mod('lineinfile')]: { path: '/bench/lines.txt', line: `line ${i}`, create: true, mode: '0644' },
    })),
  ];
}

/**
 * On task i only host h<i> works (sleeps 2 s, then leaves a marker); every other host skips it.
 * The condition reads the same in Jinja and in CEL.
 */
function slowTasks(tool: Tool, hosts: number): TaskList {
  const shell = tool === 'ansible' ? 'ansible.builtin.shell' : 'shell';
  return range(hosts).map((i) => ({
    name: `Slow on h${i}`,
    [shell]: `mkdir -p /bench && sleep 2 && echo slow > /bench/slow${i}`,
    when: `inventory_hostname == "h${i}"`,
  }));
}

/** A real probe that finds nothing to change: the directory is already there as asked. */
function noopTasks(tool: Tool, count: number): TaskList {
  const file = tool === 'ansible' ? 'ansible.builtin.file' : 'file';
  return range(count).map((i) => ({
    name: `Probe ${i}`,
    [file]: { path: '/bench', state: 'directory', mode: '0755' },
  }));
}

const both = (make: (tool: Tool) => string): Record<Tool, string> => ({
  ansible: make('ansible'),
  furrow: make('furrow'),
});

function filesWorkload(id: number, hostCount: number): Workload {
  const title = `30 file tasks, ${hostCount} hosts`;
  return {
    id,
    title,
    hosts: hostNames(hostCount),
    rerun: true,
    playbooks: both((tool) => playbook(title, fileTasks(tool))),
    reset: 'rm -rf /bench',
    changed: { first: 30 * hostCount, rerun: 0 },
    tasksPerHost: 30,
  };
}

export function workloads(): Workload[] {
  const slowTitle = 'slow hosts: 10 hosts x 10 tasks, host i sleeps 2 s on task i';
  const noopTitle = 'one host, 100 no-op tasks';
  return [
    filesWorkload(1, 5),
    filesWorkload(2, 20),
    {
      id: 3,
      title: slowTitle,
      hosts: hostNames(10),
      rerun: false,
      playbooks: both((tool) => playbook(slowTitle, slowTasks(tool, 10))),
      reset: 'rm -rf /bench',
      changed: { first: 10, rerun: 0 },
      tasksPerHost: 10,
    },
    {
      id: 4,
      title: noopTitle,
      hosts: hostNames(1),
      rerun: false,
      playbooks: both((tool) => playbook(noopTitle, noopTasks(tool, 100))),
      baseline: both((tool) => playbook(noopTitle, noopTasks(tool, 1))),
      reset: 'rm -rf /bench && mkdir -m 0755 /bench',
      changed: { first: 0, rerun: 0 },
      tasksPerHost: 100,
    },
    { ...filesWorkload(5, 100), ansibleRuns: 1 },
  ];
}

/**
 * One line per host that sums up /bench: every path with its type, mode, size and owner, and the
 * hash of every file's content. Equal digests mean the tools left the hosts in the same state.
 */
export const STATE_LISTING =
  'if [ -e /bench ]; then cd / && { find /bench -printf "%p %y %m %s %u %g\\n" | LC_ALL=C sort; ' +
  'find /bench -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum; }; else echo "no /bench"; fi';
