import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Cluster } from '../../../src/cluster/cluster.js';
import { podKind } from '../../../src/cluster/drain.js';
import { masterFamilyProblem } from '../../../src/cluster/kubernetes.js';
import { checkNodeAdd, isHostAddress } from '../../../src/cluster/node-add.js';
import { nodeNameOf } from '../../../src/cluster/kubernetes.js';
import { checkNodeRemove } from '../../../src/cluster/node-remove.js';
import { checkMasterRemove, masterRemoveRuns } from '../../../src/cluster/master-remove.js';
import { checkRunningControlPlane, masterNeighbourRuns } from '../../../src/cluster/master-add.js';
import { InputError } from '../../../src/engine/errors.js';
import { hostVars, parseInventoryText } from '../../../src/engine/inventory/index.js';
import { renderTemplate } from '../../../src/engine/template.js';
import { packagePath } from '../../../src/package-root.js';
import YAML from 'yaml';

const HOSTS = `[etcd]
10.0.0.1
[kube_master]
10.0.0.1
[kube_node]
10.0.0.1
10.0.0.2 k8s_nodename=Worker_02
10.0.0.3
`;

describe('node add and remove: checks before anything is touched', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-node-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cluster = { dir, inventory: path.join(dir, 'hosts') } as Cluster;
  const inventory = parseInventoryText(HOSTS, cluster.inventory);
  const problem = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof InputError) return [err.place?.file, err.problem];
      throw err;
    }
    return undefined;
  };

  test('names: IPv4, IPv6 and DNS names; nothing else', () => {
    for (const ok of ['10.0.0.9', 'fd00::9', '2001:db8::1', 'worker-09', 'worker-09.dc1.example.org'])
      expect([ok, isHostAddress(ok)]).toEqual([ok, true]);
    for (const bad of ['', '10.0.0', '10.0.0.256', 'worker_09', '-worker', 'a b', '10.0.0.9;rm', 'host:22'])
      expect([bad, isHostAddress(bad)]).toEqual([bad, false]);
    expect(problem(() => checkNodeAdd(cluster, inventory, { name: 'bad name' }))).toEqual([
      cluster.inventory,
      "'bad name' is not an IPv4 or IPv6 address or a host name",
    ]);
    expect(problem(() => checkNodeAdd(cluster, inventory, { name: 'w9', address: '10.0.0' }))).toEqual([
      cluster.inventory,
      "--address '10.0.0' is not an IPv4 or IPv6 address or a host name",
    ]);
  });

  test(
    'a master of the other family than SERVICE_CIDR is refused (the kubernetes Service is single-stack); a ' +
      'node or a name is not',
    () => {
      expect(masterFamilyProblem('m9', 'fd00::9', '10.68.0.0/16')).toBe(
        'master m9: its address fd00::9 is IPv6 and SERVICE_CIDR 10.68.0.0/16 is IPv4; ' +
          "the kubernetes Service's endpoints are the masters' addresses and must be of its family",
      );
      expect(masterFamilyProblem('m9', '10.0.0.9', 'fd00:68::/112')).toContain('is IPv4 and SERVICE_CIDR');
      expect(masterFamilyProblem('m9', 'fd00::9', 'fd00:68::/112')).toBeUndefined();
      expect(masterFamilyProblem('m9', '10.0.0.9', '10.68.0.0/16')).toBeUndefined();
      expect(masterFamilyProblem('m9', 'master-09', '10.68.0.0/16')).toBeUndefined();
      expect(checkNodeAdd(cluster, inventory, { name: 'fd00::9' })).toEqual({ already: false });
    },
  );

  test('a node already in kube_node runs its steps again (it completes an earlier add)', () => {
    expect(checkNodeAdd(cluster, inventory, { name: '10.0.0.3' })).toEqual({ already: true });
    expect(checkNodeAdd(cluster, inventory, { name: '10.0.0.4' })).toEqual({ already: false });
  });

  test('remove refuses a master, an etcd member, a host that is not a node, the last node', () => {
    writeFileSync(path.join(dir, 'kubeconfig'), '');
    expect(problem(() => checkNodeRemove(cluster, inventory, '10.0.0.1'))?.[1]).toMatch(
      /^10\.0\.0\.1 is a master as well as a node/,
    );
    expect(
      problem(() =>
        checkNodeRemove(
          cluster,
          parseInventoryText('[etcd]\n10.0.0.5\n[kube_node]\n10.0.0.5\n10.0.0.6\n', cluster.inventory),
          '10.0.0.5',
        ),
      )?.[1],
    ).toBe('10.0.0.5 is an etcd member: cleaning the host would stop that member');
    expect(
      problem(() =>
        checkNodeRemove(
          cluster,
          parseInventoryText('[ex_lb]\n10.0.0.5\n[kube_node]\n10.0.0.5\n10.0.0.6\n', cluster.inventory),
          '10.0.0.5',
        ),
      )?.[1],
    ).toBe(
      '10.0.0.5 is an external load balancer (ex_lb) as well as a node: cleaning it would take its VIP and proxy away',
    );
    expect(problem(() => checkNodeRemove(cluster, inventory, '10.0.0.9'))).toEqual([
      cluster.inventory,
      '10.0.0.9 is not in kube_node',
    ]);
    expect(
      problem(() =>
        checkNodeRemove(cluster, parseInventoryText('[kube_node]\n10.0.0.7\n', cluster.inventory), '10.0.0.7'),
      )?.[1],
    ).toBe("10.0.0.7 is the cluster's last node");
    expect(problem(() => checkNodeRemove(cluster, inventory, '10.0.0.3'))).toBeUndefined();
    rmSync(path.join(dir, 'kubeconfig'));
    expect(problem(() => checkNodeRemove(cluster, inventory, '10.0.0.3'))?.[1]).toBe(
      'no admin kubeconfig: draining needs the API',
    );
  });

  test('master remove refuses the last master, an etcd member, an ex_lb host, a host that is not a master', () => {
    writeFileSync(path.join(dir, 'kubeconfig'), '');
    const two = (extra = '') =>
      parseInventoryText(`[etcd]\n10.0.0.1\n[kube_master]\n10.0.0.1\n10.0.0.5\n${extra}`, cluster.inventory);
    expect(problem(() => checkMasterRemove(cluster, two(), '10.0.0.5'))).toBeUndefined();
    expect(problem(() => checkMasterRemove(cluster, two(), '10.0.0.1'))?.[1]).toBe(
      '10.0.0.1 is an etcd member: cleaning the host would take that member away',
    );
    expect(problem(() => checkMasterRemove(cluster, two('[ex_lb]\n10.0.0.5\n'), '10.0.0.5'))?.[1]).toMatch(
      /^10\.0\.0\.5 is an external load balancer \(ex_lb\) as well as a master/,
    );
    expect(problem(() => checkMasterRemove(cluster, inventory, '10.0.0.1'))?.[1]).toBe(
      "10.0.0.1 is the cluster's last master",
    );
    expect(problem(() => checkMasterRemove(cluster, two(), '10.0.0.3'))).toEqual([
      cluster.inventory,
      '10.0.0.3 is not in kube_master',
    ]);
    rmSync(path.join(dir, 'kubeconfig'));
    expect(problem(() => checkMasterRemove(cluster, two(), '10.0.0.5'))?.[1]).toBe(
      'no admin kubeconfig: the cluster has no control plane yet',
    );
    expect(problem(() => checkRunningControlPlane(cluster))?.[0]).toBe(path.join(dir, 'kubeconfig'));
  });

  test(
    'after a master came or went: every kube-lb (step 04), the ex-lb when there is one, then what a node ' + 'needs',
    () => {
      expect(masterNeighbourRuns(inventory).map((r) => `${r.steps}${r.tags ? ` -t ${r.tags}` : ''}`)).toEqual([
        'master',
        'prepare -t set_hosts',
        'network',
      ]);
      const withLb = parseInventoryText(`${HOSTS}[ex_lb]\n10.0.0.3\n`, cluster.inventory);
      expect(masterNeighbourRuns(withLb).map((r) => r.steps)).toEqual(['master', 'ex-lb', 'prepare', 'network']);
      // After a master went, its Node is deleted between the two: after the runs that rewrite the admin kubeconfig,
      // before the pod network's, which reads the Nodes (run before, every host kept a route to its pods).
      const split = masterRemoveRuns(withLb);
      expect([split.beforeNodeDelete.map((r) => r.steps), split.afterNodeDelete.map((r) => r.steps)]).toEqual([
        ['master', 'ex-lb'],
        ['prepare', 'network'],
      ]);
    },
  );

  test("the Node's name: k8s_nodename as the kube-node role writes it, else the inventory name", () => {
    expect(nodeNameOf(inventory, '10.0.0.2')).toBe('worker-02');
    expect(nodeNameOf(inventory, '10.0.0.3')).toBe('10.0.0.3');
  });

  test("the roles' K8S_NODENAME (kube-node, network, prepare) is one rule, the one nodeNameOf follows", () => {
    const rules = ['kube-node', 'network', 'prepare'].map(
      (role) =>
        (YAML.parse(readFileSync(packagePath('roles', role, 'defaults', 'main.yml'), 'utf8')) as Record<string, string>)
          .K8S_NODENAME,
    );
    expect(new Set(rules).size).toBe(1);
    const named = parseInventoryText('[kube_node]\nh1 k8s_nodename=Worker_01\nh2\n', cluster.inventory);
    for (const host of ['h1', 'h2']) {
      expect(
        renderTemplate(
          rules[0]!,
          { ...hostVars(named, host), inventory_hostname: host },
          { file: 'roles/kube-node/defaults/main.yml' },
        ),
      ).toBe(nodeNameOf(named, host));
    }
    expect(nodeNameOf(named, 'h1')).toBe('worker-01');
  });
});

test('drain: which pods stay, which are evicted, which need --force', () => {
  const pod = (extra: object) => ({ metadata: { name: 'p', namespace: 'n', ...extra }, status: { phase: 'Running' } });
  expect(podKind(pod({ ownerReferences: [{ kind: 'DaemonSet', controller: true }] }))).toBe('daemonset');
  expect(podKind(pod({ annotations: { 'kubernetes.io/config.mirror': 'x' } }))).toBe('mirror');
  expect(podKind(pod({ ownerReferences: [{ kind: 'ReplicaSet', controller: true }] }))).toBe('managed');
  expect(podKind(pod({}))).toBe('unmanaged');
  expect(podKind({ metadata: { name: 'p', namespace: 'n' }, status: { phase: 'Succeeded' } })).toBe('finished');
});
