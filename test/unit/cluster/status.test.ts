import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatStatus } from '../../../src/cli/cluster.js';
import {
  clusterDeploys,
  type ClusterStatus,
  memberState,
  needsAttention,
  nodeRow,
  summarizeCerts,
} from '../../../src/cluster/status.js';

describe('cluster status: what the API says about a node', () => {
  test('Ready, roles from both label kinds, the kubelet version and InternalIP', () => {
    expect(
      nodeRow({
        metadata: { name: 'h1', labels: { 'kubernetes.io/role': 'master', 'node-role.kubernetes.io/ingress': '' } },
        status: {
          conditions: [
            { type: 'MemoryPressure', status: 'False' },
            { type: 'Ready', status: 'True' },
          ],
          nodeInfo: { kubeletVersion: 'v1.20.2' },
          addresses: [
            { type: 'Hostname', address: 'h1' },
            { type: 'InternalIP', address: '10.0.0.1' },
          ],
        },
      }),
    ).toEqual({ name: 'h1', ready: true, roles: 'ingress,master', version: 'v1.20.2', address: '10.0.0.1' });
  });
  test('a node whose Ready is Unknown is not ready; no role label shows <none>', () => {
    expect(
      nodeRow({ metadata: { name: 'h2' }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } }),
    ).toMatchObject({
      ready: false,
      roles: '<none>',
    });
  });
});

describe("cluster status: an etcd member's answers", () => {
  const status = JSON.stringify([
    {
      Endpoint: 'https://10.0.0.1:2379',
      Status: { header: { member_id: 111 }, version: '3.4.23', dbSize: 2097152, leader: 111 },
    },
  ]);
  test('healthy, its version, db size, and whether it leads', () => {
    expect(
      memberState('h1', status, JSON.stringify([{ endpoint: 'https://10.0.0.1:2379', health: true, took: '2ms' }])),
    ).toEqual({
      host: 'h1',
      healthy: true,
      version: '3.4.23',
      dbSizeBytes: 2097152,
      leader: true,
    });
  });
  test("unhealthy with etcdctl's error, a host that was not reached, a follower", () => {
    expect(
      memberState('h2', '', JSON.stringify([{ endpoint: 'x', health: false, error: 'context deadline exceeded' }])),
    ).toEqual({
      host: 'h2',
      healthy: false,
      problem: 'context deadline exceeded',
    });
    expect(memberState('h3', undefined, undefined)).toEqual({ host: 'h3', healthy: false, problem: 'not reached' });
    expect(memberState('h4', status.replace('"leader":111', '"leader":222'), '[{"health":true}]').leader).toBe(false);
    expect(memberState('h5', 'Error: connection refused', 'Error: connection refused')).toEqual({
      host: 'h5',
      healthy: false,
      problem: 'Error: connection refused',
    });
  });
});

test('certificates: the count, those needing attention, the first to expire', () => {
  const s = summarizeCerts([
    { name: 'ca', where: 'pki', status: 'ok', daysLeft: 3650, notAfter: '2036-12-01T00:00:00.000Z' },
    { name: 'admin', where: 'pki', status: 'expiring', daysLeft: 12, notAfter: '2026-12-17T00:00:00.000Z' },
    { name: 'kubelet', where: 'h1', status: 'ok', daysLeft: 300, notAfter: '2027-10-01T00:00:00.000Z' },
  ]);
  expect(s).toEqual({
    total: 3,
    attention: [{ name: 'admin', where: 'pki', status: 'expiring', daysLeft: 12 }],
    soonest: { name: 'admin', where: 'pki', notAfter: '2026-12-17T00:00:00.000Z', daysLeft: 12 },
  });
});

describe('the last deploy, from the journals', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-status-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const inv = '/c/lab/inventory.yml';
  const steps = new Map([
    ['/p/01.prepare.yml', 'prepare'],
    ['/p/02.etcd.yml', 'etcd'],
  ]);
  const journal = (name: string, head: object, end?: object) =>
    writeFileSync(
      path.join(dir, name),
      `${[
        JSON.stringify({ kind: 'run_start', inventory: inv, check: false, at: name, ...head }),
        '{"kind":"task_start"}',
        ...(end ? [JSON.stringify({ kind: 'run_end', ...end })] : []),
      ].join('\n')}\n`,
    );

  test('newest first; check runs, other inventories and playbooks that are not steps are left out', () => {
    journal(
      '2026-01-01.jsonl',
      { playbook: '/p/01.prepare.yml,/p/02.etcd.yml' },
      { recap: { h1: { failed: 0, unreachable: 0 } }, durationMs: 1500 },
    );
    journal(
      '2026-01-02.jsonl',
      { playbook: '/p/02.etcd.yml' },
      { recap: { h1: { failed: 1, unreachable: 0 }, h2: { failed: 0, unreachable: 1 } }, durationMs: 900 },
    );
    journal('2026-01-03.jsonl', { playbook: '/p/02.etcd.yml' });
    journal('2026-01-04.jsonl', { playbook: '/p/02.etcd.yml', check: true }, { recap: {} });
    journal('2026-01-05.jsonl', { playbook: '/p/02.etcd.yml', inventory: '/other/inventory.yml' }, { recap: {} });
    journal('2026-01-06.jsonl', { playbook: '/p/cluster-status.yml' }, { recap: {} });
    const found = clusterDeploys(dir, inv, steps);
    expect(found.map((d) => [d.at, d.steps.join(','), d.finished, d.failedHosts, d.unreachableHosts])).toEqual([
      ['2026-01-03.jsonl', 'etcd', false, [], []],
      ['2026-01-02.jsonl', 'etcd', true, ['h1'], ['h2']],
      ['2026-01-01.jsonl', 'prepare,etcd', true, [], []],
    ]);
  });
  test('no runs folder: none', () => expect(clusterDeploys(path.join(dir, 'absent'), inv, steps)).toEqual([]));
});

