import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Each lab host gets a cgroup of its own in every cgroup hierarchy of the machine, and its
 * systemd-nspawn starts inside them. nspawn gives the host a cgroup namespace rooted where nspawn
 * was started, so without this every host of every lab would see the same cgroup tree (here: the
 * machine's root in cpu, pids, devices...; one shared `payload` in name=systemd). Once hosts run
 * containers that matters: each host's kubelet creates /kubepods and ends "orphaned" pod cgroups it
 * does not know, which would be the other hosts' pods. With a cgroup per host, what a host's
 * kubelet, containerd or systemd makes stays inside that host.
 */

export interface CgroupHierarchy {
  /** Where the machine mounts it, e.g. /sys/fs/cgroup/memory. */
  mount: string;
  /** cgroup v1 controllers (or name=...) it carries; empty for the unified (v2) hierarchy. */
  controllers: string[];
  /** This process's cgroup in it, as a folder. */
  own: string;
}

/** Octal escapes of /proc/self/mountinfo (\040 for a space). */
const unescapeOctal = (s: string) => s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The machine's cgroup hierarchies (v1 controllers, named ones and v2), from this process's view. */
export function cgroupHierarchies(
  mountinfo = readFileSync('/proc/self/mountinfo', 'utf8'),
  selfCgroup = readFileSync('/proc/self/cgroup', 'utf8'),
): CgroupHierarchy[] {
  // "N:controllers:/path" per hierarchy; v2 is "0::/path".
  const paths = selfCgroup
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [, ctrls = '', ...rest] = l.split(':');
      return { controllers: ctrls ? ctrls.split(',').sort() : [], path: rest.join(':') };
    });
  const found: CgroupHierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const [fstype, , superOptions = ''] = right.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = unescapeOctal(f[3] ?? '/');
    const mount = unescapeOctal(f[4] ?? '');
    if (found.some((h) => h.mount === mount)) continue;
    const controllers =
      fstype === 'cgroup2'
        ? []
        : superOptions
            .split(',')
            .filter(
              (o) =>
                !['rw', 'ro', 'clone_children', 'noprefix', 'xattr', 'nsdelegate'].includes(o) &&
                !o.startsWith('release_agent='),
            )
            .sort();
    const self = paths.find((p) => p.controllers.join(',') === controllers.join(','));
    if (!self || (root !== '/' && !`${self.path}/`.startsWith(`${root}/`))) continue;
    found.push({ mount, controllers, own: path.join(mount, path.relative(root, self.path)) });
  }
  return found;
}

/**
 * Makes the host's own cgroup in every hierarchy, under this process's; returns the folders (for
 * the lab's state, so `down` removes exactly them). cpuset needs its CPUs and memory nodes set
 * before a process may join; they are the parent's.
 */
export function createHostCgroups(name: string, hierarchies = cgroupHierarchies()): string[] {
  const made: string[] = [];
  for (const h of hierarchies) {
    const dir = path.join(h.own, name);
    mkdirSync(dir, { recursive: true });
    if (h.controllers.includes('cpuset')) {
      for (const f of ['cpuset.cpus', 'cpuset.mems'])
        writeFileSync(path.join(dir, f), readFileSync(path.join(h.own, f), 'utf8').trim() || '\n');
    }
    made.push(dir);
  }
  return made;
}

/**
 * Removes cgroup folders and every cgroup below them (what the host's systemd, containerd and
 * kubelet made), deepest first: a cgroup folder goes with rmdir once it has no processes and no
 * children. Returns the folders that could not be removed (a process still in them).
 */
export function removeCgroups(dirs: string[]): string[] {
  const left: string[] = [];
  const remove = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) remove(path.join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      left.push(dir);
    }
  };
  for (const d of dirs) remove(d);
  return left;
}
