import { archName, FACTS_SCRIPT, gatherFacts, parseFacts } from '../../../src/engine/facts/gather.js';
import { cannedConnection, localConnection } from '../modules/support/hosts.js';

/** Captured from a lab host: Debian 12 in a container, no default route, one global address. */
const LAB_HOST = `machine=x86_64
kernel=6.18.44-fc-v669
system=Linux
nodename=h1
osr.PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
osr.NAME="Debian GNU/Linux"
osr.VERSION_ID="12"
osr.VERSION="12 (bookworm)"
osr.VERSION_CODENAME=bookworm
osr.ID=debian
osr.HOME_URL="https://www.debian.org/"
debian_version=12.15
hosts=127.0.0.1	localhost
hosts=::1	localhost ip6-localhost ip6-loopback
hosts=10.213.71.11	h1
cpus=2
memtotal_kb=24684084
init=systemd
pkg=apt-get
addr=1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
addr=1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever
addr=2: eth0    inet 10.213.71.11/24 scope global eth0\\       valid_lft forever preferred_lft forever
addr=2: eth0    inet6 fe80::b890:6bff:fee3:2a5f/64 scope link \\       valid_lft forever preferred_lft forever
link=1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    \
link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
link=2: eth0@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen \
1000\\    link/ether ba:90:6b:e3:2a:5f brd ff:ff:ff:ff:ff:ff link-netnsid 0
`;

/** An Ubuntu arm64 server with default routes for both families, two addresses on the uplink. */
const UBUNTU_ARM = `machine=aarch64
kernel=5.15.0-91-generic
system=Linux
nodename=node-7
osr.NAME="Ubuntu"
osr.VERSION_ID="22.04"
osr.VERSION_CODENAME=jammy
osr.ID=ubuntu
osr.ID_LIKE=debian
debian_version=bookworm/sid
hosts=127.0.0.1 localhost
hosts=192.168.10.7 node-7.dc1.example.org node-7 # uplink
cpus=8
memtotal_kb=16318460
init=systemd
pkg=apt-get
route4=default via 192.168.10.1 dev ens3 proto dhcp src 192.168.10.7 metric 100
route6=default via fe80::1 dev ens3 proto ra metric 100 pref medium
addr=1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
addr=2: docker0    inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0\\       valid_lft forever preferred_lft \
forever
addr=3: ens3    inet 192.168.10.99/24 brd 192.168.10.255 scope global secondary ens3\\       valid_lft forever \
preferred_lft forever
addr=3: ens3    inet 192.168.10.7/24 brd 192.168.10.255 scope global dynamic ens3\\       valid_lft 3500sec \
preferred_lft 3500sec
addr=3: ens3    inet6 2001:db8::7/64 scope global dynamic mngtmpaddr \\       valid_lft forever preferred_lft forever
link=2: docker0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN mode DEFAULT group default\\    \
link/ether 02:42:ac:11:00:01 brd ff:ff:ff:ff:ff:ff
link=3: ens3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP mode DEFAULT group default qlen \
1000\\    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
`;

const ROCKY = `machine=x86_64
nodename=db1.example.com
osr.ID="rocky"
osr.ID_LIKE="rhel centos fedora"
osr.VERSION_ID="9.3"
osr.NAME="Rocky Linux"
pkg=dnf
pkg=yum
init=systemd
`;

