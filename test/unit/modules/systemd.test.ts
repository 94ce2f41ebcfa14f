import { createHash } from 'node:crypto';
import type { UnitStatus } from '../../../src/modules/probes/systemd.js';
import { decideReloadOnly, decideUnit, stepsFailure, systemd, type UnitWanted } from '../../../src/modules/systemd.js';
import { moduleContext } from '../../support/modules.js';
import { cannedConnection } from './support/hosts.js';

const UNIT = '[Unit]\nDescription=demo\n[Service]\nExecStart=/bin/sleep infinity\n';
const SHA_UNIT = createHash('sha256').update(UNIT).digest('hex');
const SHA_OLD = 'c'.repeat(64);

const status = (over: Partial<UnitStatus> = {}): UnitStatus => ({
  unit: 'demo.service',
  loadState: 'loaded',
  activeState: 'active',
  subState: 'running',
  unitFileState: 'enabled',
  needDaemonReload: false,
  activeEnterTimestamp: 'Sun 2026-11-22 01:57:03 UTC',
  fileSha256: null,
  ...over,
});
/** A disabled, stopped unit whose file changed since systemd loaded it. */
const stale = () => status({ activeState: 'inactive', unitFileState: 'disabled', needDaemonReload: true });
const want = (over: Partial<UnitWanted> = {}): UnitWanted => ({ unit: 'demo.service', daemonReload: false, ...over });

