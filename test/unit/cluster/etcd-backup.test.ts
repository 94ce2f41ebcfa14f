import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { Cluster } from '../../../src/cluster/cluster.js';
import { SAVE_TASK } from '../../../src/cluster/etcd-backup.js';
import { KEPT_TASK, restoreHostProblems, restorePlan, RESTORE_PLAYBOOK } from '../../../src/cluster/etcd-restore.js';
import {
  expectedSha256,
  resolveSnapshot,
  sha256Line,
  sha256OfFile,
  snapshotName,
  snapshotStamp,
  utcStamp,
  verifySnapshot,
} from '../../../src/cluster/etcd-snapshot.js';
import { exitCodeFor, InputError } from '../../../src/engine/errors.js';
import { evaluateCondition } from '../../../src/engine/expr.js';
import { loadInventory } from '../../../src/engine/inventory/index.js';
import { execStartFlags, renderRoleTemplate, renderRoleText } from '../../support/role-render.js';
import { expectExit, furrow } from '../../lab/support.js';

const HEX_A = 'a'.repeat(64);

describe('etcd snapshots: names and sha256 files', () => {
  test('a snapshot is named by its UTC time to the second, and names sort by time', () => {
    expect(snapshotName(new Date('2026-12-04T21:15:00.123Z'))).toBe('snapshot-20261204T211500Z.db');
    expect(utcStamp(new Date('2026-12-04T21:15:00.999Z'))).toBe('20261204T211500Z');
    expect(snapshotStamp('/x/backup/snapshot-20261204T211500Z.db')).toBe('20261204T211500Z');
    expect(snapshotStamp('snapshot.db')).toBeUndefined();
    const times = ['2026-12-04T09:59:59Z', '2026-12-04T10:00:00Z', '2027-01-01T00:00:00Z'].map((t) =>
      snapshotName(new Date(t)),
    );
    expect([...times].reverse().sort()).toEqual(times);
  });

  test("the .sha256 file is sha256sum's line, and is read back, by name or as the only line", () => {
    const line = sha256Line(HEX_A, '/x/backup/snapshot-20261204T211500Z.db');
    expect(line).toBe(`${HEX_A}  snapshot-20261204T211500Z.db\n`);
    expect(expectedSha256(line, '/elsewhere/snapshot-20261204T211500Z.db')).toBe(HEX_A);
    // Binary mode (`*`), upper case, and a renamed file with its one line.
    expect(expectedSha256(`${HEX_A.toUpperCase()} *snap.db\n`, 'snap.db')).toBe(HEX_A);
    expect(expectedSha256(line, 'renamed.db')).toBe(HEX_A);
    // Several lines: only the one for this file counts.
    const b = 'b'.repeat(64);
    expect(expectedSha256(`${HEX_A}  one.db\n${b}  two.db\n`, 'two.db')).toBe(b);
    expect(expectedSha256(`${HEX_A}  one.db\n${b}  two.db\n`, 'three.db')).toBeUndefined();
    expect(expectedSha256('not a digest  snap.db\n', 'snap.db')).toBeUndefined();
    expect(expectedSha256('', 'snap.db')).toBeUndefined();
  });
});

