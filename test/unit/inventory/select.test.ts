import path from 'node:path';
import { InputError } from '../../../src/engine/errors.js';
import { loadInventory, parseInventoryText, selectHosts } from '../../../src/engine/inventory/index.js';
import { splitPattern } from '../../../src/engine/inventory/select.js';

const INVENTORY = `
[etcd]
10.0.0.1
10.0.0.2
10.0.0.3
[kube_master]
10.0.0.2
10.0.0.1
[kube_node]
10.0.0.4
web1
web2
[v6]
fe80::1
[2001:db8::2]:22
[k8s:children]
kube_master
kube_node
`;

describe('selectHosts', () => {
  const inv = parseInventoryText(INVENTORY, 'hosts');
  const select = (pattern: string, limit?: string) => selectHosts(inv, pattern, limit);

  test('a host, a group, all and * (results in inventory order)', () => {
    expect(select('web2')).toEqual(['web2']);
    expect(select('kube_master')).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(select('k8s')).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.4', 'web1', 'web2']);
    const everyone = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', 'web1', 'web2', 'fe80::1', '2001:db8::2'];
    expect(select('all')).toEqual(everyone);
    expect(select('*')).toEqual(everyone);
  });

  test('union with : and , has no duplicates', () => {
    expect(select('kube_master:web1')).toEqual(['10.0.0.1', '10.0.0.2', 'web1']);
    expect(select('web1, etcd')).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', 'web1']);
  });

  test('intersection :& and exclusion :! (applied after unions, as Ansible does)', () => {
    expect(select('etcd:&kube_master')).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(select('k8s:!kube_master')).toEqual(['10.0.0.4', 'web1', 'web2']);
    expect(select('!etcd:kube_node')).toEqual(['10.0.0.4', 'web1', 'web2']);
    expect(select('&etcd,!10.0.0.1')).toEqual(['10.0.0.2', '10.0.0.3']);
  });

  test('globs match group and host names; a glob that matches nothing is empty, not an error', () => {
    expect(select('web*')).toEqual(['web1', 'web2']);
    expect(select('10.0.0.*')).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    expect(select('kube_*')).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.4', 'web1', 'web2']);
    expect(select('web?')).toEqual(['web1', 'web2']);
    expect(select('web[!1]')).toEqual(['web2']);
    expect(select('db*')).toEqual([]);
  });

  test('~regex matches from the start of the name', () => {
    expect(select('~web[0-9]+')).toEqual(['web1', 'web2']);
    expect(select('~(etcd|v6)')).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', 'fe80::1', '2001:db8::2']);
    expect(select('~eb')).toEqual([]);
  });

  test('subscripts pick from a group in its own order', () => {
    expect(select('kube_master[0]')).toEqual(['10.0.0.2']);
    expect(select('etcd[-1]')).toEqual(['10.0.0.3']);
    expect(select('etcd[1:]')).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(() => select('etcd[3]')).toThrow("index 3 is out of range for 'etcd', which has 3 host(s)");
  });

  test('IPv6 names: bare alone, with commas, or bracketed between colons', () => {
    expect(select('fe80::1')).toEqual(['fe80::1']);
    expect(select('fe80::1,web1')).toEqual(['web1', 'fe80::1']);
    expect(select('web1:[2001:db8::2]')).toEqual(['web1', '2001:db8::2']);
    expect(select('v6:![fe80::1]')).toEqual(['2001:db8::2']);
    expect(splitPattern('a:&b:!c')).toEqual(['a', '&b', '!c']);
    expect(splitPattern('!fe80::1')).toEqual(['!fe80::1']);
  });

  test('limit narrows the pattern like an intersection', () => {
    expect(select('all', 'kube_master')).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(select('k8s', 'etcd:!10.0.0.1')).toEqual(['10.0.0.2']);
    expect(select('kube_node', 'etcd')).toEqual([]);
  });

  test('an unknown name is an input error that lists the known groups', () => {
    let error: unknown;
    try {
      select('kube_master:kube-node');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toBe(
      "unknown host or group 'kube-node' in pattern 'kube_master:kube-node'\n" +
        '  fix: known groups: all, ungrouped, etcd, kube_master, kube_node, v6, k8s; host names must match the ' +
        'inventory exactly',
    );
    expect(() => select('all', 'nope')).toThrow("unknown host or group 'nope' in pattern 'nope'");
  });

  test('errors carry the place the pattern came from; empty and bad regex patterns are refused', () => {
    expect(() => selectHosts(inv, 'nope', undefined, { file: 'site.yml', line: 3, column: 10 })).toThrow(
      "site.yml:3:10: unknown host or group 'nope' in pattern 'nope'",
    );
    expect(() => select(' , ')).toThrow('empty host pattern');
    expect(() => select('~web(')).toThrow("invalid regular expression '~web(' in pattern '~web('");
  });

  test('works on the kubeasz fixture', async () => {
    const kubeasz = await loadInventory(path.resolve('test/fixtures/inventory/kubeasz/hosts'));
    expect(selectHosts(kubeasz, 'kube_master:kube_node:!etcd')).toEqual(['10.10.0.21', '10.10.0.22']);
    expect(selectHosts(kubeasz, 'ex_lb')).toEqual([]);
  });
});
