import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SysctlState } from '../../../src/modules/probes/sysctl.js';
import {
  decideSysctl,
  normalizeValue,
  rewriteFile,
  sysctl,
  wanted,
  type SysctlParams,
} from '../../../src/modules/sysctl.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { cannedConnection, localConnection, tempDir } from './support/hosts.js';

const FILE = '/etc/sysctl.d/99-furrow.conf';
const state = (live: Record<string, string | null>, file: string | null): SysctlState => ({
  live: new Map(Object.entries(live)),
  file,
});
const decide = (params: SysctlParams, s: SysctlState) => decideSysctl(wanted(params), s);

describe('sysctl plan decisions (canned probe)', () => {
  test('file line and live value right: nothing to do', () => {
    expect(
      decide(
        { name: 'net.ipv4.ip_forward', value: 1 },
        state({ 'net.ipv4.ip_forward': '1' }, 'net.ipv4.ip_forward=1\n'),
      ),
    ).toEqual({
      action: 'none',
      reason: 'net.ipv4.ip_forward is 1',
    });
  });

  test('no file yet, live value differs: create the drop-in and set the live value', () => {
    expect(decide({ name: 'net.ipv4.ip_forward', value: '1' }, state({ 'net.ipv4.ip_forward': '0' }, null))).toEqual({
      action: 'create',
      reason: `net.ipv4.ip_forward is 0, wants 1; ${FILE} does not set net.ipv4.ip_forward=1`,
      diff: {
        values: [{ key: 'net.ipv4.ip_forward', before: '0', after: '1' }],
        unified: `--- ${FILE}\n+++ ${FILE}\n@@ -0,0 +1,1 @@\n+net.ipv4.ip_forward=1\n`,
      },
      data: {
        ignoreErrors: false,
        file: { path: FILE, content: 'net.ipv4.ip_forward=1\n' },
        live: { path: '/proc/sys/net/ipv4/ip_forward', value: '1' },
      },
    });
  });

  test('live right but the file says otherwise: only the file is written', () => {
    const plan = decide(
      { name: 'net.core.somaxconn', value: 4096 },
      state({ 'net.core.somaxconn': '4096' }, '# keep\nnet.core.somaxconn = 128\nvm.x=1\n'),
    );
    expect(plan.action).toBe('update');
    expect(plan.data).toEqual({
      ignoreErrors: false,
      file: { path: FILE, content: '# keep\nnet.core.somaxconn=4096\nvm.x=1\n' },
    });
    expect(plan.diff?.values).toEqual([]);
  });

  test('file right but live drifted: only the live value is set (reload)', () => {
    const plan = decide(
      { name: 'net.core.somaxconn', value: 4096 },
      state({ 'net.core.somaxconn': '128' }, 'net.core.somaxconn=4096\n'),
    );
    expect(plan.data).toEqual({ ignoreErrors: false, live: { path: '/proc/sys/net/core/somaxconn', value: '4096' } });
  });

  test('reload: no leaves the live value alone', () => {
    expect(
      decide(
        { name: 'net.core.somaxconn', value: 4096, reload: 'no' },
        state({ 'net.core.somaxconn': '128' }, 'net.core.somaxconn=4096\n'),
      ),
    ).toEqual({
      action: 'none',
      reason: `${FILE} sets net.core.somaxconn=4096`,
    });
  });

  test('whitespace and booleans compare as Ansible compares them', () => {
    expect(
      decide(
        { name: 'net.ipv4.tcp_rmem', value: '4096   131072\t6291456' },
        state({ 'net.ipv4.tcp_rmem': '4096 131072 6291456' }, 'net.ipv4.tcp_rmem=4096 131072 6291456\n'),
      ).action,
    ).toBe('none');
    expect([true, false, 'yes', 'off', ' 1 ', 7].map(normalizeValue)).toEqual(['1', '0', '1', '0', '1', '7']);
  });

  test('absent: the line goes, the live value stays', () => {
    const plan = decide(
      { name: 'net.ipv4.ip_forward', state: 'absent' },
      state({ 'net.ipv4.ip_forward': '1' }, 'a=1\nnet.ipv4.ip_forward=1\n'),
    );
    expect(plan).toMatchObject({
      action: 'delete',
      reason: `${FILE} sets net.ipv4.ip_forward`,
      data: { file: { path: FILE, content: 'a=1\n' } },
    });
    expect(plan.data?.live).toBeUndefined();
    expect(decide({ name: 'net.ipv4.ip_forward', state: 'absent' }, state({}, null))).toEqual({
      action: 'none',
      reason: `${FILE} does not set net.ipv4.ip_forward`,
    });
  });

  test('an unknown key fails unless ignoreerrors', () => {
    expect(() => decide({ name: 'net.nope', value: 1 }, state({ 'net.nope': null }, null))).toThrow(
      'sysctl: net.nope does not exist on this host (no /proc/sys/net/nope)',
    );
    expect(
      decide({ name: 'net.nope', value: 1, ignoreerrors: true }, state({ 'net.nope': null }, 'net.nope=1\n')),
    ).toEqual({
      action: 'none',
      reason: `${FILE} sets net.nope=1 (not in /proc/sys: ignored)`,
    });
  });

  test('rewriteFile keeps other lines and drops duplicates of the key', () => {
    expect(rewriteFile('a=1\n# net.x=0\nnet.x = 2\n-net.x=3\nb=2\n', 'net.x', '5')).toBe(
      'a=1\n# net.x=0\nnet.x=5\nb=2\n',
    );
    expect(rewriteFile('net.x=1\n', 'net.x', undefined)).toBe('');
  });

  test('input errors: a bad key, a missing value', () => {
    expect(() => wanted({ name: 'net/../../etc', value: 1 })).toThrow(
      'sysctl: name "net/../../etc" is not a sysctl key',
    );
    expect(() => wanted({ name: 'net.x' })).toThrow('sysctl: net.x: value is required with state present');
  });

  test('plan is one round trip', async () => {
    const conn = cannedConnection(
      'present net.ipv4.ip_forward\n@values\n/proc/sys/net/ipv4/ip_forward:1\n@file\n|net.ipv4.ip_forward=1\n',
    );
    expect((await sysctl.plan(moduleContext(conn), { name: 'net.ipv4.ip_forward', value: 1 })).action).toBe('none');
    expect(conn.commands).toHaveLength(1);
  });
});

describe('sysctl file on the controller (reload: no, a temp file: the live kernel is never touched)', () => {
  const { dir, cleanup } = tempDir('sysctl');
  afterAll(cleanup);

  test('writes the line, then changed=0; check mode and drift', async () => {
    const file = path.join(dir, 'x.conf');
    writeFileSync(file, '# mine\nnet.core.somaxconn=128\n');
    const params: SysctlParams = { name: 'net.core.somaxconn', value: 1024, sysctl_file: file, reload: false };
    const check = await runModule(sysctl, moduleContext(localConnection(), { check: true }), params);
    expect(check.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('# mine\nnet.core.somaxconn=128\n');
    expect((await runModule(sysctl, moduleContext(localConnection()), params)).changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('# mine\nnet.core.somaxconn=1024\n');
    const again = await runModule(sysctl, moduleContext(localConnection()), params);
    expect(again).toMatchObject({ changed: false, plan: { reason: `${file} sets net.core.somaxconn=1024` } });
    expect((await runModule(sysctl, moduleContext(localConnection()), { ...params, state: 'absent' })).changed).toBe(
      true,
    );
    expect(readFileSync(file, 'utf8')).toBe('# mine\n');
  });
});