describe('etcd restore: the snapshot is checked before anything is stopped', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-etcd-backup-'));
  const backup = path.join(dir, 'backup');
  const cluster: Cluster = {
    dir,
    inventory: path.join(dir, 'inventory.yml'),
    config: {},
    pkiDir: path.join(dir, 'pki'),
    binDir: '',
    repoDir: '',
  };
  const name = 'snapshot-20261204T211500Z.db';
  const snapshot = path.join(backup, name);

  beforeAll(async () => {
    mkdirSync(backup, { recursive: true });
    writeFileSync(snapshot, 'etcd snapshot bytes');
    writeFileSync(`${snapshot}.sha256`, sha256Line(await sha256OfFile(snapshot), snapshot));
    writeFileSync(
      cluster.inventory,
      YAML.stringify({
        all: {
          hosts: {
            h1: { ansible_host: '127.0.0.1', ansible_port: 1 },
            h2: { ansible_host: '127.0.0.1', ansible_port: 1 },
            h3: { ansible_host: '127.0.0.1', ansible_port: 1 },
          },
          children: {
            etcd: { hosts: { h1: null, h2: null, h3: null } },
            kube_master: { hosts: { h1: null, h2: null } },
          },
        },
      }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test(
    'a snapshot is found by path, by name in backup/, or by name without .db; anything else lists the ' +
      'snapshots there',
    () => {
      expect(resolveSnapshot(cluster, snapshot)).toBe(snapshot);
      expect(resolveSnapshot(cluster, name)).toBe(snapshot);
      expect(resolveSnapshot(cluster, 'snapshot-20261204T211500Z')).toBe(snapshot);
      expect(() => resolveSnapshot(cluster, 'snapshot-2025')).toThrow(
        /no such snapshot[\s\S]*snapshot-20261204T211500Z\.db/,
      );
    },
  );

  test(
    'a matching digest passes; a different one, a missing or an empty .sha256 file is bad input (exit 2) ' +
      'naming both digests',
    async () => {
      const good = await verifySnapshot(snapshot);
      expect(good).toMatch(/^[0-9a-f]{64}$/);
      const damaged = path.join(dir, 'damaged.db');
      writeFileSync(damaged, 'etcd snapshot bytes, one bit off');
      writeFileSync(`${damaged}.sha256`, sha256Line(good, damaged));
      const error = await verifySnapshot(damaged).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect(exitCodeFor(error)).toBe(2);
      expect((error as Error).message).toContain('sha256 does not match');
      expect((error as Error).message).toContain(good);
      expect((error as Error).message).toContain(await sha256OfFile(damaged));
      expect((error as Error).message).toContain('nothing was stopped');

      const lonely = path.join(dir, 'lonely.db');
      writeFileSync(lonely, 'x');
      await expect(verifySnapshot(lonely)).rejects.toThrow(/has no lonely\.db\.sha256 beside it/);
      writeFileSync(`${lonely}.sha256`, '\n');
      await expect(verifySnapshot(lonely)).rejects.toThrow(/has no sha256 line for lonely\.db/);
    },
  );

  test(
    'the restore runs in this order: every apiserver stopped, every member stopped, each restored and started, ' +
      'the apiservers started; any failure stops it',
    async () => {
      const inventory = await loadInventory(cluster.inventory);
      expect(restorePlan(inventory).map((s) => [s.group, s.hosts])).toEqual([
        ['kube_master', ['h1', 'h2']],
        ['etcd', ['h1', 'h2', 'h3']],
        ['etcd', ['h1', 'h2', 'h3']],
        ['kube_master', ['h1', 'h2']],
      ]);
      const plays = YAML.parse(readFileSync(RESTORE_PLAYBOOK, 'utf8')) as Array<{
        tasks: unknown[];
        any_errors_fatal?: boolean;
      }>;
      expect(plays.map((p) => p.any_errors_fatal)).toEqual([true, true, true, true]);
      expect(JSON.stringify(plays[0]!.tasks)).toContain('"name":"kube-apiserver","state":"stopped"');
      expect(JSON.stringify(plays[1]!.tasks)).toContain('"name":"etcd","state":"stopped"');
      expect(JSON.stringify(plays[2]!.tasks)).toContain('"tasks_from":"restore"');
      expect(JSON.stringify(plays[3]!.tasks)).toContain('"tasks_from":"start-apiserver"');
    },
  );

  test(
    'hosts out of reach and hosts without the unit are told apart (both stop the restore before ' +
      'anything is stopped)',
    () => {
      const base = { stdout: '', stderr: '', durationMs: 1 };
      const problems = restoreHostProblems([
        { ...base, host: 'h1', status: 'ok', code: 0, unit: 'etcd.service', group: 'etcd' },
        {
          ...base,
          host: 'h2',
          status: 'unreachable',
          code: null,
          error: 'h2: unreachable: connect ECONNREFUSED',
          unit: 'etcd.service',
          group: 'etcd',
        },
        {
          ...base,
          host: 'h2',
          status: 'unreachable',
          code: null,
          error: 'h2: unreachable: connect ECONNREFUSED',
          unit: 'kube-apiserver.service',
          group: 'kube_master',
        },
        { ...base, host: 'h3', status: 'failed', code: 1, unit: 'etcd.service', group: 'etcd' },
      ]);
      expect(problems).toEqual({
        unreachable: ['h2: unreachable: connect ECONNREFUSED'],
        missing: ['h3 (group etcd) has no etcd.service'],
      });
    },
  );

  test(
    'the CLI: a damaged snapshot, no confirmation without a terminal, a missing argument: exit 2, ' +
      'no host contacted',
    async () => {
      // The hosts are on a closed port: contacting one would end in status 3, not 2.
      const damaged = path.join(backup, 'snapshot-20261204T000000Z.db');
      writeFileSync(damaged, 'other bytes');
      writeFileSync(`${damaged}.sha256`, sha256Line(HEX_A, damaged));
      const bad = await furrow(['etcd', 'restore', 'snapshot-20261204T000000Z', '-i', dir, '--yes']);
      expectExit(bad, 2);
      expect(bad.stderr).toMatch(
        /sha256 does not match: the file has [0-9a-f]{64}, snapshot-20261204T000000Z\.db\.sha256 says a{64}/,
      );
      const unasked = await furrow(['etcd', 'restore', name, '-i', dir]);
      expectExit(unasked, 2);
      expect(unasked.stderr).toContain('no terminal to ask on; nothing was touched');
      expect(unasked.stderr).toContain('--yes');
      expectExit(await furrow(['etcd', 'restore', '-i', dir, '--yes']), 2);
      expectExit(await furrow(['etcd', 'restore', name, '--yes']), 2);
      // With --yes the hosts are asked first, and the closed port says so: unreachable, nothing stopped.
      const unreachable = await furrow(['etcd', 'restore', name, '-i', dir, '--yes']);
      expectExit(unreachable, 3);
      expect(unreachable.stderr).toContain('every etcd member and master must be reachable; nothing was stopped');
    },
  );
});

describe('the etcd role: restore and backup', () => {
  const groups = { etcd: ['h1', 'h2', 'h3'], all: ['h1', 'h2', 'h3'] };
  const restoreTasks = YAML.parse(readFileSync(path.resolve('roles/etcd/tasks/restore.yml'), 'utf8')) as Array<
    Record<string, unknown>
  >;
  const script = (restoreTasks.find((t) => t.block) as { block: Array<{ shell?: string }> }).block.find((t) => t.shell)!
    .shell!;

  test(
    "a member is restored with the unit's own name, peer URL, initial cluster and token (one place: the " +
      "role's defaults)",
    () => {
      const settings = { etcd_cluster_token: 'token-7', ansible_host: '10.0.0.2' };
      const unit = Object.fromEntries(
        execStartFlags(renderRoleTemplate('etcd', 'etcd.service.hbs', settings, { name: 'h2', groups })).map((f) => [
          f.name,
          f.value,
        ]),
      );
      const rendered = renderRoleText(
        'etcd',
        script,
        'restore.yml',
        { ...settings, etcd_restore_stamp: '20261204T211500Z' },
        { name: 'h2', groups },
      );
      const restoreFlag = (flag: string) => new RegExp(`--${flag}=(\\S+)`).exec(rendered)?.[1];
      expect(unit.name).toBe('etcd-h2');
      expect(unit['initial-advertise-peer-urls']).toBe('https://10.0.0.2:2380');
      for (const flag of ['name', 'initial-cluster', 'initial-cluster-token', 'initial-advertise-peer-urls'])
        expect([flag, restoreFlag(flag)]).toEqual([flag, unit[flag]]);
      expect(restoreFlag('initial-cluster-token')).toBe('token-7');
      // etcdutl on 3.5+, etcdctl (API 3) on 3.4, the lab's; into a fresh folder, the old one kept.
      expect(rendered).toContain('if [ -x /opt/kube/bin/etcdutl ]');
      expect(rendered).toContain('env ETCDCTL_API=3 /opt/kube/bin/etcdctl');
      expect(rendered).toContain('--data-dir="$data.restoring-$stamp"');
      expect(rendered).toContain('mv "$data" "$data.before-restore-$stamp"');
    },
  );

  test.each([
    ['the data folder alone', '', ''],
    ['a trailing slash and a separate write-ahead log folder', '/', 'wal'],
  ])(
    'the restore script, run with a stand-in etcdctl: %s: restored into a fresh folder, the old one kept beside it',
    (_what, slash, wal) => {
      const root = mkdtempSync(path.join(os.tmpdir(), 'furrow-etcd-restore-'));
      try {
        const bin = path.join(root, 'bin');
        mkdirSync(bin);
        // Records its arguments and makes what a restore makes: <data-dir>/member (and the WAL folder).
        writeFileSync(
          path.join(bin, 'etcdctl'),
          `#!/bin/sh\necho ` +
            `"ETCDCTL_API=$ETCDCTL_API $*" > ${root}/args\nfor a in "$@"; do case "$a" in --data-dir=*) mkdir -p ` +
            `"\${a#--data-dir=}/member";; --wal-dir=*) mkdir -p "\${a#--wal-dir=}";; esac; done\n`,
          { mode: 0o755 },
        );
        const data = path.join(root, 'etcd');
        mkdirSync(path.join(data, 'member'), { recursive: true });
        writeFileSync(path.join(data, 'member', 'old'), 'old data');
        const walDir = wal ? path.join(root, 'etcd-wal') : '';
        if (walDir) mkdirSync(walDir);
        const settings = {
          bin_dir: bin,
          ETCD_DATA_DIR: `${data}${slash}`,
          ETCD_WAL_DIR: walDir ? `${walDir}${slash}` : '',
          etcd_snapshot_tmp: path.join(root, 'snap.db'),
          etcd_restore_stamp: '20261204T211500Z',
        };
        const rendered = renderRoleText('etcd', script, 'restore.yml', settings, { name: 'h1', groups });
        const out = execFileSync('sh', ['-c', rendered], { encoding: 'utf8' });
        expect(out.trim()).toBe(
          `restored as etcd-h1; the data from before is kept in ${data}.before-restore-20261204T211500Z` +
            (walDir ? ` and ${walDir}.before-restore-20261204T211500Z` : ''),
        );
        expect(readFileSync(path.join(root, 'args'), 'utf8')).toContain(
          `ETCDCTL_API=3 snapshot restore ${root}/snap.db --name=etcd-h1 `,
        );
        expect(readFileSync(path.join(`${data}.before-restore-20261204T211500Z`, 'member', 'old'), 'utf8')).toBe(
          'old data',
        );
        expect(readdirSync(path.join(data, 'member'))).toEqual([]);
        expect(existsSync(`${data}.restoring-20261204T211500Z`)).toBe(false);
        if (walDir)
          expect([existsSync(walDir), existsSync(`${walDir}.before-restore-20261204T211500Z`)]).toEqual([true, true]);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  );

  test('the backup is taken on the first healthy member in the group order, and stops when none is healthy', () => {
    const tasks = YAML.parse(readFileSync(path.resolve('roles/etcd/tasks/backup.yml'), 'utf8')) as Array<{
      when?: string;
      assert?: { that: string };
    }>;
    const anyHealthy = tasks.find((t) => t.assert)!.assert!.that;
    const chosen = tasks.find((t) => t.when)!.when!;
    const etcd = ['h1', 'h2', 'h3'];
    // Each member's registered `etcdctl endpoint health`; an unreachable one registered nothing.
    const takesIt = (health: Record<string, { rc: number } | undefined>) => {
      const hostvars = Object.fromEntries(etcd.map((h) => [h, health[h] ? { etcd_member_health: health[h] } : {}]));
      return etcd.filter(
        (h) =>
          evaluateCondition(anyHealthy, { groups: { etcd }, hostvars }, { file: 'backup.yml' }) &&
          evaluateCondition(chosen, { inventory_hostname: h, groups: { etcd }, hostvars }, { file: 'backup.yml' }),
      );
    };
    expect(takesIt({ h1: { rc: 0 }, h2: { rc: 0 }, h3: { rc: 0 } })).toEqual(['h1']);
    expect(takesIt({ h1: { rc: 1 }, h2: { rc: 0 }, h3: { rc: 0 } })).toEqual(['h2']);
    expect(takesIt({ h1: undefined, h2: { rc: 1 }, h3: { rc: 0 } })).toEqual(['h3']);
    expect(takesIt({ h1: { rc: 1 }, h2: undefined, h3: { rc: 1 } })).toEqual([]);
  });

  test('the tasks the commands watch exist by the names they look for', () => {
    expect(readFileSync(path.resolve('roles/etcd/tasks/backup.yml'), 'utf8')).toContain(`- name: ${SAVE_TASK}\n`);
    expect(readFileSync(path.resolve('roles/etcd/tasks/restore.yml'), 'utf8')).toContain(`- name: ${KEPT_TASK}\n`);
  });
});
