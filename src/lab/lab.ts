import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { generateSshKeyPair } from '../engine/connections/keygen.js';
import { openConnection } from '../engine/connections/index.js';
import type { ConnectionSpec } from '../engine/connections/types.js';
import { InputError, LabError } from '../engine/errors.js';
import { createHostCgroups, removeCgroups } from './cgroups.js';
import {
  bootContainer,
  containerLeader,
  isSameProcess,
  killProcess,
  mountOverlay,
  mountsUnder,
  type ProcessRecord,
  stopProcess,
  writeContainerSupport,
  writeIdentity,
} from './host.js';
import {
  hostLayout,
  ipv6Prefix,
  labClientDir,
  labGroups,
  labLayout,
  type LabHostLayout,
  type LabLayout,
  MAX_LAB_HOSTS,
  withNet,
} from './layout.js';
import { chooseNet, createBridge, createHostNetwork, labLinks, labNamespaces, removeNetwork } from './network.js';
import { ensureRootfs, LAB_SUDO_PASSWORD, rootfsRecipe, withLabLock } from './rootfs.js';
import { ensureTools, requireRoot, run } from './system.js';

/** What a lab records about itself on the machine, so `down` and a later `up` can undo it. */
interface LabState {
  name: string;
  /** The lab's /24 (see chooseNet). */
  net: string;
  clientDir: string;
  /** When `lab up` made it (ISO 8601); labs made before this was recorded have none. */
  createdAt?: string;
  hosts: Array<{ name: string; address: string; process?: ProcessRecord; leader?: ProcessRecord; cgroups?: string[] }>;
}

export interface LabOptions {
  name: string;
  cwd: string;
  log: (line: string) => void;
}

export interface LabUpResult {
  inventory: string;
  hosts: Array<{ name: string; address: string; state: string; failedUnits: string[] }>;
  rootfsBuilt: boolean;
  recovered: string[];
}

/** The name of a host's own cgroup in each hierarchy (see cgroups.ts). */
const hostCgroupName = (lab: LabLayout, host: LabHostLayout) => `furrow-lab-${lab.name}-${host.name}`;

const statePath = (lab: LabLayout) => path.join(lab.dir, 'state.json');

function readState(lab: LabLayout): LabState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(lab), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

function saveState(lab: LabLayout, state: LabState): void {
  writeFileSync(statePath(lab), JSON.stringify(state, null, 2));
}

/**
 * Removes everything a lab of this name made on the machine: its processes (by recorded PID),
 * mounts, namespaces and links (by name). Safe to call when nothing is there; returns what it found.
 */
async function teardown(lab: LabLayout): Promise<string[]> {
  const found: string[] = [];
  const state = readState(lab);
  const live = (state?.hosts ?? []).filter((h) => h.process && isSameProcess(h.process));
  if (live.length) found.push(`${live.length} running host(s)`);
  await Promise.all(live.map((h) => stopProcess(h.process!)));
  // A container whose nspawn was killed outlives it: end its init by the PID we recorded.
  for (const h of state?.hosts ?? []) {
    if (h.leader && isSameProcess(h.leader)) {
      found.push(`orphaned container ${h.name}`);
      killProcess(h.leader);
      for (let i = 0; i < 50 && isSameProcess(h.leader); i++) await new Promise((r) => setTimeout(r, 100));
    }
  }
  const cgroups = (state?.hosts ?? []).flatMap((h) => h.cgroups ?? []).filter((d) => existsSync(d));
  if (cgroups.length) {
    // The kernel ends a host's processes shortly after its init: wait for its cgroups to empty.
    let left = removeCgroups(cgroups);
    for (let i = 0; i < 50 && left.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = removeCgroups(cgroups);
    }
    found.push(`${cgroups.length} cgroup(s)`);
  }
  const mounts = mountsUnder(lab.dir);
  if (mounts.length) found.push(`${mounts.length} mount(s)`);
  for (const m of mounts) {
    if ((await run('umount', [m])).code !== 0) await run('umount', ['--lazy', m]);
  }
  const namespaces = labNamespaces(lab);
  const links = await labLinks(lab);
  if (namespaces.length) found.push(`${namespaces.length} network namespace(s)`);
  if (links.length) found.push(`${links.length} link(s)`);
  await removeNetwork(lab);
  await rm(lab.dir, { recursive: true, force: true });
  if (state?.clientDir) {
    for (const f of ['inventory.yml', 'known_hosts', 'id_ed25519', 'id_ed25519.pub'])
      await rm(path.join(state.clientDir, f), { force: true });
  }
  return found;
}

