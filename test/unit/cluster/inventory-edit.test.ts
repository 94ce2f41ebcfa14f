import { readFileSync } from 'node:fs';
import { addHost, removeHost } from '../../../src/cluster/inventory-edit.js';
import { InputError } from '../../../src/engine/errors.js';
import { parseInventoryText, selectHosts, hostVars } from '../../../src/engine/inventory/index.js';
import { packagePath } from '../../../src/package-root.js';

const KUBEASZ_HOSTS = `# 'etcd' cluster should have odd member(s) (1,3,5,...)
[etcd]
192.168.1.1

# master node(s)
[kube_master]
192.168.1.1 k8s_nodename='master-01'

# work node(s)
[kube_node]
192.168.1.3 k8s_nodename='worker-01'
# the second worker
192.168.1.4 k8s_nodename='worker-02'

[kube_node:vars]
x=1

[all:vars]
CONTAINER_RUNTIME="containerd"
`;

const LAB_YAML = `# Written by 'furrow lab up'.
all:
  vars:
    ansible_user: root # who logs in
  hosts:
    h1:
      ansible_host: 10.213.4.11
    h2:
      ansible_host: 10.213.4.12
  children:
    etcd:
      hosts:
        h1: null
    kube_master:
      hosts:
        h1: null
    kube_node:
      hosts:
        h1: null
        h2: null
`;

const groupsOf = (inv: ReturnType<typeof parseInventoryText>, host: string) =>
  ['etcd', 'kube_master', 'kube_node'].filter((g) => inv.groups.has(g) && selectHosts(inv, g).includes(host));

describe("kubeasz's INI hosts", () => {
  test('a node goes after the last host of [kube_node]; comments, order and every other line stay', () => {
    const out = addHost(
      KUBEASZ_HOSTS,
      'ini',
      { name: '192.168.1.5', vars: { k8s_nodename: 'worker-03' }, groups: ['kube_node'] },
      'hosts',
    );
    expect(out).toBe(
      KUBEASZ_HOSTS.replace(
        "192.168.1.4 k8s_nodename='worker-02'\n",
        "192.168.1.4 k8s_nodename='worker-02'\n192.168.1.5 k8s_nodename=worker-03\n",
      ),
    );
    const inv = parseInventoryText(out, 'hosts');
    expect(groupsOf(inv, '192.168.1.5')).toEqual(['kube_node']);
    expect(hostVars(inv, '192.168.1.5')).toMatchObject({ k8s_nodename: 'worker-03', x: 1 });
  });

  test('a hostname with an address, an IPv6 address; twice is once', () => {
    let out = addHost(
      KUBEASZ_HOSTS,
      'ini',
      { name: 'node-7.example.org', vars: { ansible_host: '10.0.0.7' }, groups: ['kube_node'] },
      'hosts',
    );
    out = addHost(out, 'ini', { name: 'fd00::8', vars: {}, groups: ['kube_node'] }, 'hosts');
    expect(addHost(out, 'ini', { name: 'fd00::8', vars: {}, groups: ['kube_node'] }, 'hosts')).toBe(out);
    const inv = parseInventoryText(out, 'hosts');
    expect(selectHosts(inv, 'kube_node')).toEqual(['192.168.1.3', '192.168.1.4', 'node-7.example.org', 'fd00::8']);
    expect(hostVars(inv, 'node-7.example.org').ansible_host).toBe('10.0.0.7');
  });

  test('a group with no section yet gets one at the end; an empty section gets the host under its header', () => {
    const example = readFileSync(packagePath('inventory', 'hosts.example'), 'utf8');
    const out = addHost(example, 'ini', { name: '10.0.0.9', vars: {}, groups: ['kube_node'] }, 'hosts');
    expect(out.split('\n').indexOf('10.0.0.9')).toBe(out.split('\n').indexOf('[kube_node]') + 1);
    expect(addHost('[etcd]\n10.0.0.1\n', 'ini', { name: 'n1', vars: {}, groups: ['kube_node'] }, 'hosts')).toBe(
      '[etcd]\n10.0.0.1\n\n[kube_node]\nn1\n',
    );
  });

  test('removing takes its line out of every group and leaves comments and the rest', () => {
    const out = removeHost(KUBEASZ_HOSTS, 'ini', '192.168.1.1', 'hosts');
    expect(out).toBe(
      KUBEASZ_HOSTS.replace('[etcd]\n192.168.1.1\n', '[etcd]\n').replace(
        "[kube_master]\n192.168.1.1 k8s_nodename='master-01'\n",
        '[kube_master]\n',
      ),
    );
    expect(removeHost(KUBEASZ_HOSTS, 'ini', '192.168.1.4', 'hosts')).not.toContain('192.168.1.4');
    expect(removeHost(KUBEASZ_HOSTS, 'ini', '192.168.1.4', 'hosts')).toContain('# the second worker');
  });

  test('out of one group alone (an etcd member leaving a host that stays a master): its other lines stay', () => {
    const out = removeHost(KUBEASZ_HOSTS, 'ini', '192.168.1.1', 'hosts', ['etcd']);
    expect(out).toBe(KUBEASZ_HOSTS.replace('[etcd]\n192.168.1.1\n', '[etcd]\n'));
    const inv = parseInventoryText(out, 'hosts');
    expect(groupsOf(inv, '192.168.1.1')).toEqual(['kube_master']);
  });

  test('a host inside a range is refused with the line', () => {
    let err: unknown;
    try {
      removeHost('[kube_node]\nnode[1:3]\n', 'ini', 'node2', 'clusters/x/hosts');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).place).toEqual({ file: 'clusters/x/hosts', line: 2 });
    expect((err as InputError).problem).toBe('node2 is one host of the range node[1:3]');
  });
});

