import path from 'node:path';
import { InputError } from '../../../src/engine/errors.js';
import { groupsMap, hostVars, loadInventory, parseInventoryText } from '../../../src/engine/inventory/index.js';

const fixture = (name: string) => path.resolve('test/fixtures/inventory', name);

function messageOf(text: string, source = 'inv.yml'): string {
  try {
    parseInventoryText(text, source);
  } catch (err) {
    if (err instanceof InputError) return err.message.split('\n')[0];
    throw err;
  }
  throw new Error('expected an InputError');
}

describe('YAML inventory (Ansible native format)', () => {
  test('hosts, nested children, ranges, ports and IPv6 keys', async () => {
    const inv = await loadInventory(fixture('yaml/cluster.yml'));
    expect([...inv.hosts.keys()]).toEqual([
      'bastion',
      'etcd1.lab',
      'etcd2.lab',
      'etcd3.lab',
      'cp1.lab',
      'worker01.lab',
      'worker02.lab',
      '2001:db8::10',
    ]);
    expect(inv.groups.get('k8s')).toMatchObject({
      children: ['kube_master', 'kube_node'],
      parents: ['all'],
      vars: { role: 'k8s' },
    });
    expect(inv.groups.get('kube_master')!.parents).toEqual(['k8s']);
    expect(inv.hosts.get('cp1.lab')!.vars).toEqual({
      ansible_port: 2222,
      ansible_user: 'admin',
      labels: { zone: 'a', tier: 'control' },
    });
    expect(inv.hosts.get('2001:db8::10')!.vars).toEqual({ ansible_port: 2200 });
    expect(inv.hosts.get('cp1.lab')!.place).toEqual({ file: fixture('yaml/cluster.yml'), line: 20, column: 13 });
    expect(groupsMap(inv).k8s).toEqual(['cp1.lab', 'worker01.lab', 'worker02.lab']);
  });

  test('a host listed only under all: is in all and ungrouped', async () => {
    const inv = await loadInventory(fixture('yaml/cluster.yml'));
    expect(inv.hosts.get('bastion')!.groups).toEqual(['all', 'ungrouped']);
    expect(groupsMap(inv).ungrouped).toEqual(['2001:db8::10', 'bastion']);
  });

  test('values follow YAML 1.1 as PyYAML reads them (yes is true, 0644 is octal)', async () => {
    const inv = await loadInventory(fixture('yaml/cluster.yml'));
    expect(hostVars(inv, 'worker02.lab')).toEqual({
      cluster_name: 'demo',
      enable_audit: true,
      file_mode: 420,
      role: 'worker',
      max_pods: 110,
      inventory_hostname: 'worker02.lab',
      inventory_hostname_short: 'worker02',
      group_names: ['k8s', 'kube_node'],
    });
    // PyYAML, unlike the YAML 1.1 spec, leaves y and n as strings; names keep the text as typed.
    const inv2 = parseInventoryText('g:\n  hosts:\n    1.10:\n      y: n\n      on: off\n', 'inv.yml');
    expect(inv2.hosts.get('1.10')!.vars).toEqual({ y: 'n', true: false });
  });

  test('short forms: hosts and children given as a single name, empty groups and sections', () => {
    const inv = parseInventoryText(
      'web:\n  hosts: w1\nparent:\n  children: web\nempty:\nbare:\n  hosts:\n  vars:\n',
      'inv.yml',
    );
    expect(inv.groups.get('web')!.hosts).toEqual(['w1']);
    expect(inv.groups.get('parent')!.children).toEqual(['web']);
    expect([...inv.groups.keys()]).toEqual(['all', 'ungrouped', 'web', 'parent', 'empty', 'bare']);
  });

  test('anchors and merge keys work in vars', () => {
    const inv = parseInventoryText(
      'all:\n  vars:\n    base: &b {a: 1, b: 2}\n  hosts:\n    h1:\n      <<: *b\n      b: 3\n',
      'inv.yml',
    );
    expect(inv.hosts.get('h1')!.vars).toEqual({ a: 1, b: 3 });
  });

  test('a file without extension that is YAML is read as YAML', () => {
    const inv = parseInventoryText('all:\n  children:\n    etcd:\n      hosts:\n        e1:\n', 'inventory');
    expect(inv.groups.get('etcd')!.hosts).toEqual(['e1']);
  });
});

describe('YAML inventory errors name file:line:column', () => {
  test('syntax error (fixture file)', async () => {
    const file = fixture('bad/syntax.yml');
    await expect(loadInventory(file)).rejects.toThrow(`${file}:5:1: All mapping items must start at the same column`);
  });

  test.each([
    ['web:\n  hosts:\n    - h1\n', "inv.yml:3:5: 'hosts' of group 'web' must be a mapping, found a list"],
    ['web:\n  host:\n    h1:\n', "inv.yml:2:3: unknown key 'host' in group 'web'"],
    ['web:\n  vars: [a]\n', "inv.yml:2:9: 'vars' of group 'web' must be a mapping, found a list"],
    [
      'web:\n  hosts:\n    h1: just-text\n',
      "inv.yml:3:9: vars of host 'h1' must be a mapping, found the string 'just-text'",
    ],
    ['web: 3\n', "inv.yml:1:1: group 'web' must be a mapping with hosts, vars or children, found the number '3'"],
    ['- a\n- b\n', 'inv.yml:1:1: a YAML inventory must be a mapping of groups, found a list'],
    ['a:\n  children:\n    b:\n      children:\n        a:\n', 'inv.yml:3:5: group loop: a -> b -> a'],
    ['a:\n  vars:\n    x: 1\n    x: 2\n', 'inv.yml:4:5: Map keys must be unique'],
    ['plugin: aws_ec2\nregions: [eu-west-1]\n', 'inv.yml:1:1: inventory plugin configs (plugin:) are not supported'],
    ['all:\n  vars:\n    pw: !vault |\n      $ANSIBLE_VAULT\n', 'inv.yml:3:9: Unresolved tag: !vault'],
  ])('%j', (text, message) => {
    expect(messageOf(text)).toBe(message);
  });
});