function labSpec(clientDir: string, address: string): ConnectionSpec {
  return {
    name: address,
    transport: 'ssh',
    address,
    port: 22,
    user: 'root',
    privateKeyFile: path.join(clientDir, 'id_ed25519'),
    // A host that just booted on a busy machine (load 13 on 2 cores was seen) may take more than
    // 5 s for its first key exchange: slow is not down.
    connectTimeoutMs: 20_000,
    keepaliveMs: 15_000,
    become: false,
    becomeUser: 'root',
    knownHostsFile: path.join(clientDir, 'known_hosts'),
    strictHostKeys: true,
  };
}

async function waitForPort(address: string, port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: address, port, timeout: 1000 }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
      s.on('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new LabError(`${address}: sshd did not start in time`);
}

/** Why sshd is down, in the host's own words: its journal, read through its init's namespaces. */
async function sshJournal(nspawn: ProcessRecord | undefined): Promise<string> {
  const leader = nspawn && containerLeader(nspawn);
  if (!leader) return '(the host is not running)';
  const r = await run(
    'nsenter',
    [
      '-t',
      String(leader.pid),
      '-a',
      '--',
      'journalctl',
      '-u',
      'ssh.service',
      '-n',
      '20',
      '--no-pager',
      '-o',
      'short-monotonic',
    ],
    {
      timeoutMs: 10_000,
    },
  );
  return `${r.stdout}${r.stderr}`.trim() || '(nothing)';
}

/** Waits until the host answers over SSH and systemd has finished booting; names failed units. */
async function waitReady(
  host: LabHostLayout,
  address: string,
  clientDir: string,
  timeoutMs: number,
  nspawn?: ProcessRecord,
): Promise<{ state: string; failedUnits: string[] }> {
  const deadline = Date.now() + timeoutMs;
  await waitForPort(address, 22, deadline).catch(async (err: Error) => {
    // The console is removed with the lab: keep its last lines in the error for whoever debugs.
    const consoleTail = existsSync(path.join(host.dir, 'console.log'))
      ? readFileSync(path.join(host.dir, 'console.log'), 'utf8').split('\n').slice(-15).join('\n')
      : '(no console log)';
    // Each host's systemd takes several inotify instances; many hosts at once can run out of them.
    const inotify = readFileSync('/proc/sys/fs/inotify/max_user_instances', 'utf8').trim();
    const hint =
      `\nif many lab hosts run at once, ` +
      `fs.inotify.max_user_instances (now ${inotify}) may be too low: each host needs about 6`;
    throw new LabError(
      `${host.name}: ${err.message}; last lines of its console:\n${consoleTail}\nssh.service in its ` +
        `journal:\n${await sshJournal(nspawn)}${hint}`,
    );
  });
  const conn = openConnection({ ...labSpec(clientDir, address), name: host.name });
  try {
    await conn.open();
    const r = await conn.exec(
      'systemctl is-system-running --wait; systemctl list-units --failed --plain --no-legend --no-pager',
      {
        timeoutMs: Math.max(1000, deadline - Date.now()),
      },
    );
    const lines = r.stdout.toString().trim().split('\n');
    const state = (lines.shift() ?? '').trim();
    const failedUnits = lines.map((l) => l.trim().split(/\s+/)[0]).filter((u): u is string => !!u);
    if (state !== 'running' && state !== 'degraded') {
      throw new LabError(
        `${host.name}: systemd reports '${state}' after boot; see ${path.join(host.dir, 'console.log')}`,
      );
    }
    return { state, failedUnits };
  } finally {
    await conn.close();
  }
}

