import {
  probeUnits,
  staleUnits,
  systemdSpanSeconds,
  systemdStatus,
  unitName,
} from '../../../../src/modules/probes/systemd.js';
import { cannedConnection } from '../support/hosts.js';

const SHA = 'b'.repeat(64);

/** Captured from a lab host (properties come back in systemd's own order). */
const TWO_UNITS = `@unit ssh.service
LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=enabled
ActiveEnterTimestamp=Sun 2026-11-22 01:57:03 UTC
NeedDaemonReload=no
@sha256 -
@unit nope.service
LoadState=not-found
ActiveState=inactive
SubState=dead
UnitFileState=
ActiveEnterTimestamp=
NeedDaemonReload=no
@sha256 -
`;

describe('systemd probe', () => {
  test('parses one status per unit, in order', () => {
    expect(systemdStatus.parse(TWO_UNITS)).toEqual([
      {
        unit: 'ssh.service',
        loadState: 'loaded',
        activeState: 'active',
        subState: 'running',
        unitFileState: 'enabled',
        needDaemonReload: false,
        activeEnterTimestamp: 'Sun 2026-11-22 01:57:03 UTC',
        fileSha256: null,
      },
      {
        unit: 'nope.service',
        loadState: 'not-found',
        activeState: 'inactive',
        subState: 'dead',
        unitFileState: '',
        needDaemonReload: false,
        activeEnterTimestamp: '',
        fileSha256: null,
      },
    ]);
  });

  test('a managed unit file: its hash, NeedDaemonReload, and the old text when it differs', () => {
    const old = Buffer.from('[Service]\nExecStart=/bin/true\n').toString('base64');
    const out =
      '@unit app.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nUnitFileState=disabled\n' +
      `NeedDaemonReload=yes\nActiveEnterTimestamp=\n@sha256 ${SHA}\n@content\n${old}\n@end\n`;
    expect(systemdStatus.parse(out)).toEqual([
      {
        unit: 'app.service',
        loadState: 'loaded',
        activeState: 'failed',
        subState: 'failed',
        unitFileState: 'disabled',
        needDaemonReload: true,
        activeEnterTimestamp: '',
        fileSha256: SHA,
        content: '[Service]\nExecStart=/bin/true\n',
      },
    ]);
  });

  test('the command: one systemctl show per unit, names quoted; a hash only where the text is given', () => {
    const cmd = systemdStatus.command([
      { unit: "it's.service" },
      { unit: 'b.service', wantSha256: SHA, checkEnabled: true },
    ]);
    expect(cmd).toContain(
      `systemctl show -p ` +
        `'ActiveState,SubState,UnitFileState,LoadState,NeedDaemonReload,ActiveEnterTimestamp,TimeoutStartUSec' -- ` +
        `'it'\\''s.service') || exit 1`,
    );
    // Asked only when systemd says disabled: an enable without a reload leaves that answer behind.
    expect(cmd).toContain(
      `case "$s" in *UnitFileState=disabled*) echo "@enabled $(systemctl is-enabled -- 'b.service' ` +
        `2>/dev/null)";; esac`,
    );
    expect(cmd).toContain(
      `if [ -f '/etc/systemd/system/b.service' ]; then h=$(sha256sum < '/etc/systemd/system/b.service'`,
    );
    expect(cmd).toContain(`[ "$h" != '${SHA}' ]`);
    // Only for the unit whose task sets `enabled`, and the hash only for the one whose text the task gives.
    expect(cmd.match(/systemctl is-enabled/g)).toHaveLength(1);
    expect(cmd.match(/sha256sum/g)).toHaveLength(1);
    expect(cmd.match(/systemctl show/g)).toHaveLength(2);
    expect(cmd.match(/base64/g)).toHaveLength(1);
  });

  test("a unit systemd calls disabled takes the state on disk (enable --no-reload leaves systemd's behind)", () => {
    const out = (onDisk: string) =>
      '@unit kubelet.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=disabled\n' +
      `NeedDaemonReload=no\n@enabled ${onDisk}\n@sha256 -\n`;
    expect(systemdStatus.parse(out('enabled'))[0]?.unitFileState).toBe('enabled');
    expect(systemdStatus.parse(out('disabled'))[0]?.unitFileState).toBe('disabled');
    expect(systemdStatus.parse(out(''))[0]?.unitFileState).toBe('disabled');
  });

  test('unit names default to .service', () => {
    expect(['nginx', 'kubelet.service', 'docker.socket', 'fstrim.timer', 'getty@tty1'].map(unitName)).toEqual([
      'nginx.service',
      'kubelet.service',
      'docker.socket',
      'fstrim.timer',
      'getty@tty1.service',
    ]);
  });

  test('probeUnits: one round trip; a host without systemctl gets a clear error', async () => {
    const conn = cannedConnection(TWO_UNITS);
    const found = await probeUnits(conn, [{ unit: 'ssh.service' }, { unit: 'nope.service' }]);
    expect(found.map((u) => u.activeState)).toEqual(['active', 'inactive']);
    expect(conn.commands).toHaveLength(1);
    await expect(probeUnits(cannedConnection('', 127), [{ unit: 'a.service' }])).rejects.toThrow(
      'h1: systemctl not found: this host does not run systemd',
    );
  });

  test('stale units: those whose files changed since the last daemon-reload', () => {
    const out =
      'Id=a.service\nNeedDaemonReload=no\n\nId=b.mount\nNeedDaemonReload=yes\n\nId=c.service\nNeedDaemonReload=yes\n';
    expect(staleUnits.parse(out)).toEqual(['b.mount', 'c.service']);
    expect(staleUnits.parse('')).toEqual(staleUnits.default);
  });
});

test("systemd's time spans in seconds (TimeoutStartUSec); infinity is no bound", () => {
  expect(['5min', '1min 30s', '300ms', '1h 2min', '90s', '2d', 'infinity', '', 'soon'].map(systemdSpanSeconds)).toEqual(
    [300, 90, 1, 3720, 90, 172800, undefined, undefined, undefined],
  );
});
