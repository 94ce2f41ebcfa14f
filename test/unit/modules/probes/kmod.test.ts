import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kernelName, kmodState, probeKmods } from '../../../../src/modules/probes/kmod.js';
import { cannedConnection } from '../support/hosts.js';

describe('kmod probe', () => {
  test('a lab host: no /lib/modules, overlay built in (in /sys/module, no initstate)', () => {
    const out = '@kernel 6.18.44-fc-v669\n@moddir 0\n@modprobe 1\n@module overlay\nsysfs\n@module dummy\n';
    expect(kmodState.parse(out)).toEqual({
      kernel: '6.18.44-fc-v669',
      moduleDir: false,
      modprobe: true,
      modules: [
        { name: 'overlay', loaded: false, builtin: true, loadFile: null, optionsFile: null },
        { name: 'dummy', loaded: false, builtin: false, loadFile: null, optionsFile: null },
      ],
    });
  });

  test('loaded (initstate or /proc/modules), built in by modules.builtin, and the boot files', () => {
    const out = [
      '@kernel 6.1.0-18-amd64',
      '@moddir 1',
      '@modprobe 1',
      '@module br_netfilter',
      'sysfs',
      'initstate',
      'proc',
      '@load',
      '|br_netfilter',
      '@options',
      '|options br_netfilter x=1',
      '@module ext4',
      'builtin',
      '@module nf-conntrack',
      'proc',
      '@load',
      '',
    ].join('\n');
    expect(kmodState.parse(out).modules).toEqual([
      {
        name: 'br_netfilter',
        loaded: true,
        builtin: false,
        loadFile: 'br_netfilter\n',
        optionsFile: 'options br_netfilter x=1\n',
      },
      { name: 'ext4', loaded: false, builtin: true, loadFile: null, optionsFile: null },
      { name: 'nf-conntrack', loaded: true, builtin: false, loadFile: '', optionsFile: null },
    ]);
  });

  test('the script, run by sh on files standing in for /lib/modules and /etc: built in, boot files', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-kmod-probe-'));
    try {
      const release = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
      mkdirSync(path.join(dir, 'lib', release), { recursive: true });
      // modules.builtin names paths with '-' where the kernel says '_'.
      writeFileSync(
        path.join(dir, 'lib', release, 'modules.builtin'),
        'kernel/fs/ext4/ext4.ko\nkernel/net/netfilter/nf-tables.ko\n',
      );
      mkdirSync(path.join(dir, 'load'));
      mkdirSync(path.join(dir, 'options'));
      // A last line without its newline, backslashes and leading blanks come back as they are.
      writeFileSync(path.join(dir, 'load', 'br_netfilter.conf'), 'br_netfilter\n  # a\\b\nlast');
      writeFileSync(path.join(dir, 'options', 'br_netfilter.conf'), 'options br_netfilter x=1\n');
      const command = kmodState
        .command(['ext4', 'nf_tables', 'br_netfilter', 'ext'])
        .replaceAll('/lib/modules', path.join(dir, 'lib'))
        .replaceAll('/etc/modules-load.d', path.join(dir, 'load'))
        .replaceAll('/etc/modprobe.d', path.join(dir, 'options'));
      const state = kmodState.parse(execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' }));
      expect(state.kernel).toBe(release);
      expect(state.moduleDir).toBe(true);
      const [ext4, nfTables, brNetfilter, ext] = state.modules;
      expect(ext4).toMatchObject({ name: 'ext4', builtin: true });
      expect(nfTables).toMatchObject({ name: 'nf_tables', builtin: true });
      // A name that is only part of a built-in one is not built in.
      expect(ext).toMatchObject({ name: 'ext', builtin: false, loadFile: null, optionsFile: null });
      expect(brNetfilter).toMatchObject({
        name: 'br_netfilter',
        loadFile: 'br_netfilter\n  # a\\b\nlast\n',
        optionsFile: 'options br_netfilter x=1\n',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the command: kernel names use underscores; one round trip for many modules', async () => {
    expect(kernelName('nf-conntrack')).toBe('nf_conntrack');
    const conn = cannedConnection('@kernel k\n@moddir 1\n@modprobe 0\n@module a\n@module b\n');
    const state = await probeKmods(conn, ['nf-conntrack', 'b']);
    expect(state.modules.map((m) => m.name)).toEqual(['a', 'b']);
    expect(state.modprobe).toBe(false);
    expect(conn.commands).toHaveLength(1);
    expect(conn.commands[0]).toContain(`if [ -e '/sys/module/nf_conntrack' ]; then echo sysfs; fi`);
    expect(conn.commands[0]).toContain(`grep -q '^nf_conntrack ' /proc/modules`);
    expect(conn.commands[0]).toContain(`if [ -f '/etc/modules-load.d/nf-conntrack.conf' ]; then echo '@load'`);
  });
});