function inventoryYaml(lab: LabLayout, clientDir: string, hosts: LabHostLayout[], ipv6: boolean): string {
  const names = hosts.map((h) => h.name);
  const children = Object.fromEntries(
    Object.entries(labGroups(names)).map(([g, members]) => [
      g,
      { hosts: Object.fromEntries(members.map((m) => [m, null])) },
    ]),
  );
  const doc = {
    all: {
      vars: {
        ansible_user: 'root',
        ansible_ssh_private_key_file: path.join(clientDir, 'id_ed25519'),
        furrow_known_hosts_file: path.join(clientDir, 'known_hosts'),
        furrow_lab: lab.name,
        // The controller's address on the lab bridge: where it serves packages to the hosts.
        furrow_lab_gateway: lab.gateway,
      },
      hosts: Object.fromEntries(hosts.map((h) => [h.name, { ansible_host: ipv6 ? h.address6 : h.address }])),
      children,
    },
  };
  return (
    `# Written by 'furrow lab up --name ${lab.name}'. Users: root and furrow (key login; furrow has\n# ` +
    `password-less sudo), furrowpw (key login; sudo password '${LAB_SUDO_PASSWORD}').\n${YAML.stringify(doc)}`
  );
}

/**
 * A running lab of this name made from another folder is someone's: `lab up` from here would
 * remove its hosts and that folder's inventory. Refused (exit 2, nothing touched) unless `replace`.
 */
function refuseForeignLab(lab: LabLayout, cwd: string, replace: boolean): void {
  const state = readState(lab);
  if (!state || replace) return;
  const running = state.hosts.some(
    (h) => (h.process && isSameProcess(h.process)) || (h.leader && isSameProcess(h.leader)),
  );
  if (!running || path.resolve(state.clientDir) === path.resolve(labClientDir(cwd, lab.name))) return;
  const folder = path.dirname(path.dirname(state.clientDir));
  const flag = lab.name === 'default' ? '' : ` --name ${lab.name}`;
  throw new InputError(
    undefined,
    `lab '${lab.name}' is running, made from ${folder} (its inventory: ` +
      `${path.join(state.clientDir, 'inventory.yml')}); 'lab up' here would remove it`,
    `take it down first with ` +
      `'furrow lab down${flag}' (from any folder), use another name (--name), or replace it on purpose ` +
      `with 'furrow lab up${flag} --replace'`,
  );
}

/**
 * `packages`: extra Debian packages in the hosts' root filesystem (a separate cached tree).
 * `replace`: take down a running lab of this name even when another folder made it.
 * `ipv6`: every host also gets an address in the lab's IPv6 /64 (see ipv6Prefix), and the inventory reaches the hosts
 * by it; their IPv4 addresses stay, so the lab's package server on the IPv4 gateway still serves them.
 */
