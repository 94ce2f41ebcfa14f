import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { procPath, probeSysctl, sysctlState } from '../../../../src/modules/probes/sysctl.js';
import { cannedConnection } from '../support/hosts.js';

describe('sysctl probe', () => {
  test('live values, a missing key, and the file text', () => {
    const out =
      'present net.ipv4.ip_forward\npresent net.ipv4.tcp_rmem\nmissing net.nope\n@values\n' +
      '/proc/sys/net/ipv4/ip_forward:0\n/proc/sys/net/ipv4/tcp_rmem:4096\t131072\t33554432\n@file\n|# ' +
      'ours\n|net.ipv4.ip_forward = 1\n|\n';
    const state = sysctlState.parse(out);
    expect([...state.live]).toEqual([
      ['net.ipv4.ip_forward', '0'],
      ['net.ipv4.tcp_rmem', '4096 131072 33554432'],
      ['net.nope', null],
    ]);
    expect(state.file).toBe('# ours\nnet.ipv4.ip_forward = 1\n\n');
  });

  test('an empty value, a value over two lines, a read that failed, and a path that holds a colon', () => {
    const out =
      'present a.empty\npresent a.two\npresent a.bad\npresent a/b:c\npresent a/b\n@values\n' +
      '/proc/sys/a/two:x\n/proc/sys/a/two:y\ngrep: /proc/sys/a/bad: Invalid argument\n/proc/sys/a/b:c:7\n' +
      '/proc/sys/a/b:8\n@nofile\n';
    expect([...sysctlState.parse(out).live]).toEqual([
      ['a.empty', ''],
      ['a.two', 'x y'],
      ['a.bad', null],
      ['a/b:c', '7'],
      ['a/b', '8'],
    ]);
  });

  test('no file, and a file line that looks like a marker', () => {
    expect(sysctlState.parse('present a.b\n@values\n/proc/sys/a/b:1\n@nofile\n').file).toBeNull();
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
    const conn = cannedConnection('present net.core.somaxconn\n@values\n/proc/sys/net/core/somaxconn:4096\n@nofile\n');
    const state = await probeSysctl(conn, ['net.core.somaxconn'], "/etc/sysctl.d/9 'x'.conf");
    expect(state.live.get('net.core.somaxconn')).toBe('4096');
    expect(conn.commands).toHaveLength(1);
    expect(conn.commands[0]).toContain(`if [ -r '/proc/sys/net/core/somaxconn' ]; then`);
    // One grep reads every key's file, however many keys there are.
    expect(conn.commands[0]).toContain(`grep -H '' /dev/null "$@"`);
    expect(conn.commands[0]).toContain(`done < '/etc/sysctl.d/9 '\\''x'\\''.conf'`);
  });

  test('the script, run by sh: a value whole with its tabs as spaces, the file back as it is', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-sysctl-probe-'));
    try {
      const file = path.join(dir, "9 'x'.conf");
      // Backslashes, leading blanks and a last line without its newline come back unchanged.
      const text = '# ours\n  net.ipv4.ip_forward = 1\n\nkernel.x = a\\tb\nlast = 2';
      writeFileSync(file, text);
      const run = (keys: string[], f: string) =>
        sysctlState.parse(execFileSync('/bin/sh', ['-c', sysctlState.command(keys, f)], { encoding: 'utf8' }));
      // `net` is a folder: readable, but grep cannot read it as a value.
      const state = run(['net.ipv4.tcp_rmem', 'kernel/ostype', 'net.nope.missing', 'net'], file);
      // The kernel prints tcp_rmem with tabs between its three numbers.
      expect(state.live.get('net.ipv4.tcp_rmem')).toMatch(/^\d+ \d+ \d+$/);
      expect(state.live.get('kernel/ostype')).toBe('Linux');
      expect(state.live.get('net.nope.missing')).toBeNull();
      expect(state.live.get('net')).toBeNull();
      expect(state.file).toBe(`${text}\n`);
      expect(run([], path.join(dir, 'absent.conf')).file).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