describe('needs attention (exit 1) and the text', () => {
  const healthy: ClusterStatus = {
    cluster: '/c/lab',
    api: { server: 'https://10.0.0.1:6443', ready: true, detail: 'v1.20.2' },
    nodes: [{ name: 'h1', ready: true, roles: 'master', version: 'v1.20.2', address: '10.0.0.1' }],
    etcd: [{ host: 'h1', healthy: true, version: '3.4.23', dbSizeBytes: 2097152, leader: true }],
    certificates: {
      total: 20,
      attention: [],
      soonest: { name: 'admin', where: 'pki', notAfter: '2027-12-01T00:00:00.000Z', daysLeft: 361 },
    },
    lastDeploy: {
      at: '2026-12-05T00:08:07.621Z',
      steps: ['prepare', 'etcd'],
      journal: '/c/.furrow/runs/x.jsonl',
      finished: true,
      durationMs: 128600,
      failedHosts: [],
      unreachableHosts: [],
    },
    drift: { steps: ['prepare', 'etcd'], changes: {}, unreachable: [], failed: [] },
  };
  test('a healthy cluster needs nothing; each kind of trouble does', () => {
    expect(needsAttention(healthy)).toBe(false);
    expect(needsAttention({ ...healthy, api: { ...healthy.api, ready: false } })).toBe(true);
    expect(needsAttention({ ...healthy, nodes: [{ ...healthy.nodes[0]!, ready: false }] })).toBe(true);
    expect(needsAttention({ ...healthy, etcd: [{ host: 'h1', healthy: false }] })).toBe(true);
    expect(
      needsAttention({
        ...healthy,
        certificates: { total: 1, attention: [{ name: 'admin', where: 'pki', status: 'expired', daysLeft: -1 }] },
      }),
    ).toBe(true);
    expect(
      needsAttention({
        ...healthy,
        drift: { steps: ['etcd'], changes: { h1: ['Write the etcd unit'] }, unreachable: [], failed: [] },
      }),
    ).toBe(true);
    expect(
      needsAttention({ ...healthy, drift: { steps: ['etcd'], changes: {}, unreachable: ['h2'], failed: [] } }),
    ).toBe(true);
    const { drift: _drift, ...unchecked } = healthy;
    expect(needsAttention(unchecked)).toBe(false);
  });
  test('the text', () => {
    expect(formatStatus(healthy, '/c')).toBe(
      [
        'cluster lab',
        '',
        'api: https://10.0.0.1:6443: ready, v1.20.2',
        '',
        'nodes: 1 of 1 Ready',
        'NAME  STATUS  ROLES   VERSION  ADDRESS',
        'h1    Ready   master  v1.20.2  10.0.0.1',
        '',
        'etcd: 1 of 1 members healthy',
        'MEMBER  HEALTH   VERSION  DB SIZE  LEADER  PROBLEM',
        'h1      healthy  3.4.23   2.0 MiB  yes',
        '',
        'certificates: 20, all ok',
        '  first to expire: admin (pki) on 2027-12-01, 361 days left',
        '',
        'last deploy: 2026-12-05T00:08:07.621Z, steps prepare,etcd, no host failed in 128.6 s',
        '  journal: .furrow/runs/x.jsonl',
        'drift: deploy prepare,etcd --check would change nothing on any host',
        '',
      ].join('\n'),
    );
    const drifted = formatStatus(
      {
        ...healthy,
        drift: { steps: ['etcd'], changes: { h2: ['a', 'b', 'c', 'd'], h1: ['x'] }, unreachable: ['h3'], failed: [] },
      },
      '/c',
    );
    expect(formatStatus(healthy, '/elsewhere').split('\n')[0]).toBe('cluster /c/lab');
    expect(drifted.split('\n').slice(-5)).toEqual([
      'drift: deploy etcd --check found work:',
      '  h1: 1 task(s) would change: x',
      '  h2: 4 task(s) would change: a; b; c; ...',
      '  h3: unreachable',
      '',
    ]);
  });
});
