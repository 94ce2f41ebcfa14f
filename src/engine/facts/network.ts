/**
 * Network facts from `ip -o` output (iproute2's one-line format), pure. The default address is
 * the one the default route leaves by; without a default route (an air-gapped site, the lab) it
 * is the first global address, so `default_ipv4.address` is still the host's own address.
 */
import { getOrAdd } from '../get-or-add.js';

export interface NetAddress {
  address: string;
  prefix: number;
  /** global, link, host, ... as `ip` prints it. */
  scope: string;
  /** IPv4 only. */
  netmask?: string;
  network?: string;
}

export interface NetInterface {
  name: string;
  mac?: string;
  ipv4: NetAddress[];
  ipv6: NetAddress[];
}

export interface DefaultAddress extends NetAddress {
  interface: string;
  gateway?: string;
  mac?: string;
}

export interface NetworkFacts {
  interfaces: NetInterface[];
  defaultIpv4?: DefaultAddress;
  defaultIpv6?: DefaultAddress;
}

export function parseNetwork(
  route4: string[],
  route6: string[],
  addrLines: string[],
  linkLines: string[],
): NetworkFacts {
  const interfaces = parseInterfaces(addrLines, linkLines);
  const defaultIpv4 = defaultAddress(route4, interfaces, 'ipv4');
  const defaultIpv6 = defaultAddress(route6, interfaces, 'ipv6');
  return { interfaces, ...(defaultIpv4 ? { defaultIpv4 } : {}), ...(defaultIpv6 ? { defaultIpv6 } : {}) };
}

/** `2: eth0@if8: <...> ... link/ether ba:90:...` and `2: eth0    inet 10.0.0.2/24 brd ... scope global eth0\ ...`. */
function parseInterfaces(addrLines: string[], linkLines: string[]): NetInterface[] {
  const byName = new Map<string, NetInterface>();
  const get = (name: string): NetInterface => getOrAdd(byName, name, () => ({ name, ipv4: [], ipv6: [] }));
  for (const line of linkLines) {
    const match = /^\d+:\s+([^:@\s]+)(?:@\S+)?:.*?link\/\S+\s+([0-9a-f:]{17})/.exec(line);
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    if (!name) continue;
    const iface = get(name);
    if (match && match[2] !== '00:00:00:00:00:00') iface.mac = match[2];
  }
  for (const line of addrLines) {
    const match = /^\d+:\s+([^:@\s]+)(?:@\S+)?:?\s+(inet6?)\s+([0-9a-fA-F.:]+)\/(\d+)/.exec(line);
    if (!match) continue;
    const [, name, family, address, prefix] = match as unknown as [string, string, string, string, string];
    const scope = /\sscope\s+(\S+)/.exec(line)?.[1] ?? '';
    const addr: NetAddress = { address, prefix: Number(prefix), scope };
    if (family === 'inet') get(name).ipv4.push({ ...addr, ...ipv4Network(address, Number(prefix)) });
    else get(name).ipv6.push(addr);
  }
  return [...byName.values()];
}

function defaultAddress(
  routes: string[],
  interfaces: NetInterface[],
  family: 'ipv4' | 'ipv6',
): DefaultAddress | undefined {
  const route = routes
    .map(parseRoute)
    .filter((r) => r.dev)
    .sort((a, b) => a.metric - b.metric)[0];
  const iface = route ? interfaces.find((i) => i.name === route.dev) : undefined;
  if (iface && route) {
    const addr =
      iface[family].find((a) => a.address === route.src) ??
      iface[family].find((a) => a.scope === 'global') ??
      iface[family][0];
    if (addr) return withInterface(addr, iface, route.via);
  }
  // No default route: the first global address is how the others reach this host.
  for (const i of interfaces) {
    const addr = i[family].find((a) => a.scope === 'global');
    if (addr) return withInterface(addr, i, undefined);
  }
  return undefined;
}

function withInterface(addr: NetAddress, iface: NetInterface, gateway: string | undefined): DefaultAddress {
  return { ...addr, interface: iface.name, ...(gateway ? { gateway } : {}), ...(iface.mac ? { mac: iface.mac } : {}) };
}

/** `default via 10.0.0.1 dev eth0 proto dhcp src 10.0.0.5 metric 100`. */
function parseRoute(line: string): { dev?: string; via?: string; src?: string; metric: number } {
  const word = (key: string) => new RegExp(`\\s${key}\\s+(\\S+)`).exec(` ${line}`)?.[1];
  const dev = word('dev');
  const via = word('via');
  const src = word('src');
  return {
    ...(dev ? { dev } : {}),
    ...(via ? { via } : {}),
    ...(src ? { src } : {}),
    metric: Number(word('metric') ?? 0),
  };
}

function ipv4Network(address: string, prefix: number): { netmask?: string; network?: string } {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255)) || prefix < 0 || prefix > 32) return {};
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const value = parts.reduce((acc, p) => ((acc << 8) | p) >>> 0, 0);
  const dotted = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
  return { netmask: dotted(mask), network: dotted((value & mask) >>> 0) };
}