export async function labUp(
  opts: LabOptions & { hosts: number; bootTimeoutMs?: number; packages?: string[]; replace?: boolean; ipv6?: boolean },
): Promise<LabUpResult> {
  requireRoot();
  const named = labLayout(opts.name);
  refuseForeignLab(named, opts.cwd, opts.replace ?? false);
  const recipe = rootfsRecipe(opts.packages);
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > MAX_LAB_HOSTS) {
    throw new InputError(undefined, `--hosts must be a whole number from 1 to ${MAX_LAB_HOSTS}, got ${opts.hosts}`);
  }
  await ensureTools(opts.log);
  const recovered = await teardown(named);
  if (recovered.length) opts.log(`removed what an earlier lab '${named.name}' left: ${recovered.join(', ')}`);
  const rootfs = await ensureRootfs(opts.log, recipe);
  const ipv6 = opts.ipv6 ?? false;
  // A free /24 is only free until a bridge claims it: another lab up must not choose in between.
  // (Teardown finds the bridge by the lab's name, so a run that dies after this leaves nothing.)
  const lab = await withLabLock(opts.log, async () => {
    const chosen = await chooseNet(named);
    await createBridge(chosen, ipv6);
    return chosen;
  });

  const clientDir = labClientDir(opts.cwd, lab.name);
  await mkdir(clientDir, { recursive: true });
  await mkdir(lab.dir, { recursive: true });
  const clientKey = generateSshKeyPair(`furrow-lab-${lab.name}`);
  await writeFile(path.join(clientDir, 'id_ed25519'), clientKey.privateKey, { mode: 0o600 });
  await writeFile(path.join(clientDir, 'id_ed25519.pub'), `${clientKey.publicKey}\n`);

  const hosts = Array.from({ length: opts.hosts }, (_, i) => hostLayout(lab, i + 1));
  const hostKeys = hosts.map((h) => generateSshKeyPair(`root@${h.name}`));
  const reachedAt = (h: LabHostLayout) => (ipv6 ? h.address6 : h.address);
  const addressesOf = (h: LabHostLayout) => (ipv6 ? [h.address, h.address6] : [h.address]);
  // The lab knows its hosts' keys, so connections to it can check them strictly from the start.
  await writeFile(
    path.join(clientDir, 'known_hosts'),
    hosts
      .flatMap((h, i) => addressesOf(h).map((a) => `${a} ${hostKeys[i]!.publicKey.split(' ').slice(0, 2).join(' ')}\n`))
      .join(''),
    { mode: 0o600 },
  );

  const state: LabState = {
    name: lab.name,
    net: lab.net,
    clientDir,
    createdAt: new Date().toISOString(),
    hosts: hosts.map((h) => ({ name: h.name, address: reachedAt(h) })),
  };
  saveState(lab, state);
  opts.log(
    `booting ${hosts.length} host(s) on ${lab.bridge} (${lab.net}.0/24${ipv6 ? ` and ${ipv6Prefix(lab.net)}/64` : ''})`,
  );
  const hostsLines = hosts.flatMap((h) => addressesOf(h).map((a) => `${a}\t${h.name}`));
  await Promise.all(
    hosts.map(async (h, i) => {
      await createHostNetwork(lab, h, ipv6);
      await mountOverlay(h, rootfs.dir);
      await writeIdentity(h, { hostKey: hostKeys[i]!, authorizedKey: clientKey.publicKey, hostsLines });
      await writeContainerSupport(h);
      state.hosts[i]!.cgroups = createHostCgroups(hostCgroupName(lab, h));
      saveState(lab, state);
      state.hosts[i]!.process = bootContainer(h, lab.name, state.hosts[i]!.cgroups);
      saveState(lab, state);
    }),
  );
  const ready = await Promise.all(
    hosts.map((h, i) => waitReady(h, reachedAt(h), clientDir, opts.bootTimeoutMs ?? 120_000, state.hosts[i]!.process)),
  );
  for (const h of state.hosts) h.leader = h.process && containerLeader(h.process);
  saveState(lab, state);
  const inventory = path.join(clientDir, 'inventory.yml');
  await writeFile(inventory, inventoryYaml(lab, clientDir, hosts, ipv6));
  return {
    inventory,
    rootfsBuilt: rootfs.built,
    recovered,
    hosts: hosts.map((h, i) => ({ name: h.name, address: reachedAt(h), ...ready[i]! })),
  };
}

export async function labDown(opts: LabOptions): Promise<string[]> {
  requireRoot();
  return teardown(labLayout(opts.name));
}

export interface LabHostStatus {
  name: string;
  address: string;
  state: 'up' | 'booting' | 'stopped';
}

/**
 * A lab as `lab status` shows it: its network, the folder whose .furrow/lab holds its inventory and key, when it was
 * made, its hosts.
 */
export interface LabStatus {
  name: string;
  net: string;
  /** The folder `lab up` ran in: its .furrow/lab/ has the inventory and the key. */
  owner: string;
  inventory: string;
  createdAt?: string;
  hosts: LabHostStatus[];
}

