import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cgroupHierarchies, createHostCgroups } from '../../../src/lab/cgroups.js';

// This machine's kind: cgroup v1 controllers, name=systemd and an empty unified hierarchy.
const MOUNTINFO = [
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,clone_children,cpuset',
  '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
  '50 22 0:40 / /proc rw - proc proc rw',
].join('\n');
const SELF = ['5:cpu,cpuacct:/', '4:memory:/process_api/abc', '3:cpuset:/', '9:name=systemd:/', '0::/', ''].join('\n');

describe('lab host cgroups', () => {
  test("every cgroup hierarchy is found with this process's cgroup in it, joined controllers as one", () => {
    expect(cgroupHierarchies(MOUNTINFO, SELF)).toEqual([
      { mount: '/sys/fs/cgroup/cpu,cpuacct', controllers: ['cpu', 'cpuacct'], own: '/sys/fs/cgroup/cpu,cpuacct' },
      { mount: '/sys/fs/cgroup/memory', controllers: ['memory'], own: '/sys/fs/cgroup/memory/process_api/abc' },
      { mount: '/sys/fs/cgroup/cpuset', controllers: ['cpuset'], own: '/sys/fs/cgroup/cpuset' },
      { mount: '/sys/fs/cgroup/systemd', controllers: ['name=systemd'], own: '/sys/fs/cgroup/systemd' },
      { mount: '/sys/fs/cgroup/unified', controllers: [], own: '/sys/fs/cgroup/unified' },
    ]);
  });

  test("a hierarchy mounted from a sub-cgroup maps this process's path below that root", () => {
    const info = '34 30 0:31 /lxc/box /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory';
    expect(cgroupHierarchies(info, '4:memory:/lxc/box/job\n')).toEqual([
      { mount: '/sys/fs/cgroup/memory', controllers: ['memory'], own: '/sys/fs/cgroup/memory/job' },
    ]);
  });

  test("a host cgroup is made in each hierarchy; cpuset gets its parent's CPUs and memory nodes", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-cgroups-test-'));
    try {
      for (const d of ['cpuset', 'pids']) mkdirSync(path.join(dir, d));
      writeFileSync(path.join(dir, 'cpuset', 'cpuset.cpus'), '0-1\n');
      writeFileSync(path.join(dir, 'cpuset', 'cpuset.mems'), '0\n');
      const made = createHostCgroups('furrow-lab-x-h1', [
        { mount: path.join(dir, 'cpuset'), controllers: ['cpuset'], own: path.join(dir, 'cpuset') },
        { mount: path.join(dir, 'pids'), controllers: ['pids'], own: path.join(dir, 'pids') },
      ]);
      expect(made).toEqual([path.join(dir, 'cpuset', 'furrow-lab-x-h1'), path.join(dir, 'pids', 'furrow-lab-x-h1')]);
      expect(readdirSync(made[0]!).sort()).toEqual(['cpuset.cpus', 'cpuset.mems']);
      expect(readdirSync(made[1]!)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
