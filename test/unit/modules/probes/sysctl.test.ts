import { procPath, probeSysctl, sysctlState } from '../../../../src/modules/probes/sysctl.js';
import { cannedConnection } from '../support/hosts.js';

describe('sysctl probe', () => {
  test('live values, a missing key, and the file text', () => {
    const out =
      'live net.ipv4.ip_forward\t0 \nlive net.ipv4.tcp_rmem\t4096 131072 33554432 \nmissing net.nope\n@file\n|# ' +
      'ours\n|net.ipv4.ip_forward = 1\n|\n';
    const state = sysctlState.parse(out);
    expect([...state.live]).toEqual([
      ['net.ipv4.ip_forward', '0'],
      ['net.ipv4.tcp_rmem', '4096 131072 33554432'],
      ['net.nope', null],
    ]);
    expect(state.file).toBe('# ours\nnet.ipv4.ip_forward = 1\n\n');
  });

  test('no file, and a file line that looks like a marker', () => {
    expect(sysctlState.parse('live a.b\t1\n@nofile\n').file).toBeNull();
    expect(sysctlState.parse('@file\n|live x\t2\n|@nofile\n')).toEqual({
      live: new Map(),
      file: 'live x\t2\n@nofile\n',
    });
  });

  test('keys map to /proc/sys paths; slashes are taken as written', () => {
    expect(procPath('net.ipv4.ip_forward')).toBe('/proc/sys/net/ipv4/ip_forward');
    expect(procPath('net/ipv4/conf/eth0.100/rp_filter')).toBe('/proc/sys/net/ipv4/conf/eth0.100/rp_filter');
  });

  test('the command reads /proc/sys and the file in one script, all quoted', async () => {
    const conn = cannedConnection('live net.core.somaxconn\t4096\n@nofile\n');
    const state = await probeSysctl(conn, ['net.core.somaxconn'], "/etc/sysctl.d/9 'x'.conf");
    expect(state.live.get('net.core.somaxconn')).toBe('4096');
    expect(conn.commands).toHaveLength(1);
    expect(conn.commands[0]).toContain(
      `if [ -r '/proc/sys/net/core/somaxconn' ] && v=$(tr '\\n\\t' '  ' < '/proc/sys/net/core/somaxconn')`,
    );
    expect(conn.commands[0]).toContain(`sed 's/^/|/' '/etc/sysctl.d/9 '\\''x'\\''.conf'`);
  });
});
