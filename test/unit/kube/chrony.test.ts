import { renderRoleTemplate } from '../../support/role-render.js';

/**
 * Who the cluster's time server lets in: chrony's `allow 0.0.0.0/0` admits IPv4 clients only, and clients ask the
 * server at its inventory address, so a server at an IPv6 address must allow IPv6 clients too.
 */
const allowLines = (hostvars: Record<string, Record<string, unknown>>, settings: Record<string, unknown> = {}) =>
  renderRoleTemplate('chrony', 'server.conf.hbs', settings, {
    name: 'h1',
    groups: { chrony: ['h1'], all: ['h1', 'h2'] },
    hostvars,
  })
    .split('\n')
    .filter((l) => l.startsWith('allow '));

describe('chrony: the time server', () => {
  test('at an IPv4 address or a name: IPv4 clients (local_network) only, as before', () => {
    expect(allowLines({ h1: { ansible_host: '10.0.0.11' } })).toEqual(['allow 0.0.0.0/0']);
    expect(allowLines({ h1: {} })).toEqual(['allow 0.0.0.0/0']);
  });

  test('at an IPv6 address: IPv6 clients too (local_network_ipv6)', () => {
    expect(allowLines({ h1: { ansible_host: 'fd46:7572:62::11' } })).toEqual(['allow 0.0.0.0/0', 'allow ::/0']);
    expect(
      allowLines(
        { h1: { ansible_host: 'fd46:7572:62::11' } },
        { local_network: '10.0.0.0/8', local_network_ipv6: 'fd46::/16' },
      ),
    ).toEqual(['allow 10.0.0.0/8', 'allow fd46::/16']);
  });
});
