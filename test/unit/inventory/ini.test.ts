import path from 'node:path';
import { InputError } from '../../../src/engine/errors.js';
import { groupsMap, hostVars, loadInventory, parseInventoryText } from '../../../src/engine/inventory/index.js';

const fixture = (name: string) => path.resolve('test/fixtures/inventory', name);

/** The InputError a parse throws, so tests can check the exact message. */
function errorOf(text: string, source = 'hosts'): InputError {
  try {
    parseInventoryText(text, source);
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

describe('INI inventory: kubeasz hosts file', () => {
  test('groups, hosts and host vars as kubeasz writes them; commented-out hosts are not hosts', async () => {
    const inv = await loadInventory(fixture('kubeasz/hosts'));
    expect([...inv.hosts.keys()]).toEqual(['10.10.0.11', '10.10.0.12', '10.10.0.13', '10.10.0.21', '10.10.0.22']);
    expect([...inv.groups.keys()]).toEqual([
      'all',
      'ungrouped',
      'etcd',
      'kube_master',
      'kube_node',
      'harbor',
      'ex_lb',
      'chrony',
    ]);
    expect(groupsMap(inv)).toEqual({
      all: ['10.10.0.11', '10.10.0.12', '10.10.0.13', '10.10.0.21', '10.10.0.22'],
      ungrouped: [],
      etcd: ['10.10.0.11', '10.10.0.12', '10.10.0.13'],
      kube_master: ['10.10.0.11', '10.10.0.12'],
      kube_node: ['10.10.0.21', '10.10.0.22'],
      harbor: [],
      ex_lb: [],
      chrony: [],
    });
    expect(inv.hosts.get('10.10.0.11')).toEqual({
      name: '10.10.0.11',
      vars: { k8s_nodename: 'cp-1' },
      groups: ['etcd', 'kube_master'],
      place: { file: fixture('kubeasz/hosts'), line: 4 },
    });
    expect(inv.groups.get('etcd')!.parents).toEqual(['all']);
  });

  test('[all:vars] values are read like Ansible reads them', async () => {
    const inv = await loadInventory(fixture('kubeasz/hosts'));
    expect(inv.groups.get('all')!.vars).toEqual({
      SECURE_PORT: '6443',
      CONTAINER_RUNTIME: 'containerd',
      CLUSTER_NETWORK: 'calico',
      PROXY_MODE: 'ipvs',
      SERVICE_CIDR: '10.68.0.0/16',
      CLUSTER_CIDR: '172.20.0.0/16',
      NODE_PORT_RANGE: '30000-32767',
      CLUSTER_DNS_DOMAIN: 'cluster.local',
      bin_dir: '/opt/kube/bin',
      base_dir: '/etc/kubeasz',
      cluster_dir: '{{ base_dir }}/clusters/_cluster_name_',
      ca_dir: '/etc/kubernetes/ssl',
      k8s_nodename: '',
      ansible_python_interpreter: '/usr/bin/python3',
    });
    // The host's own k8s_nodename beats the empty default from [all:vars].
    expect(hostVars(inv, '10.10.0.21').k8s_nodename).toBe('wk-1');
    expect(hostVars(inv, '10.10.0.13').k8s_nodename).toBe('');
  });
});

describe('INI inventory: hosts', () => {
  test('numeric, zero-padded, stepped, letter and multiple ranges', () => {
    const inv = parseInventoryText('[n]\nnode[01:03]\n10.0.0.[8:10]\nw[1:7:3]\n[a:c].lab\nr[1:2]-[x:y]\n', 'hosts');
    expect(inv.groups.get('n')!.hosts).toEqual([
      'node01',
      'node02',
      'node03',
      '10.0.0.8',
      '10.0.0.9',
      '10.0.0.10',
      'w1',
      'w4',
      'w7',
      'a.lab',
      'b.lab',
      'c.lab',
      'r1-x',
      'r1-y',
      'r2-x',
      'r2-y',
    ]);
  });

  test('ports become ansible_port; a var on the line wins over the port', () => {
    const inv = parseInventoryText(
      '[web]\nweb1:2222\nweb[2:3]:22 ansible_user=ops\nweb4:2200 ansible_port=2300\n',
      'hosts',
    );
    expect(inv.hosts.get('web1')!.vars).toEqual({ ansible_port: 2222 });
    expect(inv.hosts.get('web3')!.vars).toEqual({ ansible_port: 22, ansible_user: 'ops' });
    expect(inv.hosts.get('web4')!.vars).toEqual({ ansible_port: 2300 });
  });

  test('IPv6 addresses are host names, bare or bracketed with a port', () => {
    const inv = parseInventoryText('[v6]\nfe80::1 ansible_user=a\n[2001:db8::5]:2222\n[::1]\n', 'hosts');
    expect([...inv.hosts.keys()]).toEqual(['fe80::1', '2001:db8::5', '::1']);
    expect(inv.hosts.get('2001:db8::5')!.vars).toEqual({ ansible_port: 2222 });
    expect(inv.hosts.get('fe80::1')!.vars).toEqual({ ansible_user: 'a' });
  });

  test('host-line values: shell quoting first, then Python literals, else text', () => {
    const inv = parseInventoryText(
      '[g]\nh1 a=1 b="1" c=\'x y\' d=True e=yes f=false g=\'[1, "two"]\' h=1.5 i=10.0.0.1 j=x=y k=None # comment x=2\n',
      'hosts',
    );
    expect(inv.hosts.get('h1')!.vars).toEqual({
      a: 1,
      b: 1,
      c: 'x y',
      d: true,
      e: 'yes',
      f: 'false',
      g: [1, 'two'],
      h: 1.5,
      i: '10.0.0.1',
      j: 'x=y',
      k: null,
    });
  });

  test('hosts before any section are ungrouped, unless a group lists them later', () => {
    const inv = parseInventoryText('lone\nmoved\n[g]\nmoved\n', 'hosts');
    expect(inv.groups.get('ungrouped')!.hosts).toEqual(['lone']);
    expect(inv.hosts.get('moved')!.groups).toEqual(['g']);
    expect(inv.hosts.get('lone')!.groups).toEqual(['ungrouped']);
  });

  test('comments with # and ;, blank lines and CRLF line ends are fine', () => {
    const inv = parseInventoryText('; top\r\n[g]  # trailing\r\n\r\n# h0\r\nh1\r\n  ; h2\r\n', 'hosts');
    expect([...inv.hosts.keys()]).toEqual(['h1']);
  });
});

describe('INI inventory: groups', () => {
  test('a child group may be named before its own section; parents and children are recorded', () => {
    const inv = parseInventoryText(
      '[k8s:children]\nkube_master\nkube_node\n[kube_master]\nm1\n[kube_node]\nn1\n[k8s:vars]\nx=1\n',
      'hosts',
    );
    expect(inv.groups.get('k8s')).toMatchObject({
      children: ['kube_master', 'kube_node'],
      parents: ['all'],
      vars: { x: 1 },
    });
    expect(inv.groups.get('kube_node')!.parents).toEqual(['k8s']);
    expect(inv.groups.get('all')!.children).toEqual(['ungrouped', 'k8s']);
    expect(groupsMap(inv).k8s).toEqual(['m1', 'n1']);
  });

  test('[g:vars] before [g] is fine; a later section adds to the same group', () => {
    const inv = parseInventoryText('[g:vars]\na=1\n[g]\nh1\n[g:vars]\nb=two\n[g]\nh2\n', 'hosts');
    expect(inv.groups.get('g')).toMatchObject({ hosts: ['h1', 'h2'], vars: { a: 1, b: 'two' } });
  });
});

describe('INI inventory: errors name the file and line', () => {
  test('unknown section type (fixture file)', async () => {
    const file = fixture('bad/section/hosts');
    await expect(loadInventory(file)).rejects.toThrow(`${file}:3: unknown section type 'wrong' in [etcd:wrong]`);
  });

  test.each([
    ['[bad group]\n', "hosts:1: invalid section header '[bad group]'"],
    ['[p:children]\nmissing\n[q]\nh\n', "hosts:2: [p:children] includes undefined group 'missing'"],
    ['[h:vars]\nx=1\n', "hosts:1: [h:vars] is for group 'h', which is not defined"],
    ['[g:vars]\njustaword\n', "hosts:2: expected key=value in [g:vars], got 'justaword'"],
    ['[g]\nh1 novalue\n', "hosts:2: expected key=value after host 'h1', got 'novalue'"],
    ['[g]\nh1 a="open\n', 'hosts:2: cannot read host line: no closing quotation'],
    ['[g]\nnode[5:1]\n', "hosts:2: bad host range in 'node[5:1]': 5 is greater than 1"],
    [
      '[g]\nnode[01:100]\n',
      "hosts:2: bad host range in 'node[01:100]': '01' and '100' must have the same width when zero-padded",
    ],
    ['[g:children]\ng\n', 'hosts:2: group loop: g -> g'],
    ['[a:children]\nb\n[b:children]\nc\n[c:children]\na\n', 'hosts:6: group loop: c -> a -> b -> c'],
    ['[x:children]\nall\n', "hosts:2: group 'all' cannot be a child of 'x'"],
  ])('%j', (text, message) => {
    const err = errorOf(text);
    expect(err.message.split('\n')[0]).toBe(message);
    expect(err.code).toBe('input');
    expect(err.fix).toBeTruthy();
  });
});
