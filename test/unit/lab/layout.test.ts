import {
  hostLayout,
  ipv6Gateway,
  ipv6Prefix,
  labClientDir,
  labGroups,
  labLayout,
  withNet,
} from '../../../src/lab/layout.js';
import { freeNet } from '../../../src/lab/network.js';

describe('lab layout', () => {
  test('kubeasz groups: 3 hosts give an etcd of 3, one master, all nodes, first host serves time', () => {
    expect(labGroups(['h1', 'h2', 'h3'])).toEqual({
      etcd: ['h1', 'h2', 'h3'],
      kube_master: ['h1'],
      kube_node: ['h1', 'h2', 'h3'],
      chrony: ['h1'],
    });
  });

  test('kubeasz groups: 1 host has an etcd of 1; 4+ hosts have two masters and still an odd etcd', () => {
    expect(labGroups(['h1']).etcd).toEqual(['h1']);
    expect(labGroups(['h1', 'h2']).etcd).toEqual(['h1']);
    const five = labGroups(['h1', 'h2', 'h3', 'h4', 'h5']);
    expect(five.etcd).toEqual(['h1', 'h2', 'h3']);
    expect(five.kube_master).toEqual(['h1', 'h2']);
  });

  test('names fit Linux interface limits and differ between labs', () => {
    const a = labLayout('default');
    const b = labLayout('t-exec');
    for (const lab of [a, b]) {
      expect(lab.bridge.length).toBeLessThanOrEqual(15);
      expect(hostLayout(lab, 200).veth.length).toBeLessThanOrEqual(15);
    }
    expect(a.bridge).not.toBe(b.bridge);
    expect(hostLayout(a, 2).address).toBe(`${a.net}.12`);
    expect(a.gateway).toBe(`${a.net}.1`);
    expect(a.net).toMatch(/^10\.213\.\d{1,3}$/);
  });

  test("a host's IPv6 address (lab up --ipv6) ends as its IPv4 one, in a /64 that mirrors the lab's /24", () => {
    expect(ipv6Prefix('10.213.61')).toBe('fd46:7572:61::');
    expect(ipv6Gateway('10.213.255')).toBe('fd46:7572:255::1');
    const lab = withNet(labLayout('default'), '10.213.7');
    expect(hostLayout(lab, 1)).toMatchObject({ address: '10.213.7.11', address6: 'fd46:7572:7::11' });
    expect(hostLayout(lab, 200).address6).toBe('fd46:7572:7::210');
  });

  test('a bad lab name is an input error saying what is allowed', () => {
    expect(() => labLayout('Bad Name')).toThrow(/invalid lab name 'Bad Name'[\s\S]*lowercase/);
  });

  test('the default lab writes to .furrow/lab, others to .furrow/lab-NAME', () => {
    expect(labClientDir('/x', 'default')).toBe('/x/.furrow/lab');
    expect(labClientDir('/x', 'ci')).toBe('/x/.furrow/lab-ci');
  });

  test('a lab whose /24 is taken gets the next free one', () => {
    const routes =
      'default via 192.0.2.1 dev eth0\n10.213.55.0/24 dev fwb-x proto kernel scope link src ' +
      '10.213.55.1\n10.213.56.0/24 dev fwb-y\n';
    expect(freeNet('10.213.55', routes)).toBe('10.213.57');
    expect(freeNet('10.213.54', routes)).toBe('10.213.54');
    expect(freeNet('10.213.255', '10.213.255.0/24 dev z\n')).toBe('10.213.0');
  });
});
