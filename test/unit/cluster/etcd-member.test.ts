/**
 * `furrow etcd add` and `remove` refuse, before anything changes, what would break etcd: a removal that leaves the
 * members without a quorum of healthy ones (etcd's own rule), the last member, and an add beside a member that is not
 * healthy. The lab proves the flows (kube-cluster.lab); these are the rules, case by case.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Cluster } from '../../../src/cluster/cluster.js';
import {
  addProblem,
  familyProblem,
  memberListRolls,
  quorumOf,
  removeProblem,
  type MemberHealth,
} from '../../../src/cluster/etcd-member.js';
import { parseInventoryText } from '../../../src/engine/inventory/index.js';

const up = (host: string): MemberHealth => ({ host, healthy: true });
const down = (host: string, problem = 'connection refused'): MemberHealth => ({ host, healthy: false, problem });

test("quorum: a majority of the cluster's members", () => {
  expect([1, 2, 3, 4, 5, 6, 7].map(quorumOf)).toEqual([1, 2, 2, 3, 3, 4, 4]);
});

describe('remove', () => {
  test('all healthy: any member may go, down to one', () => {
    expect(removeProblem([up('a'), up('b'), up('c')], 'b')).toBeUndefined();
    expect(removeProblem([up('a'), up('b')], 'a')).toBeUndefined();
  });

  test('one of three down: the failed member may go (the two left are healthy), a healthy one may not', () => {
    const members = [up('a'), up('b'), down('c')];
    expect(removeProblem(members, 'c')).toBeUndefined();
    expect(removeProblem(members, 'b')).toBe(
      "removing b would break etcd's quorum: the 2 members left need 2 healthy, and 1 is (not healthy: c " +
        '(connection refused))',
    );
  });

  test(
    'one of four down: a healthy member may go (two of the three left are a quorum); two of five down: ' + 'none may',
    () => {
      expect(removeProblem([up('a'), up('b'), up('c'), down('d')], 'a')).toBeUndefined();
      const five = [up('a'), up('b'), up('c'), down('d'), down('e', 'context deadline exceeded')];
      expect(removeProblem(five, 'a')).toBe(
        "removing a would break etcd's quorum: the 4 members left need 3 healthy, and 2 are (not healthy: d " +
          '(connection refused), e (context deadline exceeded))',
      );
      expect(removeProblem(five, 'd')).toBeUndefined();
    },
  );

  test('the last member is refused, healthy or not', () => {
    expect(removeProblem([up('a')], 'a')).toBe("a is etcd's last member: removing it would end the cluster's data");
    expect(removeProblem([down('a')], 'a')).toMatch(/last member/);
  });
});

describe('add', () => {
  test('every member healthy: yes; one not: refused, naming it and why', () => {
    expect(addProblem([up('a'), up('b'), up('c')])).toBeUndefined();
    expect(addProblem([up('a'), down('b', 'not reached'), up('c')])).toBe(
      'every etcd member must be healthy to add one, and these are not: b (not reached)',
    );
  });

  test('no member at all: nothing to join', () => {
    expect(addProblem([])).toBe('the cluster has no etcd member to join');
  });
});

test('after a member change: step 02 on every member, then step 04 when there are apiservers to tell', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-etcd-member-'));
  try {
    const cluster = { dir, inventory: path.join(dir, 'hosts') } as Cluster;
    const rolls = (text: string) =>
      memberListRolls(cluster, parseInventoryText(text, cluster.inventory)).map((r) => r.step);
    // An etcd-only cluster (no kube_master group at all), and masters not deployed yet: step 02 alone.
    expect(rolls('[etcd]\n10.0.0.1\n10.0.0.2\n')).toEqual(['etcd']);
    expect(rolls('[etcd]\n10.0.0.1\n[kube_master]\n10.0.0.1\n')).toEqual(['etcd']);
    writeFileSync(path.join(dir, 'kubeconfig'), '');
    expect(rolls('[etcd]\n10.0.0.1\n[kube_master]\n10.0.0.1\n')).toEqual(['etcd', 'master']);
    expect(rolls('[etcd]\n10.0.0.1\n[kube_master]\n')).toEqual(['etcd']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a member of the other IP family than the members is refused with the reason; names pass', () => {
  const members = [
    { host: 'h1', address: '10.0.0.1' },
    { host: 'h2', address: 'etcd2.example' },
  ];
  expect(familyProblem('h4', 'fd00::14', members)).toBe(
    'h4: its address fd00::14 is IPv6 and member h1 is at 10.0.0.1; members of both families would refuse each ' +
      'other (each dials from an address its certificate does not name)',
  );
  expect(familyProblem('h4', '10.0.0.4', members)).toBeUndefined();
  expect(familyProblem('h4', 'etcd4.example', members)).toBeUndefined();
  expect(familyProblem('h4', 'fd00::14', [{ host: 'h1', address: 'fd00::11' }])).toBeUndefined();
});
