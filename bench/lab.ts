/**
 * The bench lab: booted for the run under its own name with python3 on the hosts (Ansible needs
 * it), driven through the furrow CLI, and always taken down again.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { labLayout } from '../src/lab/layout.js';
import { furrow, mustFurrow } from './tools.js';
import { STATE_LISTING } from './workloads.js';

export const LAB_NAME = 'bench';

export interface Lab {
  cwd: string;
  inventory: string;
  knownHosts: string;
}

export async function bootLab(cwd: string, hosts: number, log: (line: string) => void): Promise<Lab> {
  log(`booting ${hosts} lab host(s) (lab '${LAB_NAME}', with python3)`);
  await mustFurrow(['lab', 'up', '--hosts', String(hosts), '--name', LAB_NAME, '--packages', 'python3'], cwd);
  const dir = path.join(cwd, '.furrow', `lab-${LAB_NAME}`);
  return { cwd, inventory: path.join(dir, 'inventory.yml'), knownHosts: path.join(dir, 'known_hosts') };
}

/** Takes a bench lab down; a failure is logged, not thrown (it runs in finally blocks). */
export async function shutLab(cwd: string, log: (line: string) => void, name = LAB_NAME): Promise<void> {
  const r = await furrow(['lab', 'down', '--name', name], cwd);
  log(r.code === 0 ? `lab '${name}' is down` : `furrow lab down failed (exit ${r.code}): ${r.stderr.trim()}`);
}

interface ExecLine {
  host: string;
  status: string;
  stdout: string;
  stderr: string;
}

/** One command on these hosts through `furrow exec --json`; every host must answer with exit 0. */
async function execOn(lab: Lab, hosts: string[], command: string): Promise<Map<string, string>> {
  const r = await furrow(['exec', hosts.join(':'), '-i', lab.inventory, '--json', '--', command], lab.cwd);
  const lines = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ExecLine);
  const bad = lines.filter((l) => l.status !== 'ok');
  if (r.code !== 0 || bad.length || lines.length !== hosts.length) {
    throw new Error(
      `'${command}' failed on ` +
        `${bad.map((l) => `${l.host}: ${l.stderr.trim()}`).join('; ') || `exit ${r.code}: ${r.stderr.trim()}`}`,
    );
  }
  return new Map(lines.map((l) => [l.host, l.stdout]));
}

export async function resetHosts(lab: Lab, hosts: string[], command: string): Promise<void> {
  await execOn(lab, hosts, command);
}

/** Each host's /bench listing (see STATE_LISTING), to compare runs and tools. */
export function hostStates(lab: Lab, hosts: string[]): Promise<Map<string, string>> {
  return execOn(lab, hosts, STATE_LISTING);
}

const INOTIFY_INSTANCES = '/proc/sys/fs/inotify/max_user_instances';
/** Every lab host's systemd, journald, logind and dbus each take inotify instances. */
const WANTED_INSTANCES = 1024;

/**
 * Twenty hosts' systemd run out of the kernel's default 128 inotify instances (every container
 * runs as the same root user), and sshd then never starts. Raised for the run; the returned
 * function puts the old value back.
 */
export async function raiseInotifyLimit(log: (line: string) => void): Promise<() => Promise<void>> {
  const before = Number((await readFile(INOTIFY_INSTANCES, 'utf8')).trim());
  if (before >= WANTED_INSTANCES) return async () => undefined;
  log(`raising fs.inotify.max_user_instances from ${before} to ${WANTED_INSTANCES} for the run`);
  await writeFile(INOTIFY_INSTANCES, String(WANTED_INSTANCES));
  return async () => writeFile(INOTIFY_INSTANCES, String(before));
}

/**
 * CPU seconds each host of a running lab has spent since it booted: every process in it, its
 * services and the sshd sessions and commands a tool runs there. Read from the host's own cgroup,
 * which `lab up` records in the lab's state.json (cgroup v1 cpuacct.usage in ns, or v2 cpu.stat).
 */
export async function labHostsCpuS(labName: string): Promise<Map<string, number>> {
  const state = JSON.parse(await readFile(path.join(labLayout(labName).dir, 'state.json'), 'utf8')) as {
    hosts: Array<{ name: string; cgroups?: string[] }>;
  };
  const used = new Map<string, number>();
  for (const host of state.hosts) used.set(host.name, await cgroupCpuS(host.cgroups ?? [], host.name));
  return used;
}

async function cgroupCpuS(dirs: string[], host: string): Promise<number> {
  for (const dir of dirs) {
    const v1 = await readFile(path.join(dir, 'cpuacct.usage'), 'utf8').catch(() => undefined);
    if (v1 !== undefined) return Number(v1.trim()) / 1e9;
  }
  for (const dir of dirs) {
    const v2 = await readFile(path.join(dir, 'cpu.stat'), 'utf8').catch(() => undefined);
    const usec = v2 && /^usage_usec (\d+)$/m.exec(v2)?.[1];
    if (usec) return Number(usec) / 1e6;
  }
  throw new Error(`lab host ${host}: no cgroup with cpuacct.usage or cpu.stat among ${dirs.join(', ')}`);
}

/** The CPU seconds spent between two readings of labHostsCpuS, summed over the hosts. */
export function hostsCpuSince(before: Map<string, number>, after: Map<string, number>): number {
  let sum = 0;
  for (const [host, s] of after) sum += s - (before.get(host) ?? s);
  return sum;
}