describe("Furrow's inventory.yml", () => {
  test('adding: all.hosts with its address and each group; the comments stay', () => {
    const out = addHost(
      LAB_YAML,
      'yaml',
      { name: 'h3', vars: { ansible_host: '10.213.4.13' }, groups: ['kube_node'] },
      'inventory.yml',
    );
    expect(out).toContain("# Written by 'furrow lab up'.\n");
    expect(out).toContain('ansible_user: root # who logs in\n');
    expect(out).toContain('    h2:\n      ansible_host: 10.213.4.12\n    h3:\n      ansible_host: 10.213.4.13\n');
    expect(out).toContain('        h2: null\n        h3: null\n');
    const inv = parseInventoryText(out, 'inventory.yml');
    expect(groupsOf(inv, 'h3')).toEqual(['kube_node']);
    expect(hostVars(inv, 'h3').ansible_host).toBe('10.213.4.13');
    expect(
      addHost(
        out,
        'yaml',
        { name: 'h3', vars: { ansible_host: '10.213.4.13' }, groups: ['kube_node'] },
        'inventory.yml',
      ),
    ).toBe(out);
  });

  test('a group whose hosts is empty, or missing', () => {
    const out = addHost(
      'all:\n  children:\n    kube_node:\n      hosts:\n',
      'yaml',
      { name: 'n1', vars: {}, groups: ['kube_node', 'ex_lb'] },
      'inventory.yml',
    );
    const inv = parseInventoryText(out, 'inventory.yml');
    expect(selectHosts(inv, 'kube_node')).toEqual(['n1']);
    expect(selectHosts(inv, 'ex_lb')).toEqual(['n1']);
  });

  test('removing: out of all.hosts and every group, the rest as it was', () => {
    const out = removeHost(LAB_YAML, 'yaml', 'h2', 'inventory.yml');
    expect(out).toBe(
      LAB_YAML.replace('    h2:\n      ansible_host: 10.213.4.12\n', '').replace('        h2: null\n', ''),
    );
    const gone = removeHost(out, 'yaml', 'h1', 'inventory.yml');
    expect(parseInventoryText(gone, 'inventory.yml').hosts.size).toBe(0);
    expect(gone).toContain("# Written by 'furrow lab up'.\n");
  });

  test('out of one group alone: all.hosts keeps it with its address, the other groups keep it', () => {
    const out = removeHost(LAB_YAML, 'yaml', 'h1', 'inventory.yml', ['etcd']);
    expect(out).toBe(LAB_YAML.replace('    etcd:\n      hosts:\n        h1: null\n', '    etcd:\n      hosts: {}\n'));
    const inv = parseInventoryText(out, 'inventory.yml');
    expect(groupsOf(inv, 'h1')).toEqual(['kube_master', 'kube_node']);
    expect(hostVars(inv, 'h1').ansible_host).toBe('10.213.4.11');
  });
});
