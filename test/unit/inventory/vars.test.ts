import { groupsMap, hostVars, parseInventoryText } from '../../../src/engine/inventory/index.js';

// n1 is in kube_node (depth 2, under k8s) and in alpha and zeta (depth 1, like k8s).
const PRECEDENCE = `
[all:vars]
level=all
only_all=1
same_depth=all
[k8s:children]
kube_master
kube_node
[k8s:vars]
level=k8s
[kube_master]
m1 level=host
[kube_node]
n1
[kube_node:vars]
level=kube_node
[zeta]
n1
[zeta:vars]
same_depth=zeta
[alpha]
n1
[alpha:vars]
same_depth=alpha
`;

describe('hostVars precedence', () => {
  const inv = parseInventoryText(PRECEDENCE, 'hosts');

  test('all < parent group < child group < host', () => {
    expect(hostVars(inv, 'n1').level).toBe('kube_node');
    expect(hostVars(inv, 'm1').level).toBe('host');
    expect(hostVars(inv, 'n1').only_all).toBe(1);
  });

  test('groups at the same depth apply in name order, so the later name wins', () => {
    expect(hostVars(inv, 'n1').same_depth).toBe('zeta');
  });

  test('ansible_group_priority reorders groups at the same depth', () => {
    const withPriority = parseInventoryText(`${PRECEDENCE}\n[alpha:vars]\nansible_group_priority=10\n`, 'hosts');
    expect(hostVars(withPriority, 'n1').same_depth).toBe('alpha');
  });

  test('depth is the longest path from all: a group that is also a grandchild ranks deeper', () => {
    // c is at depth 3 through a > b > c (2 through z); d is at depth 2. By shortest path d would win on name.
    const deep = parseInventoryText(
      '[a:children]\nb\n[b:children]\nc\n[z:children]\nc\n[x:children]\nd\n' +
        '[c]\nh\n[d]\nh\n[c:vars]\nv=c\n[d:vars]\nv=d\n',
      'hosts',
    );
    expect(hostVars(deep, 'h').v).toBe('c');
  });

  test('magic vars and the complete merged result', () => {
    expect(hostVars(inv, 'n1')).toEqual({
      level: 'kube_node',
      only_all: 1,
      same_depth: 'zeta',
      inventory_hostname: 'n1',
      inventory_hostname_short: 'n1',
      group_names: ['alpha', 'k8s', 'kube_node', 'zeta'],
    });
  });

  test('values replace whole (no deep merge), and the result is a copy', () => {
    const nested = parseInventoryText(
      'all:\n  vars:\n    opts: {a: 1, b: 2}\n  hosts:\n    h1:\n      opts: {a: 9}\n',
      'inv.yml',
    );
    const vars = hostVars(nested, 'h1');
    expect(vars.opts).toEqual({ a: 9 });
    (vars.opts as Record<string, number>).a = 100;
    expect(nested.hosts.get('h1')!.vars.opts).toEqual({ a: 9 });
  });

  test('an unknown host is an input error', () => {
    expect(() => hostVars(inv, 'nope')).toThrow("unknown host 'nope' in inventory hosts");
  });
});

describe('groupsMap', () => {
  test("every group lists its own hosts first, then its children's, without repeats", () => {
    const inv = parseInventoryText(
      '[k8s:children]\nkube_master\nkube_node\n[k8s]\nextra\n[kube_master]\nm2\nm1\n[kube_node]\nm1\nn1\nlone2\n',
      'hosts',
    );
    expect(groupsMap(inv)).toEqual({
      all: ['extra', 'm2', 'm1', 'n1', 'lone2'],
      ungrouped: [],
      k8s: ['extra', 'm2', 'm1', 'n1', 'lone2'],
      kube_master: ['m2', 'm1'],
      kube_node: ['m1', 'n1', 'lone2'],
    });
  });
});
