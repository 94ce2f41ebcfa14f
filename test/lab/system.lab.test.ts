import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from '../../src/engine/connections/types.js';
import { gatherFacts } from '../../src/engine/facts/gather.js';
import { hostVars, loadInventory } from '../../src/engine/inventory/index.js';
import type { Module } from '../../src/engine/module.js';
import { command } from '../../src/modules/command.js';
import { kmod } from '../../src/modules/kmod.js';
import { shell } from '../../src/modules/shell.js';
import { waitScript } from '../../src/modules/support/wait-script.js';
import { sysctl } from '../../src/modules/sysctl.js';
import { systemd } from '../../src/modules/systemd.js';
import { wait_for } from '../../src/modules/wait_for.js';
import { moduleContext, runModule } from '../support/modules.js';
import { describeLab, expectExit, furrow, labHostConnection, labTestName } from './support.js';

const NAME = labTestName('t-system');
const UNIT = 'furrow-sleep.service';
const unitText = (description: string) =>
  `[Unit]\nDescription=${description}\n\n[Service]\nExecStart=/bin/sleep ` +
  `infinity\n\n[Install]\nWantedBy=multi-user.target\n`;

describeLab('system modules and facts on a real lab host', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-system-lab-'));
  const inventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  let conn: Connection;
  let address = '';

  /** What a user would type on the host to check. */
  async function onHost(cmd: string): Promise<string> {
    const r = await conn.exec(cmd);
    if (r.code !== 0) throw new Error(`${cmd}: exit ${r.code}: ${r.stderr.toString()}`);
    return r.stdout.toString().trim();
  }

  const run = <P>(mod: Module<P, unknown>, params: P, check = false) =>
    runModule(mod, moduleContext(conn, { check }), params);
  /** Microseconds since boot when the unit last became active: changes on every (re)start. */
  const startedAt = () => onHost(`systemctl show -p ActiveEnterTimestampMonotonic --value ${UNIT}`);

  beforeAll(async () => {
    expectExit(await furrow(['lab', 'up', '--hosts', '1', '--name', NAME], { cwd }), 0);
    const inv = await loadInventory(inventory);
    const vars = hostVars(inv, 'h1');
    address = String(vars.ansible_host);
    conn = labHostConnection(inv, 'h1', cwd);
    await conn.open();
  }, 600_000);

  afterAll(async () => {
    await conn?.close();
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  });

  test('facts: Debian 12, the architecture, hostname h1 and its lab address, in one round trip', async () => {
    const f = await gatherFacts(conn);
    expect([f.os.id, f.os.version, f.os.codename, f.os.family]).toEqual(['debian', '12', 'bookworm', 'debian']);
    expect(f.arch).toBe({ x64: 'amd64', arm64: 'arm64' }[process.arch as string] ?? process.arch);
    expect([f.hostname, f.init, f.package_manager]).toEqual(['h1', 'systemd', 'apt']);
    expect(f.default_ipv4?.address).toBe(address);
    expect((f.ansible_default_ipv4 as { address: string }).address).toBe(address);
    expect([
      f.ansible_os_family,
      f.ansible_distribution,
      f.ansible_distribution_major_version,
      f.ansible_hostname,
    ]).toEqual(['Debian', 'Debian', '12', 'h1']);
    expect(f.ansible_processor_vcpus).toBe(Number(await onHost('nproc')));
    expect(f.ansible_memtotal_mb).toBeGreaterThan(0);
  });

  test('systemd: a unit from content is created, enabled and started; a re-run changes nothing', async () => {
    const params = {
      name: 'furrow-sleep',
      content: unitText('Furrow lab sleeper'),
      state: 'started' as const,
      enabled: true,
    };
    const first = await run(systemd, params);
    expect(first.plan.action).toBe('create');
    expect(first.result?.failed).toBeUndefined();
    expect(await onHost(`systemctl is-active ${UNIT}; systemctl is-enabled ${UNIT}`)).toBe('active\nenabled');
    expect(await onHost(`cat /etc/systemd/system/${UNIT}`)).toBe(unitText('Furrow lab sleeper').trim());
    const since = await startedAt();

    const again = await run(systemd, params);
    expect(again.changed).toBe(false);
    expect(again.plan.reason).toBe(`${UNIT} is active (running) and enabled`);
    expect(await startedAt()).toBe(since);

    // Check mode on a changed unit: the diff shows it, nothing on the host moves.
    const changedParams = { ...params, content: unitText('Furrow lab sleeper, changed') };
    const checked = await run(systemd, changedParams, true);
    expect(checked.plan.action).toBe('update');
    expect(checked.plan.diff?.unified).toContain(
      '-Description=Furrow lab sleeper\n+Description=Furrow lab sleeper, changed\n',
    );
    expect(await onHost(`grep Description /etc/systemd/system/${UNIT}`)).toBe('Description=Furrow lab sleeper');

    // The change itself: written and daemon-reloaded, but not restarted (that is a handler's job).
    expect((await run(systemd, changedParams)).changed).toBe(true);
    expect(await onHost(`systemctl show -p Description,NeedDaemonReload ${UNIT}`)).toBe(
      'Description=Furrow lab sleeper, changed\nNeedDaemonReload=no',
    );
    expect(await startedAt()).toBe(since);
    expect((await run(systemd, changedParams)).changed).toBe(false);
  });

  test('systemd: daemon_reload only when needed; restarted always acts; stop, disable, enable, mask', async () => {
    expect((await run(systemd, { name: UNIT, daemon_reload: true })).changed).toBe(false);
    await onHost(`echo '# edited behind our back' >> /etc/systemd/system/${UNIT}`);
    const stale = await run(systemd, { name: UNIT, daemon_reload: true });
    expect(stale.plan.reason).toBe(`systemd reports that ${UNIT} changed on disk (NeedDaemonReload=yes)`);
    expect(await onHost(`systemctl show -p NeedDaemonReload --value ${UNIT}`)).toBe('no');
    expect((await run(systemd, { name: UNIT, daemon_reload: true })).changed).toBe(false);
    expect((await run(systemd, { daemon_reload: true })).changed).toBe(false);

    const before = await startedAt();
    expect((await run(systemd, { name: UNIT, state: 'restarted' as const })).changed).toBe(true);
    expect(await startedAt()).not.toBe(before);

    const down = { name: UNIT, state: 'stopped' as const, enabled: false };
    expect((await run(systemd, down)).changed).toBe(true);
    expect(await onHost(`systemctl is-active ${UNIT} || true; systemctl is-enabled ${UNIT} || true`)).toBe(
      'inactive\ndisabled',
    );
    expect((await run(systemd, down)).changed).toBe(false);

    // Enabled again with no daemon-reload in the plan: enable reloads not systemd (its generators) either, and a
    // re-run changes nothing (when systemd still says disabled, the probe reads the disk).
    const up = { name: UNIT, state: 'started' as const, enabled: true };
    const reloads = async () =>
      Number(await onHost(`journalctl --sync; journalctl _PID=1 --no-pager -o cat | grep -c '^Reloading\\.$' || true`));
    const reloadsBefore = await reloads();
    expect((await run(systemd, up)).changed).toBe(true);
    expect(await onHost(`systemctl is-active ${UNIT}; systemctl is-enabled ${UNIT}`)).toBe('active\nenabled');
    expect(await reloads()).toBe(reloadsBefore);
    const upAgain = await run(systemd, up);
    expect(upAgain.changed).toBe(false);
    expect(upAgain.plan.reason).toBe(`${UNIT} is active (running) and enabled`);

    const masked = await run(systemd, { name: 'furrow-sleep-other', masked: true });
    expect(masked.changed).toBe(true);
    expect(await onHost('systemctl is-enabled furrow-sleep-other.service || true')).toBe('masked');
    expect((await run(systemd, { name: 'furrow-sleep-other', masked: true })).changed).toBe(false);
    expect((await run(systemd, { name: 'furrow-sleep-other', masked: false })).changed).toBe(true);
    expect((await run(systemd, { name: 'furrow-sleep-other', masked: false })).changed).toBe(false);
  });

  test(
    'sysctl: a per-host net key in the drop-in and live; re-run, drift, check mode; the ' + 'machine is untouched',
    async () => {
      const machineBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
      await onHost('echo 0 > /proc/sys/net/ipv4/ip_forward');
      const params = { name: 'net.ipv4.ip_forward', value: '1' };
      const first = await run(sysctl, params);
      expect(first.plan).toMatchObject({
        action: 'create',
        diff: { values: [{ key: 'net.ipv4.ip_forward', before: '0', after: '1' }] },
      });
      expect(await onHost('cat /proc/sys/net/ipv4/ip_forward; cat /etc/sysctl.d/99-furrow.conf')).toBe(
        '1\nnet.ipv4.ip_forward=1',
      );
      expect((await run(sysctl, params)).plan).toEqual({ action: 'none', reason: 'net.ipv4.ip_forward is 1' });

      await onHost('echo 0 > /proc/sys/net/ipv4/ip_forward');
      const checked = await run(sysctl, params, true);
      expect(checked.plan).toMatchObject({ action: 'update', reason: 'net.ipv4.ip_forward is 0, wants 1' });
      expect(await onHost('cat /proc/sys/net/ipv4/ip_forward')).toBe('0');
      expect((await run(sysctl, params)).changed).toBe(true);
      expect(await onHost('cat /proc/sys/net/ipv4/ip_forward')).toBe('1');

      const somaxconn = { name: 'net.core.somaxconn', value: 1024 };
      expect((await run(sysctl, somaxconn)).changed).toBe(true);
      expect((await run(sysctl, somaxconn)).changed).toBe(false);
      expect(await onHost('cat /etc/sysctl.d/99-furrow.conf')).toBe('net.ipv4.ip_forward=1\nnet.core.somaxconn=1024');
      expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(machineBefore);

      expect((await run(sysctl, { name: 'net.ipv4.ip_forward', state: 'absent' as const })).changed).toBe(true);
      expect(await onHost('cat /etc/sysctl.d/99-furrow.conf')).toBe('net.core.somaxconn=1024');
    },
  );

  test(
    'kmod: a module built in or already loaded is fine; the boot file is managed; an ' + 'impossible load says why',
    async () => {
      const overlay = await run(kmod, { name: 'overlay' });
      expect(overlay.changed).toBe(false);
      expect(overlay.plan.reason).toMatch(/^overlay is (loaded|built into the kernel)$/);
      const persist = { name: 'overlay', persistent: 'present' as const };
      expect((await run(kmod, persist)).plan).toMatchObject({
        action: 'update',
        reason: '/etc/modules-load.d/overlay.conf does not exist',
      });
      expect(await onHost('cat /etc/modules-load.d/overlay.conf')).toBe('overlay');
      expect((await run(kmod, persist)).changed).toBe(false);
      expect((await run(kmod, { name: 'overlay', persistent: 'absent' as const })).changed).toBe(true);
      expect(await onHost('test -e /etc/modules-load.d/overlay.conf && echo yes || echo no')).toBe('no');

      const missing = await run(kmod, { name: 'furrow_no_such_module' });
      expect(missing.result?.failed).toBe(true);
      expect(missing.result?.msg).toContain('h1: loading kernel module furrow_no_such_module failed (exit status 1)');
      if ((await onHost('test -d /lib/modules/$(uname -r) && echo yes || echo no')) === 'no') {
        expect(missing.result?.msg).toContain('/lib/modules/');
        expect(missing.result?.msg).toContain('does not exist on this host, so no module can be loaded here');
      }
    },
  );

  test('command and shell: creates/removes guards on the host', async () => {
    await onHost('rm -rf /tmp/furrow-guard && mkdir /tmp/furrow-guard');
    const make = { cmd: 'touch made', chdir: '/tmp/furrow-guard', creates: 'made' };
    expect((await run(command, make)).changed).toBe(true);
    expect((await run(command, make)).plan).toEqual({
      action: 'none',
      reason: '/tmp/furrow-guard/made exists: not running',
    });
    const cleanup = {
      cmd: 'rm -f /tmp/furrow-guard/made && echo removed | tr a-z A-Z',
      removes: '/tmp/furrow-guard/made',
    };
    const removed = await run(shell, cleanup);
    expect(removed.result?.output).toMatchObject({ rc: 0, stdout: 'REMOVED' });
    expect((await run(shell, cleanup)).changed).toBe(false);
    const failed = await run(command, { argv: ['ls', '/nonexistent-furrow'] });
    expect(failed.result).toMatchObject({ failed: true, output: { rc: 2 } });
  });

  test('wait_for: sshd on port 22, a path, a timeout, and a TCP try from the host', async () => {
    expect((await run(wait_for, { port: 22, timeout: 10 })).plan.reason).toMatch(
      /^waiting is not a change: port 22 on 127\.0\.0\.1 listening \(after [01] s\)$/,
    );
    expect((await run(wait_for, { port: 22, host: address, timeout: 10 })).changed).toBe(false);
    expect((await run(wait_for, { path: '/etc/os-release', search_regex: 'bookworm', timeout: 5 })).changed).toBe(
      false,
    );
    await expect(run(wait_for, { port: 2, timeout: 1 })).rejects.toThrow(
      'h1: wait_for: timed out after 1 s waiting for port 2 on 127.0.0.1 to be listening',
    );
    const tcp = await conn.exec(
      waitScript(
        {
          check: { kind: 'tcp', host: '127.0.0.1', port: 22, absent: false, connectTimeout: 2 },
          timeout: 5,
          delay: 0,
          sleep: 1,
        },
        false,
      ),
    );
    expect(tcp.stdout.toString()).toMatch(/^@ok [01]\n$/);
  });
});
