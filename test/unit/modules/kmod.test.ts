import type { KmodInfo, KmodState } from '../../../src/modules/probes/kmod.js';
import { decideKmod, kmod } from '../../../src/modules/kmod.js';
import { moduleContext } from '../../support/modules.js';
import { cannedConnection } from './support/hosts.js';

const info = (over: Partial<KmodInfo> = {}): KmodInfo => ({
  name: 'br_netfilter',
  loaded: false,
  builtin: false,
  loadFile: null,
  optionsFile: null,
  ...over,
});
const host = (m: KmodInfo, over: Partial<KmodState> = {}): KmodState => ({
  kernel: '6.1.0-18-amd64',
  moduleDir: true,
  modprobe: true,
  modules: [m],
  ...over,
});

describe('kmod plan decisions (canned probe)', () => {
  test('loaded already: nothing to do', () => {
    expect(decideKmod({ name: 'br_netfilter' }, host(info({ loaded: true })))).toEqual({
      action: 'none',
      reason: 'br_netfilter is loaded',
    });
  });

  test('built into the kernel: fine, not an error', () => {
    expect(decideKmod({ name: 'overlay' }, host(info({ name: 'overlay', builtin: true })))).toEqual({
      action: 'none',
      reason: 'overlay is built into the kernel',
    });
  });

  test('not loaded: modprobe with params; persistent present writes both boot files', () => {
    expect(
      decideKmod({ name: 'dummy', params: 'numdummies=2  x=y', persistent: 'present' }, host(info({ name: 'dummy' }))),
    ).toEqual({
      action: 'create',
      reason:
        'dummy is not loaded; /etc/modules-load.d/dummy.conf does not exist; /etc/modprobe.d/dummy.conf does not exist',
      diff: {
        values: [{ key: 'loaded', before: false, after: true }],
        unified:
          '--- /etc/modules-load.d/dummy.conf\n+++ /etc/modules-load.d/dummy.conf\n@@ -0,0 +1,1 @@\n+dummy\n' +
          '--- /etc/modprobe.d/dummy.conf\n+++ /etc/modprobe.d/dummy.conf\n@@ -0,0 +1,1 @@\n+options dummy ' +
          'numdummies=2 x=y\n',
      },
      data: {
        name: 'dummy',
        modprobe: ['--', 'dummy', 'numdummies=2', 'x=y'],
        writes: [
          { path: '/etc/modules-load.d/dummy.conf', content: 'dummy\n' },
          { path: '/etc/modprobe.d/dummy.conf', content: 'options dummy numdummies=2 x=y\n' },
        ],
        removes: [],
      },
    });
  });

  test('in a container (no /lib/modules): the plan says why loading will fail; the boot file is still managed', () => {
    const plan = decideKmod(
      { name: 'dummy', persistent: 'present' },
      host(info({ name: 'dummy' }), { moduleDir: false, kernel: '6.18.44' }),
    );
    expect(plan.data?.loadProblem).toBe(
      '/lib/modules/6.18.44 does not exist on this host, so no module can be loaded here (a container shares the ' +
        "machine's kernel: load the module on the machine itself)",
    );
    expect(plan.data?.writes).toEqual([{ path: '/etc/modules-load.d/dummy.conf', content: 'dummy\n' }]);
  });

  test('built in with persistent present: only the boot file, and changed=0 once it is there', () => {
    const builtin = info({ name: 'overlay', builtin: true });
    expect(decideKmod({ name: 'overlay', persistent: 'present' }, host(builtin))).toMatchObject({
      action: 'update',
      reason: '/etc/modules-load.d/overlay.conf does not exist',
      data: { writes: [{ path: '/etc/modules-load.d/overlay.conf', content: 'overlay\n' }] },
    });
    expect(
      decideKmod({ name: 'overlay', persistent: 'present' }, host({ ...builtin, loadFile: 'overlay\n' })).action,
    ).toBe('none');
  });

  test('absent: unload a loaded module and remove its boot files; a built-in one cannot go', () => {
    expect(
      decideKmod(
        { name: 'dummy', state: 'absent', persistent: 'absent' },
        host(info({ name: 'dummy', loaded: true, loadFile: 'dummy\n' })),
      ),
    ).toMatchObject({
      action: 'delete',
      reason: 'dummy is loaded; /etc/modules-load.d/dummy.conf exists',
      data: { modprobe: ['-r', '--', 'dummy'], removes: ['/etc/modules-load.d/dummy.conf'], writes: [] },
    });
    expect(decideKmod({ name: 'dummy', state: 'absent' }, host(info({ name: 'dummy' })))).toEqual({
      action: 'none',
      reason: 'dummy is not loaded',
    });
    expect(() => decideKmod({ name: 'ext4', state: 'absent' }, host(info({ name: 'ext4', builtin: true })))).toThrow(
      'kmod: ext4 is built into the kernel (6.1.0-18-amd64): it cannot be unloaded',
    );
  });

  test('plan: one round trip; a bad name is an input error', async () => {
    const conn = cannedConnection('@kernel k\n@moddir 0\n@modprobe 1\n@module overlay\nsysfs\n');
    expect((await kmod.plan(moduleContext(conn), { name: 'overlay' })).action).toBe('none');
    expect(conn.commands).toHaveLength(1);
    await expect(kmod.plan(moduleContext(conn), { name: 'a b' })).rejects.toThrow(
      'kmod: name "a b" is not a kernel module name',
    );
  });

  test("plan: a loop's later items are read in the same round trip, each item planned on its own module", async () => {
    const conn = cannedConnection(
      '@kernel k\n@moddir 1\n@modprobe 1\n@module overlay\nsysfs\ninitstate\n@load\n|overlay\n@module br_netfilter\n',
    );
    const asked: string[][] = [];
    const ctx = {
      ...moduleContext(conn),
      // As the engine's shared probe on a quiet host: this item's keys and the later items'.
      probeShared: <T>(
        own: string[],
        keysOf: (params: Record<string, unknown>) => string[],
        read: (keys: string[]) => Promise<Map<string, T>>,
      ) => {
        const keys = [...own, ...keysOf({ name: 'br_netfilter' }), ...keysOf({ name: 'not a name' })];
        asked.push(keys);
        return read(keys);
      },
    };
    const plan = await kmod.plan(ctx, { name: 'overlay', persistent: 'present' });
    expect(plan.action).toBe('none');
    expect(asked).toEqual([['overlay', 'br_netfilter']]);
    expect(conn.commands).toHaveLength(1);
    expect(conn.commands[0]).toContain(`echo '@module br_netfilter'`);
  });
});
