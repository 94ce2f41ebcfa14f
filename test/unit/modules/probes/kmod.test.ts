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