describe('systemd plan decisions (canned probe)', () => {
  test('running and enabled as asked: nothing to do', () => {
    expect(decideUnit(want({ state: 'started', enabled: true }), status())).toEqual({
      action: 'none',
      reason: 'demo.service is active (running) and enabled',
    });
  });

  test('a new unit from content: write, daemon-reload, enable, start', () => {
    const plan = decideUnit(
      want({ content: UNIT, state: 'started', enabled: true }),
      status({ loadState: 'not-found', activeState: 'inactive', subState: 'dead', unitFileState: '' }),
    );
    expect(plan).toEqual({
      action: 'create',
      reason:
        '/etc/systemd/system/demo.service does not exist; demo.service is disabled, wants enabled; demo.service is ' +
        'inactive, wants started',
      diff: {
        values: [
          { key: 'enabled', before: 'disabled', after: 'enabled' },
          { key: 'state', before: 'inactive', after: 'active' },
        ],
        unified:
          '--- /etc/systemd/system/demo.service\n+++ /etc/systemd/system/demo.service\n@@ -0,0 +1,4 ' +
          '@@\n+[Unit]\n+Description=demo\n+[Service]\n+ExecStart=/bin/sleep infinity\n',
      },
      data: {
        unit: 'demo.service',
        steps: [['daemon-reload'], ['enable', '--no-reload', 'demo.service'], ['start', 'demo.service']],
        write: { path: '/etc/systemd/system/demo.service', content: UNIT },
      },
    });
  });

  test('changed content whose old text did not come back (too large): hashes instead of a diff', () => {
    expect(decideUnit(want({ content: UNIT }), status({ fileSha256: SHA_OLD })).diff).toEqual({
      values: [{ key: 'content', before: `sha256:${SHA_OLD}`, after: `sha256:${SHA_UNIT}` }],
    });
  });

  test('same content (by hash): no write, no daemon-reload', () => {
    expect(decideUnit(want({ content: UNIT, state: 'started' }), status({ fileSha256: SHA_UNIT })).action).toBe('none');
  });

  test('changed content: a unified diff, daemon-reload, and no restart (that is for handlers)', () => {
    const plan = decideUnit(
      want({ content: UNIT, state: 'started' }),
      status({ fileSha256: SHA_OLD, content: '[Unit]\nDescription=old\n[Service]\nExecStart=/bin/sleep infinity\n' }),
    );
    expect(plan.action).toBe('update');
    expect(plan.reason).toBe('/etc/systemd/system/demo.service differs');
    expect(plan.data?.steps).toEqual([['daemon-reload']]);
    expect(plan.diff?.values).toEqual([]);
    expect(plan.diff?.unified).toBe(
      '--- /etc/systemd/system/demo.service\n+++ /etc/systemd/system/demo.service\n@@ -1,4 +1,4 @@\n ' +
        '[Unit]\n-Description=old\n+Description=demo\n [Service]\n ExecStart=/bin/sleep infinity\n',
    );
  });

  test('daemon_reload alone runs only when systemd says the unit needs it', () => {
    expect(decideUnit(want({ daemonReload: true }), status()).action).toBe('none');
    expect(decideUnit(want({ daemonReload: true }), status({ needDaemonReload: true }))).toMatchObject({
      action: 'update',
      reason: 'systemd reports that demo.service changed on disk (NeedDaemonReload=yes)',
      data: { steps: [['daemon-reload']] },
    });
    expect(decideUnit(want(), status({ needDaemonReload: true })).action).toBe('none');
  });

  test.each([
    ['stopped', 'active', [['stop', 'demo.service']]],
    ['stopped', 'inactive', []],
    ['stopped', 'failed', []],
    ['started', 'failed', [['start', 'demo.service']]],
    ['started', 'activating', []],
    ['restarted', 'active', [['restart', 'demo.service']]],
    ['restarted', 'inactive', [['start', 'demo.service']]],
    ['reloaded', 'active', [['reload', 'demo.service']]],
    ['reloaded', 'inactive', [['start', 'demo.service']]],
  ] as const)('state %s when %s', (state, activeState, steps) => {
    const plan = decideUnit(want({ state }), status({ activeState }));
    expect(plan.data?.steps ?? []).toEqual(steps);
    expect(plan.action).toBe(steps.length ? 'update' : 'none');
  });

  test.each([
    [true, 'disabled', [['enable', '--no-reload', 'demo.service']]],
    [true, 'static', []],
    [true, 'indirect', []],
    [false, 'enabled', [['disable', 'demo.service']]],
    [false, 'static', []],
    [false, 'disabled', []],
  ] as const)('enabled %s when %s', (enabled, unitFileState, steps) => {
    expect(decideUnit(want({ enabled }), status({ unitFileState })).data?.steps ?? []).toEqual(steps);
  });

  test('enable reloads only for a unit changed on disk that the plan does not reload; disable always', () => {
    // A changed unit file and no daemon_reload asked: enable's own reload lets the start see the new file.
    expect(decideUnit(want({ enabled: true, state: 'started' }), stale()).data?.steps).toEqual([
      ['enable', 'demo.service'],
      ['start', 'demo.service'],
    ]);
    expect(decideUnit(want({ enabled: false }), status({ needDaemonReload: true })).data?.steps).toEqual([
      ['disable', 'demo.service'],
    ]);
    // With daemon_reload asked, the plan's own reload does it, once.
    expect(decideUnit(want({ enabled: true, state: 'started', daemonReload: true }), stale()).data?.steps).toEqual([
      ['daemon-reload'],
      ['enable', '--no-reload', 'demo.service'],
      ['start', 'demo.service'],
    ]);
  });

  test('masking and unmasking (an unmasked unit is enabled again explicitly)', () => {
    expect(
      decideUnit(want({ masked: true, enabled: true }), status({ unitFileState: 'disabled' })).data?.steps,
    ).toEqual([['mask', 'demo.service']]);
    expect(decideUnit(want({ masked: true }), status({ loadState: 'masked', unitFileState: 'masked' })).action).toBe(
      'none',
    );
    expect(
      decideUnit(want({ masked: false, enabled: true }), status({ loadState: 'masked', unitFileState: 'masked' })).data
        ?.steps,
    ).toEqual([
      ['unmask', 'demo.service'],
      ['enable', '--no-reload', 'demo.service'],
    ]);
  });

  test('a missing unit: starting it is an error; stopping it is already true', () => {
    const missing = status({ loadState: 'not-found', activeState: 'inactive', unitFileState: '' });
    expect(() => decideUnit(want({ state: 'started' }), missing)).toThrow(
      'systemd: unit demo.service not found on the host (LoadState=not-found): install the package that provides it, ' +
        'or give its text as content',
    );
    expect(decideUnit(want({ state: 'stopped', enabled: false }), missing)).toEqual({
      action: 'none',
      reason: 'demo.service is not installed',
    });
  });

  test('a missing unit in check mode: an earlier task would have made it, so it reports what would happen', () => {
    const missing = status({ loadState: 'not-found', activeState: 'inactive', unitFileState: '' });
    const plan = decideUnit(want({ state: 'restarted' }), missing, true);
    expect(plan.action).toBe('update');
    expect(plan.reason).toBe(
      'demo.service does not exist yet: assuming an earlier task installs it, it would be restarted',
    );
    expect(plan.diff?.values).toEqual([{ key: 'state', before: 'not-found', after: 'restarted' }]);
  });

  test('daemon_reload without a name: only when a loaded unit is stale', () => {
    expect(decideReloadOnly([])).toEqual({ action: 'none', reason: 'no loaded unit needs a daemon-reload' });
    expect(decideReloadOnly(['a.service'])).toMatchObject({
      action: 'update',
      reason: 'unit files changed on disk: a.service',
      data: { steps: [['daemon-reload']] },
    });
  });
});