describe('parseFacts', () => {
  test('a lab host: Debian, no default route, so the first global address is the default', () => {
    const f = parseFacts(LAB_HOST);
    expect(f.os).toEqual({
      id: 'debian',
      version: '12',
      codename: 'bookworm',
      family: 'debian',
      name: 'Debian GNU/Linux',
      like: [],
    });
    expect([f.machine, f.arch, f.hostname, f.fqdn, f.kernel]).toEqual([
      'x86_64',
      'amd64',
      'h1',
      'h1',
      '6.18.44-fc-v669',
    ]);
    expect(f.default_ipv4).toEqual({
      address: '10.213.71.11',
      prefix: 24,
      scope: 'global',
      netmask: '255.255.255.0',
      network: '10.213.71.0',
      interface: 'eth0',
      mac: 'ba:90:6b:e3:2a:5f',
    });
    expect(f.default_ipv6).toBeUndefined();
    expect(
      f.interfaces.map((i) => [i.name, i.mac, i.ipv4.map((a) => a.address), i.ipv6.map((a) => a.address)]),
    ).toEqual([
      ['lo', undefined, ['127.0.0.1'], ['::1']],
      ['eth0', 'ba:90:6b:e3:2a:5f', ['10.213.71.11'], ['fe80::b890:6bff:fee3:2a5f']],
    ]);
    expect([f.cpus, f.memory_mb, f.init, f.package_manager]).toEqual([2, 24105, 'systemd', 'apt']);
  });

  test('Ansible names for the same facts', () => {
    const f = parseFacts(LAB_HOST);
    expect(f.ansible_os_family).toBe('Debian');
    expect(f.ansible_distribution).toBe('Debian');
    expect(f.ansible_distribution_version).toBe('12.15');
    expect(f.ansible_distribution_major_version).toBe('12');
    expect(f.ansible_distribution_release).toBe('bookworm');
    expect(f.ansible_architecture).toBe('x86_64');
    expect(f.ansible_hostname).toBe('h1');
    expect(f.ansible_default_ipv4).toEqual({
      address: '10.213.71.11',
      interface: 'eth0',
      prefix: '24',
      netmask: '255.255.255.0',
      network: '10.213.71.0',
      macaddress: 'ba:90:6b:e3:2a:5f',
    });
    expect(f.ansible_default_ipv6).toEqual({});
    expect(f.ansible_processor_vcpus).toBe(2);
    expect(f.ansible_memtotal_mb).toBe(24105);
    expect(f.ansible_service_mgr).toBe('systemd');
    expect(f.ansible_pkg_mgr).toBe('apt');
    expect(f.ansible_all_ipv4_addresses).toEqual(['10.213.71.11']);
    expect(f.ansible_interfaces).toEqual(['lo', 'eth0']);
    expect(f.ansible_eth0).toEqual({
      device: 'eth0',
      macaddress: 'ba:90:6b:e3:2a:5f',
      ipv4: { address: '10.213.71.11', prefix: '24', netmask: '255.255.255.0', network: '10.213.71.0' },
      ipv6: [{ address: 'fe80::b890:6bff:fee3:2a5f', prefix: '64', scope: 'link' }],
    });
    expect((f.ansible_facts as Record<string, unknown>).os_family).toBe('Debian');
  });

  test('Ubuntu on arm64: the default route picks interface, source address and gateway', () => {
    const f = parseFacts(UBUNTU_ARM);
    expect([f.os.id, f.os.family, f.os.version, f.os.codename, f.arch, f.fqdn]).toEqual([
      'ubuntu',
      'debian',
      '22.04',
      'jammy',
      'arm64',
      'node-7.dc1.example.org',
    ]);
    expect(f.default_ipv4).toEqual({
      address: '192.168.10.7',
      prefix: 24,
      scope: 'global',
      netmask: '255.255.255.0',
      network: '192.168.10.0',
      interface: 'ens3',
      gateway: '192.168.10.1',
      mac: '52:54:00:12:34:56',
    });
    expect(f.default_ipv6).toEqual({
      address: '2001:db8::7',
      prefix: 64,
      scope: 'global',
      interface: 'ens3',
      gateway: 'fe80::1',
      mac: '52:54:00:12:34:56',
    });
    expect(f.ansible_distribution).toBe('Ubuntu');
    expect(f.ansible_distribution_version).toBe('22.04');
    expect(f.ansible_default_ipv4).toEqual({
      address: '192.168.10.7',
      interface: 'ens3',
      prefix: '24',
      netmask: '255.255.255.0',
      network: '192.168.10.0',
      gateway: '192.168.10.1',
      macaddress: '52:54:00:12:34:56',
    });
  });

  test('a Red Hat family host by ID_LIKE, dnf before yum, missing pieces neutral', () => {
    const f = parseFacts(ROCKY);
    expect([f.os.family, f.os.version, f.hostname, f.fqdn, f.package_manager, f.cpus, f.memory_mb]).toEqual([
      'redhat',
      '9.3',
      'db1',
      'db1.example.com',
      'dnf',
      0,
      0,
    ]);
    expect([f.ansible_os_family, f.ansible_distribution, f.ansible_distribution_major_version]).toEqual([
      'RedHat',
      'Rocky',
      '9',
    ]);
    expect(f.interfaces).toEqual([]);
    expect(f.default_ipv4).toBeUndefined();
  });

  test('architecture names as Debian and Kubernetes spell them', () => {
    expect(['x86_64', 'aarch64', 'armv7l', 'ppc64le', 's390x', 'i686', 'riscv64', 'mips'].map(archName)).toEqual([
      'amd64',
      'arm64',
      'arm',
      'ppc64le',
      's390x',
      '386',
      'riscv64',
      'mips',
    ]);
  });
});

describe('gatherFacts', () => {
  test('one round trip running the facts script', async () => {
    const conn = cannedConnection(LAB_HOST);
    const f = await gatherFacts(conn);
    expect(conn.commands).toEqual([FACTS_SCRIPT]);
    expect(f.ansible_default_ipv4).toMatchObject({ address: '10.213.71.11' });
  });

  test('on the controller: the script runs under sh and yields its own facts', async () => {
    const f = await gatherFacts(localConnection());
    const os = await import('node:os');
    expect(f.hostname).toBe(os.hostname().split('.')[0]);
    expect(f.cpus).toBe(os.cpus().length);
    expect(f.machine).toBe(os.machine());
    expect(f.kernel).toBe(os.release());
    expect(f.memory_mb).toBe(Math.floor(os.totalmem() / 1024 / 1024));
  });
});