export async function labStatus(opts: LabOptions): Promise<LabStatus | undefined> {
  const lab = labLayout(opts.name);
  const state = readState(lab);
  if (!state) return undefined;
  const hosts = await Promise.all(state.hosts.map((h) => hostStatus(h)));
  return {
    name: state.name,
    net: state.net,
    owner: path.dirname(path.dirname(state.clientDir)),
    inventory: path.join(state.clientDir, 'inventory.yml'),
    ...(state.createdAt ? { createdAt: state.createdAt } : {}),
    hosts,
  };
}

async function hostStatus(h: LabState['hosts'][number]): Promise<LabHostStatus> {
  if (!h.process || !isSameProcess(h.process)) return { name: h.name, address: h.address, state: 'stopped' };
  const sshUp = await waitForPort(h.address, 22, Date.now() + 500).then(
    () => true,
    () => false,
  );
  return { name: h.name, address: h.address, state: sshUp ? 'up' : 'booting' };
}

function findHost(lab: LabLayout, state: LabState | undefined, hostName: string): { state: LabState; index: number } {
  const index = state?.hosts.findIndex((h) => h.name === hostName) ?? -1;
  if (!state || index < 0)
    throw new InputError(
      undefined,
      `lab '${lab.name}' has no host '${hostName}'`,
      `see 'furrow lab status --name ${lab.name}'`,
    );
  return { state, index };
}

/** Stops one host (as if it were powered off); its disk and network stay for `lab start`. */
export async function labStopHost(opts: LabOptions & { host: string }): Promise<LabHostStatus> {
  requireRoot();
  const lab = labLayout(opts.name);
  const { state, index } = findHost(lab, readState(lab), opts.host);
  const rec = state.hosts[index]!;
  if (rec.process) await stopProcess(rec.process);
  if (rec.leader) killProcess(rec.leader);
  delete rec.process;
  delete rec.leader;
  saveState(lab, state);
  return hostStatus(rec);
}

export async function labStartHost(opts: LabOptions & { host: string }): Promise<LabHostStatus & { wasUp: boolean }> {
  requireRoot();
  const lab = labLayout(opts.name);
  const { state, index } = findHost(lab, readState(lab), opts.host);
  const rec = state.hosts[index]!;
  if (rec.process && isSameProcess(rec.process)) return { ...(await hostStatus(rec)), wasUp: true };
  const h = hostLayout(withNet(lab, state.net), index + 1);
  // What the host's last boot left in its cgroups goes, as a powered-off machine's would.
  removeCgroups(rec.cgroups ?? []);
  rec.cgroups = createHostCgroups(hostCgroupName(lab, h));
  saveState(lab, state);
  rec.process = bootContainer(h, lab.name, rec.cgroups);
  saveState(lab, state);
  await waitReady(h, rec.address, state.clientDir, 120_000, rec.process);
  rec.leader = containerLeader(rec.process);
  saveState(lab, state);
  return { ...(await hostStatus(rec)), wasUp: false };
}

/** PIDs whose command line names a path in dir: found to report them, never to kill them by. */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Started with a path of the lab (nspawn), or running inside one of its hosts (a container's processes).
      const inside = readlinkSync(`/proc/${entry}/root`).startsWith(`${dir}/`);
      if (inside || readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${dir}/`)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** What of this lab exists on the machine right now; empty when `down` left nothing behind. */
export async function labLeftovers(name: string): Promise<string[]> {
  const lab = labLayout(name);
  const left: string[] = [];
  const state = readState(lab);
  for (const h of state?.hosts ?? []) if (h.process && isSameProcess(h.process)) left.push(`process ${h.process.pid}`);
  for (const pid of processesUsing(lab.dir)) left.push(`process ${pid} (running from ${lab.dir})`);
  for (const d of (state?.hosts ?? []).flatMap((h) => h.cgroups ?? [])) if (existsSync(d)) left.push(`cgroup ${d}`);
  for (const m of mountsUnder(lab.dir)) left.push(`mount ${m}`);
  for (const ns of labNamespaces(lab)) left.push(`netns ${ns}`);
  for (const l of await labLinks(lab)) left.push(`link ${l}`);
  if (existsSync(lab.dir)) left.push(`folder ${lab.dir}`);
  return left;
}
