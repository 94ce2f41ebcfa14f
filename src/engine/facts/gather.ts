/**
 * Fact gathering: one POSIX sh script, one round trip, `key=value` lines back; everything else is
 * the pure `parseFacts` below (tested on canned output). Nothing here resolves names through DNS:
 * the fqdn comes from /etc/hosts, so a host without a resolver never stalls the run.
 */
import type { Connection } from '../connections/types.js';
import { parseNetwork, type DefaultAddress, type NetInterface } from './network.js';
import { commandFailed } from '../command-failure.js';

export type { DefaultAddress, NetAddress, NetInterface } from './network.js';

export interface OsFacts {
  /** ID from /etc/os-release: debian, ubuntu, rocky, ... */
  id: string;
  /** VERSION_ID (12, 22.04, 9.3); Debian's point release is in `ansible_distribution_version`. */
  version: string;
  codename: string;
  /** debian, redhat, suse, archlinux, alpine, or the id itself. */
  family: string;
  name: string;
  like: string[];
}

/** Our own names (snake_case, like all variables) and Ansible's `ansible_*` names side by side. */
export interface Facts {
  os: OsFacts;
  /** `uname -m`: x86_64, aarch64. */
  machine: string;
  /** The Debian / Kubernetes / Go name: amd64, arm64, arm, ppc64le, s390x, 386, riscv64. */
  arch: string;
  hostname: string;
  fqdn: string;
  kernel: string;
  default_ipv4?: DefaultAddress;
  default_ipv6?: DefaultAddress;
  interfaces: NetInterface[];
  cpus: number;
  memory_mb: number;
  /** systemd, or the name of PID 1. */
  init: string;
  /** apt, dnf, yum, zypper, apk, pacman, or '' when none is found. */
  package_manager: string;
  [ansibleName: string]: unknown;
}

/** Printed by the host in one go; each line is `key=value` (keys may repeat). */
export const FACTS_SCRIPT = [
  'LC_ALL=C; export LC_ALL',
  'echo "machine=$(uname -m)"',
  'echo "kernel=$(uname -r)"',
  'echo "system=$(uname -s)"',
  'echo "nodename=$(uname -n)"',
  '[ -r /etc/os-release ] && sed "s/^/osr./" /etc/os-release',
  '[ -r /etc/debian_version ] && echo "debian_version=$(cat /etc/debian_version)"',
  '[ -r /etc/hosts ] && sed "s/^/hosts=/" /etc/hosts',
  'echo "cpus=$(nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo)"',
  `sed -n 's/^MemTotal: *\\([0-9]*\\) kB/memtotal_kb=\\1/p' /proc/meminfo`,
  'if [ -d /run/systemd/system ]; then echo init=systemd; else echo "init=$(cat /proc/1/comm 2>/dev/null)"; fi',
  'for m in apt-get dnf yum zypper apk pacman; do command -v $m >/dev/null 2>&1 && echo "pkg=$m"; done',
  'if command -v ip >/dev/null 2>&1; then',
  '  ip -o -4 route show default 2>/dev/null | sed "s/^/route4=/"',
  '  ip -o -6 route show default 2>/dev/null | sed "s/^/route6=/"',
  '  ip -o addr show 2>/dev/null | sed "s/^/addr=/"',
  '  ip -o link show 2>/dev/null | sed "s/^/link=/"',
  'fi',
  'exit 0',
].join('\n');

/** Runs the script on the host (one round trip) and parses what it printed. */
export async function gatherFacts(conn: Connection): Promise<Facts> {
  const r = await conn.exec(FACTS_SCRIPT, { become: false, timeoutMs: 30_000 });
  if (r.code !== 0) {
    throw commandFailed(conn.spec.name, 'gathering facts', r);
  }
  return parseFacts(r.stdout.toString('utf8'));
}

