import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../engine/errors.js';
import type { LabHostLayout } from './layout.js';
import { must } from './system.js';

/** A process we started, identified by PID and its start time, so a reused PID is never killed. */
export interface ProcessRecord {
  pid: number;
  startTime: string;
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * The container's own init, started by systemd-nspawn: recorded too, because a killed nspawn can
 * leave its container running (with the overlay busy and the machine name taken).
 */
export function containerLeader(nspawn: ProcessRecord): ProcessRecord | undefined {
  try {
    for (const task of readdirSync(`/proc/${nspawn.pid}/task`)) {
      const children = readFileSync(`/proc/${nspawn.pid}/task/${task}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
      for (const pid of children) {
        const startTime = processStartTime(pid);
        if (startTime !== undefined) return { pid, startTime };
      }
    }
  } catch {
    // nspawn is gone: nothing to record
  }
  return undefined;
}

/** Ends a container's init at once: the kernel then ends every process in its PID namespace. */
export function killProcess(rec: ProcessRecord): void {
  if (!isSameProcess(rec)) return;
  try {
    process.kill(rec.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export function isSameProcess(rec: ProcessRecord): boolean {
  return processStartTime(rec.pid) === rec.startTime;
}

export function rootDir(host: LabHostLayout): string {
  return path.join(host.dir, 'root');
}

/** Mounts the host's overlay over the shared tree; writes go to the host's own upper layer. */
export async function mountOverlay(host: LabHostLayout, lower: string): Promise<void> {
  const upper = path.join(host.dir, 'upper');
  const work = path.join(host.dir, 'work');
  const root = rootDir(host);
  for (const d of [upper, work, root]) await mkdir(d, { recursive: true });
  await must(
    'mount',
    ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, root],
    `mounting the overlay of ${host.name}`,
  );
}

function uidGid(root: string, user: string): { uid: number; gid: number } {
  const line = readFileSync(path.join(root, 'etc/passwd'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line)
    throw new LabError(
      `the lab root filesystem has no user '${user}': remove ${path.dirname(root)} and run lab up again`,
    );
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export interface HostIdentity {
  hostKey: { privateKey: string; publicKey: string };
  authorizedKey: string;
  /** Lines for /etc/hosts so hosts reach each other by name. */
  hostsLines: string[];
}

/** Gives the host its own name, machine id, SSH host key and the lab's login key, before boot. */
export async function writeIdentity(host: LabHostLayout, id: HostIdentity): Promise<void> {
  const root = rootDir(host);
  await writeFile(path.join(root, 'etc/hostname'), `${host.name}\n`);
  await writeFile(path.join(root, 'etc/machine-id'), `${randomBytes(16).toString('hex')}\n`);
  await writeFile(
    path.join(root, 'etc/hosts'),
    ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...id.hostsLines, ''].join('\n'),
  );
  const keyFile = path.join(root, 'etc/ssh/ssh_host_ed25519_key');
  await writeFile(keyFile, id.hostKey.privateKey, { mode: 0o600 });
  await chmod(keyFile, 0o600);
  await writeFile(`${keyFile}.pub`, `${id.hostKey.publicKey}\n`, { mode: 0o644 });
  for (const user of ['root', 'furrow', 'furrowpw']) {
    const home = user === 'root' ? path.join(root, 'root') : path.join(root, 'home', user);
    const sshDir = path.join(home, '.ssh');
    const { uid, gid } = uidGid(root, user);
    await mkdir(sshDir, { recursive: true, mode: 0o700 });
    await writeFile(path.join(sshDir, 'authorized_keys'), `${id.authorizedKey}\n`, { mode: 0o600 });
    await chown(sshDir, uid, gid);
    await chown(path.join(sshDir, 'authorized_keys'), uid, gid);
  }
}

/** Where the host's container support is written (see writeContainerSupport). */
const SUPPORT_SCRIPT = 'usr/local/sbin/furrow-lab-containers';
const SUPPORT_UNIT = 'etc/systemd/system/furrow-lab-containers.service';

/**
 * Runs at every boot of the host, before anything that starts containers, and makes the host able
 * to run them (runc, containerd, the kubelet), as a real host can:
 * - systemd-nspawn mounts the cgroup v1 controllers read-only, and runc (cgroupfs driver) must make
 *   cgroups in them; remounting them read-write is refused as busy for some, so each is unmounted
 *   and mounted afresh. Inside the host's cgroup namespace the fresh mount shows the host's own
 *   cgroup (see cgroups.ts) as its root. Joined controllers (cpu,cpuacct) are one mount with links
 *   to it; systemd's own hierarchies (name=systemd, unified) are writable already.
 * - the kubelet reads the kernel's log from /dev/kmsg and exits without it, and nspawn's /dev has
 *   none; as kind does, the console stands in for it.
 * A machine with only cgroup v2 has no v1 mounts here, and the loop does nothing.
 */
const SUPPORT_SCRIPT_TEXT = `#!/bin/sh
# Written by 'furrow lab up': lets this lab host run containers (see furrow-lab-containers.service).
set -eu
for dir in /sys/fs/cgroup/*; do
  [ -L "$dir" ] && continue
  controllers=\${dir##*/}
  case "$controllers" in systemd|unified|name=*) continue ;; esac
  mountpoint -q "$dir" || continue
  [ "$(stat -f -c %T "$dir")" = cgroupfs ] || continue
  umount "$dir"
  mount -t cgroup -o "$controllers" cgroup "$dir"
done
[ -e /dev/kmsg ] || ln -s /dev/console /dev/kmsg
`;

const SUPPORT_UNIT_TEXT = `# Written by 'furrow lab up'. The lab host is a systemd-nspawn container: this makes it \
able to run
# containers (writable cgroup v1 controllers, /dev/kmsg); see ${`/${SUPPORT_SCRIPT}`}.
[Unit]
Description=Furrow lab: let this host run containers
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target containerd.service docker.service kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/${SUPPORT_SCRIPT}

[Install]
WantedBy=sysinit.target
`;

/** Writes the container support script and its unit (enabled) into the host's own layer, before boot. */
export async function writeContainerSupport(host: LabHostLayout): Promise<void> {
  const root = rootDir(host);
  await mkdir(path.join(root, path.dirname(SUPPORT_SCRIPT)), { recursive: true });
  await writeFile(path.join(root, SUPPORT_SCRIPT), SUPPORT_SCRIPT_TEXT, { mode: 0o755 });
  await writeFile(path.join(root, SUPPORT_UNIT), SUPPORT_UNIT_TEXT);
  const wants = path.join(root, 'etc/systemd/system/sysinit.target.wants');
  await mkdir(wants, { recursive: true });
  await rm(path.join(wants, 'furrow-lab-containers.service'), { force: true });
  await symlink(`/${SUPPORT_UNIT}`, path.join(wants, 'furrow-lab-containers.service'));
}

/** The sysctl trees a lab host may read and not write: the kernel keeps them machine-wide. */
export const MACHINE_SYSCTL_TREES = ['/proc/sys/vm', '/proc/sys/kernel', '/proc/sys/fs'];

/**
 * Boots the host: systemd as PID 1 under systemd-nspawn, detached, console to a log file. A shell
 * first moves itself into the host's own cgroups (`cgroups`, see cgroups.ts) and then becomes
 * nspawn (exec: the same PID), so the host's cgroup namespace is rooted there.
 */
export function bootContainer(host: LabHostLayout, labName: string, cgroups: string[] = []): ProcessRecord {
  const log = openSync(path.join(host.dir, 'console.log'), 'a');
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      'for cg in $FURROW_LAB_CGROUPS; do echo $$ > "$cg/cgroup.procs" || exit 1; done; exec systemd-nspawn "$@"',
      'furrow-lab-boot',
      `--directory=${rootDir(host)}`,
      '--boot',
      `--machine=furrow-${labName}-${host.name}`,
      `--hostname=${host.name}`,
      '--capability=all',
      '--private-users=no',
      '--register=no',
      '--keep-unit',
      '--console=read-only',
      `--network-namespace-path=/run/netns/${host.netns}`,
      // runc makes every container join a new session keyring: nspawn's seccomp filter refuses
      // these calls by default ("unable to join session keyring: operation not permitted").
      '--system-call-filter=add_key keyctl request_key',
      // The API file systems are writable (the environment below): net sysctls under /proc/sys are per
      // network namespace, so hosts may write their own as real hosts do. The trees that are this
      // machine's own (vm.*, kernel.*, fs.*) stay read-only: a host must not change the machine.
      ...MACHINE_SYSCTL_TREES.map((tree) => `--bind-ro=${tree}`),
    ],
    {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, SYSTEMD_NSPAWN_API_VFS_WRITABLE: '1', FURROW_LAB_CGROUPS: cgroups.join(' ') },
    },
  );
  closeSync(log);
  child.unref();
  const pid = child.pid;
  const startTime = pid === undefined ? undefined : processStartTime(pid);
  if (pid === undefined || startTime === undefined) {
    throw new LabError(`${host.name}: systemd-nspawn did not start; see ${path.join(host.dir, 'console.log')}`);
  }
  return { pid, startTime };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops a container we started: SIGTERM asks nspawn for an orderly shutdown, SIGKILL if it hangs. */
export async function stopProcess(rec: ProcessRecord, graceMs = 15_000): Promise<void> {
  if (!isSameProcess(rec)) return;
  try {
    process.kill(rec.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isSameProcess(rec)) return;
    await sleep(100);
  }
  try {
    process.kill(rec.pid, 'SIGKILL');
  } catch {
    return;
  }
  while (isSameProcess(rec)) await sleep(50);
}

/** Mount points at or below dir, deepest first (the order they must be unmounted in). */
export function mountsUnder(dir: string): string[] {
  if (!existsSync('/proc/self/mountinfo')) return [];
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}
