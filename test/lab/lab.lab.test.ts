import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { isSameProcess, type ProcessRecord } from '../../src/lab/host.js';
import { labLeftovers } from '../../src/lab/lab.js';
import { labLayout } from '../../src/lab/layout.js';
import { describeLab, expectExit, furrow, labTestName } from './support.js';

const NAME = labTestName('t-lab');

describeLab('furrow lab (real hosts)', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-lab-test-'));
  const inventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');

  afterAll(async () => {
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  });

  test('up boots hosts that answer over SSH, with their own names and kubeasz groups in the inventory', async () => {
    expectExit(await furrow(['lab', 'up', '--hosts', '2', '--name', NAME], { cwd }), 0);
    const inv = YAML.parse(readFileSync(inventory, 'utf8'));
    expect(Object.keys(inv.all.hosts)).toEqual(['h1', 'h2']);
    expect(Object.keys(inv.all.children.etcd.hosts)).toEqual(['h1']);
    expect(Object.keys(inv.all.children.kube_node.hosts)).toEqual(['h1', 'h2']);
    const key = inv.all.vars.ansible_ssh_private_key_file as string;
    expect(readFileSync(key, 'utf8')).toContain('PRIVATE KEY');
    expect((await import('node:fs')).statSync(key).mode & 0o777).toBe(0o600);

    const status = await furrow(['lab', 'status', '--name', NAME], { cwd });
    expectExit(status, 0);
    expect(status.stdout).toMatch(
      new RegExp(
        `^lab '${NAME}': 2 host\\(s\\) on 10\\.213\\.\\d+\\.0/24, made ` +
          `\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ from ${cwd}\\ninventory: ${inventory}$`,
        'm',
      ),
    );
    expect(status.stdout).toMatch(/^HOST\s+ADDRESS\s+STATE$/m);
    expect(status.stdout).toMatch(/^h1\s+10\.213\.\d+\.11\s+up$/m);
    expect(status.stdout).toMatch(/^h2\s+10\.213\.\d+\.12\s+up$/m);

    // stop and start say what they did, and status follows.
    const stopped = await furrow(['lab', 'stop', 'h2', '--name', NAME], { cwd });
    expectExit(stopped, 0);
    expect(stopped.stdout).toMatch(/^h2\t10\.213\.\d+\.12\tstopped$/m);
    expect(stopped.stderr).toMatch(/h2 is off; its disk and address stay: 'furrow lab start h2 --name /);
    expect((await furrow(['lab', 'status', '--name', NAME], { cwd })).stdout).toMatch(
      /^h2\s+10\.213\.\d+\.12\s+stopped$/m,
    );
    const started = await furrow(['lab', 'start', 'h2', '--name', NAME], { cwd });
    expectExit(started, 0);
    expect(started.stdout).toMatch(/^h2\t10\.213\.\d+\.12\tup$/m);
    expect(started.stderr).toMatch(/h2 booted in \d+\.\d s/);
    const json = JSON.parse((await furrow(['lab', 'status', '--name', NAME, '--json'], { cwd })).stdout) as {
      up: boolean;
      owner: string;
      createdAt: string;
      hosts: { name: string; state: string }[];
    };
    expect([json.up, json.owner, json.hosts.map((h) => `${h.name} ${h.state}`)]).toEqual([
      true,
      cwd,
      ['h1 up', 'h2 up'],
    ]);

    const r = await furrow(['exec', 'all', '-i', inventory, '--', 'hostname; systemctl is-system-running; ip route'], {
      cwd,
    });
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^h1 \| h1$/m);
    expect(r.stdout).toMatch(/^h2 \| h2$/m);
    expect(r.stdout).toMatch(/^h1 \| (running|degraded)$/m);
    // No route out of the machine: only the lab's own /24.
    expect(r.stdout).not.toMatch(/default via/);
  });

  test("a host writes its own net sysctls and cannot write the machine's (vm.*, kernel.*, fs.*)", async () => {
    const machineKeepalive = readFileSync('/proc/sys/net/ipv4/tcp_keepalive_time', 'utf8');
    // Each machine-wide key is written back with the value it has: were it writable, nothing would change.
    const script =
      'for k in vm/swappiness kernel/panic fs/inotify/max_user_watches; do v=$(cat /proc/sys/$k); ' +
      'if echo "$v" > /proc/sys/$k 2>/dev/null; then echo "$k writable"; else echo "$k read-only"; fi; done; ' +
      'k=/proc/sys/net/ipv4/tcp_keepalive_time; v=$(cat $k); echo 7201 > $k && echo "net $(cat $k)"; echo "$v" > $k';
    const r = await furrow(['exec', 'h1', '-i', inventory, '--', script], { cwd });
    expectExit(r, 0);
    expect(r.stdout.match(/^h1 \| .*$/gm)).toEqual([
      'h1 | vm/swappiness read-only',
      'h1 | kernel/panic read-only',
      'h1 | fs/inotify/max_user_watches read-only',
      'h1 | net 7201',
    ]);
    expect(readFileSync('/proc/sys/net/ipv4/tcp_keepalive_time', 'utf8')).toBe(machineKeepalive);
  });

  test('up recovers from a killed earlier run: stale processes, mounts, namespaces and bridge', async () => {
    // Simulate a crash: the nspawn processes we started are killed without a clean teardown
    // (their containers may outlive them).
    const state = JSON.parse(readFileSync(path.join(labLayout(NAME).dir, 'state.json'), 'utf8'));
    const leaders: ProcessRecord[] = state.hosts.map((h: { leader: ProcessRecord }) => h.leader);
    expect(leaders.every((l) => isSameProcess(l))).toBe(true);
    for (const h of state.hosts) process.kill(h.process.pid, 'SIGKILL');
    expect((await labLeftovers(NAME)).some((l) => l.startsWith('mount '))).toBe(true);

    const up = await furrow(['lab', 'up', '--hosts', '2', '--name', NAME], { cwd });
    expectExit(up, 0);
    expect(up.stderr).toMatch(new RegExp(`removed what an earlier lab '${NAME}' left: .*mount`));
    const r = await furrow(['exec', 'all', '-i', inventory, '--', 'hostname'], { cwd });
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^h2 \| h2$/m);
    // The old containers are gone, not running beside the new ones.
    expect(leaders.filter((l) => isSameProcess(l))).toEqual([]);
  }, 300_000);

  test('up from another folder refuses to take a running lab (exit 2, nothing touched); --replace ' +
    'does it on purpose', async () => {
    const other = mkdtempSync(path.join(os.tmpdir(), 'furrow-lab-test-other-'));
    const otherInventory = path.join(other, '.furrow', `lab-${NAME}`, 'inventory.yml');
    try {
      const before = JSON.parse(readFileSync(path.join(labLayout(NAME).dir, 'state.json'), 'utf8'));
      const refused = await furrow(['lab', 'up', '--hosts', '1', '--name', NAME], { cwd: other });
      expectExit(refused, 2);
      expect(refused.stderr).toContain(`lab '${NAME}' is running, made from ${cwd}`);
      expect(refused.stderr).toContain(`furrow lab down --name ${NAME}`);
      expect(refused.stderr).toContain('--replace');
      // Nothing touched: the same processes run, the maker's inventory is there, the other folder got none.
      expect(
        before.hosts.every(
          (h: { process: ProcessRecord; leader: ProcessRecord }) => isSameProcess(h.process) && isSameProcess(h.leader),
        ),
      ).toBe(true);
      expect(existsSync(inventory)).toBe(true);
      expect(existsSync(path.join(other, '.furrow'))).toBe(false);
      expectExit(await furrow(['exec', 'all', '-i', inventory, '--', 'true'], { cwd }), 0);

      const replaced = await furrow(['lab', 'up', '--hosts', '1', '--name', NAME, '--replace'], { cwd: other });
      expectExit(replaced, 0);
      expect(before.hosts.filter((h: { leader: ProcessRecord }) => isSameProcess(h.leader))).toEqual([]);
      expect(existsSync(inventory)).toBe(false);
      expect(Object.keys(YAML.parse(readFileSync(otherInventory, 'utf8')).all.hosts)).toEqual(['h1']);
      // And back to the first folder, on purpose too, for the tests below.
      expectExit(await furrow(['lab', 'up', '--hosts', '2', '--name', NAME, '--replace'], { cwd }), 0);
      expect(existsSync(otherInventory)).toBe(false);
      expect(existsSync(inventory)).toBe(true);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  }, 300_000);

  test('down leaves no mount, namespace, veth, bridge or process behind', async () => {
    const lab = labLayout(NAME);
    const state = JSON.parse(readFileSync(path.join(lab.dir, 'state.json'), 'utf8'));
    const pids: number[] = state.hosts.map((h: { process: { pid: number } }) => h.process.pid);
    expectExit(await furrow(['lab', 'down', '--name', NAME], { cwd }), 0);

    expect(await labLeftovers(NAME)).toEqual([]);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(`furrow-${NAME}-`);
    const links = execFileSync('ip', ['-o', 'link']).toString();
    expect(links).not.toContain(lab.bridge);
    expect(links).not.toContain(lab.vethPrefix);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(lab.dir);
    expect(existsSync(inventory)).toBe(false);
    expect((await furrow(['lab', 'status', '--name', NAME], { cwd })).stdout).toContain('is not up');
  });
});