/** Pure: the script's output as facts. Missing pieces get neutral values, never an exception. */
export function parseFacts(stdout: string): Facts {
  const lines = collectLines(stdout);
  const one = (key: string): string => lines.get(key)?.[0] ?? '';
  const osr = osRelease(lines.get('osr') ?? []);
  const os = osFacts(osr);
  const machine = one('machine');
  const hostname = one('nodename').split('.')[0] ?? '';
  const net = parseNetwork(
    lines.get('route4') ?? [],
    lines.get('route6') ?? [],
    lines.get('addr') ?? [],
    lines.get('link') ?? [],
  );
  const facts: Facts = {
    os,
    machine,
    arch: archName(machine),
    hostname,
    fqdn: fqdnFromHosts(one('nodename'), lines.get('hosts') ?? []),
    kernel: one('kernel'),
    ...(net.defaultIpv4 ? { default_ipv4: net.defaultIpv4 } : {}),
    ...(net.defaultIpv6 ? { default_ipv6: net.defaultIpv6 } : {}),
    interfaces: net.interfaces,
    cpus: toNumber(one('cpus')),
    memory_mb: Math.floor(toNumber(one('memtotal_kb')) / 1024),
    init: one('init'),
    package_manager: packageManager(lines.get('pkg') ?? []),
  };
  return { ...facts, ...ansibleFacts(facts, one('system'), one('debian_version'), osr) };
}

/** Groups `key=value` lines by key; `osr.ID=debian` goes under `osr` as `ID=debian`. */
function collectLines(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const match = /^(osr)\.(.*)$/.exec(line) ?? /^([a-z0-9_]+)=(.*)$/.exec(line);
    if (!match) continue;
    const [, key, value] = match as unknown as [string, string, string];
    const list = out.get(key) ?? [];
    list.push(value);
    out.set(key, list);
  }
  return out;
}

/** os-release is shell-like `KEY="value"`; values here are simple, so unquoting is enough. */
function osRelease(lines: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    let value = match[2]!;
    if (/^".*"$/.test(value)) value = value.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    else if (/^'.*'$/.test(value)) value = value.slice(1, -1);
    out.set(match[1]!, value);
  }
  return out;
}

const FAMILIES: Record<string, string> = {
  debian: 'debian',
  ubuntu: 'debian',
  raspbian: 'debian',
  linuxmint: 'debian',
  pop: 'debian',
  kali: 'debian',
  uos: 'debian',
  deepin: 'debian',
  rhel: 'redhat',
  centos: 'redhat',
  fedora: 'redhat',
  rocky: 'redhat',
  almalinux: 'redhat',
  ol: 'redhat',
  amzn: 'redhat',
  openeuler: 'redhat',
  anolis: 'redhat',
  kylin: 'redhat',
  euleros: 'redhat',
  sles: 'suse',
  opensuse: 'suse',
  'opensuse-leap': 'suse',
  'opensuse-tumbleweed': 'suse',
  suse: 'suse',
  arch: 'archlinux',
  manjaro: 'archlinux',
  alpine: 'alpine',
};