describe('systemd plan (params and round trips)', () => {
  const probe =
    '@unit demo.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n' +
    `NeedDaemonReload=no\nActiveEnterTimestamp=x\n@sha256 ${SHA_UNIT}\n`;

  test('one round trip; yes/no strings are booleans; a bare name means .service', async () => {
    const conn = cannedConnection(probe);
    const plan = await systemd.plan(moduleContext(conn), {
      name: 'demo',
      state: 'started',
      enabled: 'yes',
      content: UNIT,
      daemon_reload: 'no',
    });
    expect(plan).toEqual({ action: 'none', reason: 'demo.service is active (running) and enabled' });
    expect(conn.commands).toHaveLength(1);
    expect(conn.commands[0]).toContain(`-- 'demo.service'`);
  });

  test("a start says it may wait up to the unit's TimeoutStartSec (for the run's progress lines)", async () => {
    const inactive = (timeout: string) =>
      probe.replace(
        'ActiveState=active\nSubState=running',
        `ActiveState=inactive\nSubState=dead\nTimeoutStartUSec=${timeout}`,
      );
    const plan = await systemd.plan(moduleContext(cannedConnection(inactive('5min'))), {
      name: 'demo',
      state: 'started',
    });
    expect(plan).toMatchObject({ action: 'update', reason: 'demo.service is inactive, wants started', waitsUpTo: 300 });
    const unbounded = await systemd.plan(moduleContext(cannedConnection(inactive('infinity'))), {
      name: 'demo',
      state: 'started',
    });
    expect(unbounded).not.toHaveProperty('waitsUpTo');
    const stopping = await systemd.plan(moduleContext(cannedConnection(`${probe}TimeoutStartUSec=5min\n`)), {
      name: 'demo',
      state: 'stopped',
    });
    expect(stopping).not.toHaveProperty('waitsUpTo'); // only starts are bounded by it
  });

  test('bad params are input errors', async () => {
    const ctx = moduleContext(cannedConnection(probe));
    await expect(systemd.plan(ctx, { state: 'started' })).rejects.toThrow('systemd: name is required');
    await expect(systemd.plan(ctx, { name: '../etc/passwd' })).rejects.toThrow(
      'systemd: name "../etc/passwd" is not a unit name',
    );
    await expect(systemd.plan(ctx, { name: 'a', enabled: 'maybe' })).rejects.toThrow(
      'systemd: enabled is "maybe", not a boolean',
    );
    await expect(systemd.plan(ctx, { name: 'a', masked: true, content: UNIT })).rejects.toThrow(
      'masked: true and content cannot go together',
    );
  });
});

describe('systemd: a failed start tells why', () => {
  const result = (stderr: string) => ({
    code: 1,
    stdout: Buffer.from(''),
    stderr: Buffer.from(stderr),
    timedOut: false,
  });

  test("systemctl's words, then the unit's journal lines of the attempt, then where to read more", () => {
    const stderr =
      'Job for etcd.service failed because the control process exited with error code.\n' +
      'furrow-step-failed: systemctl start etcd.service\n' +
      'furrow-journal:\n' +
      'listen tcp 10.0.0.3:2380: bind: address already in use\n' +
      'etcd.service: Main process exited, code=exited, status=1/FAILURE\n';
    expect(stepsFailure('h3', [['start', 'etcd.service']], 'etcd.service', result(stderr))).toBe(
      'h3: systemctl start etcd.service failed (exit status 1):\n' +
        '  Job for etcd.service failed because the control process exited with error code.\n' +
        "  etcd.service's journal since the attempt:\n" +
        '    listen tcp 10.0.0.3:2380: bind: address already in use\n' +
        '    etcd.service: Main process exited, code=exited, status=1/FAILURE\n' +
        '  see: journalctl -u etcd.service -n 50',
    );
  });

  test('a step with no journal (daemon-reload) says only what failed', () => {
    const stderr = 'Failed to reload daemon: Access denied\nfurrow-step-failed: systemctl daemon-reload\n';
    expect(stepsFailure('h1', [['daemon-reload']], undefined, result(stderr))).toBe(
      'h1: systemctl daemon-reload failed (exit status 1):\n  Failed to reload daemon: Access denied',
    );
  });
});