function osFacts(osr: Map<string, string>): OsFacts {
  const id = (osr.get('ID') ?? '').toLowerCase();
  const like = (osr.get('ID_LIKE') ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const family = FAMILIES[id] ?? like.map((l) => FAMILIES[l]).find((f) => f !== undefined) ?? id;
  return {
    id,
    version: osr.get('VERSION_ID') ?? '',
    codename: osr.get('VERSION_CODENAME') ?? osr.get('UBUNTU_CODENAME') ?? '',
    family,
    name: osr.get('NAME') ?? '',
    like,
  };
}

const ARCH_NAMES: Record<string, string> = {
  x86_64: 'amd64',
  amd64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
  armv7l: 'arm',
  armv6l: 'arm',
  armhf: 'arm',
  i386: '386',
  i486: '386',
  i586: '386',
  i686: '386',
  ppc64le: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loongarch64: 'loong64',
};

export function archName(machine: string): string {
  return ARCH_NAMES[machine] ?? machine;
}

/** As Python's socket.getfqdn() with files only: the first name on the /etc/hosts line that names us. */
function fqdnFromHosts(nodename: string, hostsLines: string[]): string {
  if (nodename.includes('.')) return nodename;
  for (const line of hostsLines) {
    const names = line.replace(/#.*/, '').trim().split(/\s+/).slice(1);
    if (!names.includes(nodename)) continue;
    return names.find((n) => n.startsWith(`${nodename}.`)) ?? names[0] ?? nodename;
  }
  return nodename;
}

function packageManager(found: string[]): string {
  const first = found[0] ?? '';
  return first === 'apt-get' ? 'apt' : first;
}

function toNumber(text: string): number {
  const n = Number.parseInt(text, 10);
  return Number.isFinite(n) ? n : 0;
}

const ANSIBLE_FAMILIES: Record<string, string> = {
  debian: 'Debian',
  redhat: 'RedHat',
  suse: 'Suse',
  archlinux: 'Archlinux',
  alpine: 'Alpine',
};
const ANSIBLE_DISTRIBUTIONS: Record<string, string> = {
  debian: 'Debian',
  ubuntu: 'Ubuntu',
  centos: 'CentOS',
  rhel: 'RedHat',
  fedora: 'Fedora',
  rocky: 'Rocky',
  almalinux: 'AlmaLinux',
  ol: 'OracleLinux',
  amzn: 'Amazon',
  sles: 'SLES',
  'opensuse-leap': 'openSUSE Leap',
  arch: 'Archlinux',
  alpine: 'Alpine',
  openeuler: 'openEuler',
  kylin: 'Kylin',
  anolis: 'Anolis',
};

/** Ansible's names for the same facts, so task lists and templates written for Ansible keep working. */
function ansibleFacts(
  f: Facts,
  system: string,
  debianVersion: string,
  osr: Map<string, string>,
): Record<string, unknown> {
  // Ansible reports Debian's point release (12.5) from /etc/debian_version when it is numeric.
  const version = f.os.id === 'debian' && /^\d+(\.\d+)*$/.test(debianVersion) ? debianVersion : f.os.version;
  const short: Record<string, unknown> = {
    os_family: ANSIBLE_FAMILIES[f.os.family] ?? capitalize(f.os.family),
    distribution: ANSIBLE_DISTRIBUTIONS[f.os.id] ?? osr.get('NAME') ?? capitalize(f.os.id),
    distribution_version: version,
    distribution_major_version: version.split('.')[0] ?? '',
    distribution_release: f.os.codename,
    architecture: f.machine,
    machine: f.machine,
    system,
    kernel: f.kernel,
    hostname: f.hostname,
    nodename: f.hostname,
    fqdn: f.fqdn,
    default_ipv4: f.default_ipv4 ? ansibleDefault(f.default_ipv4) : {},
    default_ipv6: f.default_ipv6 ? ansibleDefault(f.default_ipv6) : {},
    all_ipv4_addresses: f.interfaces.flatMap((i) => (i.name === 'lo' ? [] : i.ipv4.map((a) => a.address))),
    all_ipv6_addresses: f.interfaces.flatMap((i) => (i.name === 'lo' ? [] : i.ipv6.map((a) => a.address))),
    interfaces: f.interfaces.map((i) => i.name),
    processor_vcpus: f.cpus,
    processor_nproc: f.cpus,
    memtotal_mb: f.memory_mb,
    service_mgr: f.init,
    pkg_mgr: f.package_manager,
  };
  for (const i of f.interfaces) short[i.name.replace(/[^A-Za-z0-9_]/g, '_')] = ansibleInterface(i);
  const prefixed = Object.fromEntries(Object.entries(short).map(([k, v]) => [`ansible_${k}`, v]));
  return { ...prefixed, ansible_facts: short };
}

function ansibleDefault(d: DefaultAddress): Record<string, unknown> {
  return {
    address: d.address,
    interface: d.interface,
    prefix: String(d.prefix),
    ...(d.netmask ? { netmask: d.netmask } : {}),
    ...(d.network ? { network: d.network } : {}),
    ...(d.gateway ? { gateway: d.gateway } : {}),
    ...(d.mac ? { macaddress: d.mac } : {}),
  };
}

function ansibleInterface(i: NetInterface): Record<string, unknown> {
  const v4 = i.ipv4[0];
  return {
    device: i.name,
    ...(i.mac ? { macaddress: i.mac } : {}),
    ...(v4
      ? {
          ipv4: {
            address: v4.address,
            prefix: String(v4.prefix),
            ...(v4.netmask ? { netmask: v4.netmask } : {}),
            ...(v4.network ? { network: v4.network } : {}),
          },
        }
      : {}),
    ipv6: i.ipv6.map((a) => ({ address: a.address, prefix: String(a.prefix), scope: a.scope })),
  };
}

function capitalize(text: string): string {
  return text ? text[0]!.toUpperCase() + text.slice(1) : text;
}
