/**
 * The external load balancer's settings (step 10, kubeasz's ex_lb group): EX_APISERVER_VIP,
 * EX_APISERVER_PORT, LB_ROLE and ROUTER_ID as each ex_lb host sees them (its inventory vars, else
 * config.yml, else the ex-lb role's default), checked before any host is touched.
 */
import { isIPv4 } from 'node:net';
import path from 'node:path';
import { InputError, type SourcePlace } from '../engine/errors.js';
import { hostsOfGroup, hostVars, selectHosts } from '../engine/inventory/index.js';
import type { Inventory } from '../engine/inventory/types.js';
import type { Cluster } from './cluster.js';
import { roleSetting, settingPlace } from './settings.js';

/** The hosts of group ex_lb; none when the group is missing or empty (the step is then a no-op). */
export function exLbHosts(inventory: Inventory): string[] {
  return inventory.groups.has('ex_lb') ? selectHosts(inventory, 'ex_lb') : [];
}

/** A setting as one host's tasks see it, and where it was written (for the error message). */
interface HostSetting {
  value: unknown;
  place: SourcePlace;
}

/** The inventory ranks above config.yml, which ranks above the role's defaults (docs/cluster.md). */
function hostSetting(cluster: Cluster, inventory: Inventory, host: string, key: string): HostSetting {
  const vars = hostVars(inventory, host);
  const config = path.join(cluster.dir, 'config.yml');
  if (key in vars)
    return { value: vars[key], place: inventoryPlace(inventory, host, key, vars[key]) ?? { file: cluster.inventory } };
  if (key in cluster.config) return { value: cluster.config[key], place: settingPlace(config, key) };
  return {
    value: roleSetting(cluster, 'ex-lb', key),
    place: { file: path.join('roles', 'ex-lb', 'defaults', 'main.yml') },
  };
}

/** The host's line when it sets the key itself, else the line of a group of it that sets it to that value. */
function inventoryPlace(inventory: Inventory, host: string, key: string, value: unknown): SourcePlace | undefined {
  const own = inventory.hosts.get(host);
  if (own && key in own.vars) return own.place;
  for (const group of inventory.groups.values()) {
    const set = key in group.vars ? group.vars[key] : key in group.fileVars ? group.fileVars[key] : undefined;
    if (set !== undefined && String(set) === String(value) && hostsOfGroup(inventory, group.name).includes(host))
      return group.place;
  }
  return undefined;
}

/** A value still to be templated on the hosts (`{{ ... }}`) cannot be checked here. */
const templated = (value: unknown) => typeof value === 'string' && value.includes('{{');

/**
 * The VIP that goes into the apiserver certificate: the first ex_lb host's EX_APISERVER_VIP, else
 * config.yml's (a VIP of a load balancer Furrow does not run may be named there alone).
 */
export function exLbVip(cluster: Cluster, inventory: Inventory): string | undefined {
  const first = exLbHosts(inventory)[0];
  const vip = first
    ? hostSetting(cluster, inventory, first, 'EX_APISERVER_VIP').value
    : cluster.config.EX_APISERVER_VIP;
  return typeof vip === 'string' && vip !== '' ? vip : undefined;
}

/** Every address the inventory gives a host (ansible_host, else its name). */
function hostAddresses(inventory: Inventory): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of inventory.hosts.keys()) {
    const address = hostVars(inventory, name).ansible_host;
    out.set(typeof address === 'string' && address !== '' ? address : name, name);
  }
  return out;
}

/** A TCP port: an integer 1-65535, or such a number written as text (INI values are text). */
export function asPort(value: unknown): number | undefined {
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * Bad ex-lb input, found before any host is touched: ex_lb hosts but no masters to forward to,
 * ex_lb hosts without EX_APISERVER_VIP, a VIP
 * that is no IPv4 address or is a host's own address, hosts that disagree on the VIP, the port or
 * ROUTER_ID, an EX_APISERVER_PORT that is no port or is SECURE_PORT on an ex_lb host that also
 * runs kube-lb or an apiserver, LB_ROLE other than master/backup or on more than one host.
 * An empty (or missing) ex_lb group passes: the step does nothing then.
 */
export function checkExLbInput(cluster: Cluster, inventory: Inventory): void {
  const hosts = exLbHosts(inventory);
  if (hosts.length === 0) return;
  if (!inventory.groups.has('kube_master') || selectHosts(inventory, 'kube_master').length === 0) {
    throw new InputError(
      inventory.groups.get('ex_lb')?.place ?? { file: cluster.inventory },
      `group ex_lb has hosts (${hosts.join(', ')}) but kube_master has none: the proxy forwards to the ` +
        `masters' apiservers`,
      'list the masters under [kube_master]',
    );
  }
  const fixVip =
    "set EX_APISERVER_VIP to a free IPv4 address on the ex_lb hosts' network, on each ex_lb host line or in " +
    'config.yml (kubeasz: 192.168.1.250)';
  const addresses = hostAddresses(inventory);
  const first = (key: string) => hostSetting(cluster, inventory, hosts[0]!, key);
  for (const key of ['EX_APISERVER_VIP', 'EX_APISERVER_PORT', 'ROUTER_ID']) {
    const want = first(key);
    for (const host of hosts.slice(1)) {
      const got = hostSetting(cluster, inventory, host, key);
      if (String(got.value) !== String(want.value)) {
        throw new InputError(
          got.place,
          `${key} is ${JSON.stringify(got.value)} on ex_lb host ${host} but ${JSON.stringify(want.value)} on ` +
            `${hosts[0]}: the ex_lb hosts share one VIP, port and VRRP router id`,
          `give ${key} one value for every ex_lb host (in config.yml, or the same on each host line)`,
        );
      }
    }
  }
  const vip = first('EX_APISERVER_VIP');
  if (vip.value === undefined || vip.value === null || vip.value === '') {
    throw new InputError(
      vip.place,
      `group ex_lb has hosts (${hosts.join(', ')}) but no EX_APISERVER_VIP: keepalived needs the virtual ` +
        `address to hold`,
      fixVip,
    );
  }
  if (!templated(vip.value)) {
    if (typeof vip.value !== 'string' || !isIPv4(vip.value)) {
      throw new InputError(vip.place, `EX_APISERVER_VIP ${JSON.stringify(vip.value)} is not an IPv4 address`, fixVip);
    }
    const owner = addresses.get(vip.value);
    if (owner !== undefined) {
      throw new InputError(
        vip.place,
        `EX_APISERVER_VIP ${vip.value} is the address of host ${owner}: the VIP must be an address no host has, ` +
          `which keepalived moves between the ex_lb hosts`,
        fixVip,
      );
    }
  }
  const port = first('EX_APISERVER_PORT');
  if (!templated(port.value)) {
    const n = asPort(port.value);
    if (n === undefined)
      throw new InputError(
        port.place,
        `EX_APISERVER_PORT ${JSON.stringify(port.value)} is not a TCP port (1-65535)`,
        "set EX_APISERVER_PORT to a free port, e.g. 8443 (kubeasz's)",
      );
    for (const host of hosts) {
      const secure = asPort(hostSetting(cluster, inventory, host, 'SECURE_PORT').value) ?? 6443;
      const apiHost = ['kube_master', 'kube_node'].some(
        (g) => inventory.groups.has(g) && selectHosts(inventory, g).includes(host),
      );
      if (apiHost && n === secure) {
        throw new InputError(
          port.place,
          `EX_APISERVER_PORT ${n} on ex_lb host ${host}: that host is also a master or node, where kube-lb and the ` +
            `apiserver hold port ${secure}`,
          "pick another EX_APISERVER_PORT, e.g. 8443 (kubeasz's)",
        );
      }
    }
  }
  const routerId = first('ROUTER_ID');
  if (!templated(routerId.value)) {
    const id = asPort(routerId.value);
    if (id === undefined || id > 255)
      throw new InputError(
        routerId.place,
        `ROUTER_ID ${JSON.stringify(routerId.value)} is not a VRRP router id (1-255)`,
        'set ROUTER_ID to a number from 1 to 255 that no other VRRP group on the network uses (kubeasz: 222)',
      );
  }
  const masters: string[] = [];
  for (const host of hosts) {
    const role = hostSetting(cluster, inventory, host, 'LB_ROLE');
    if (role.value === undefined || role.value === '' || templated(role.value)) continue;
    if (role.value !== 'master' && role.value !== 'backup') {
      throw new InputError(
        role.place,
        `LB_ROLE ${JSON.stringify(role.value)} on ex_lb host ${host}: it is master or backup`,
        'set LB_ROLE=master on the host that should hold the VIP first and LB_ROLE=backup (or nothing) on the others',
      );
    }
    if (role.value === 'master') masters.push(host);
  }
  if (masters.length > 1) {
    const place = inventory.hosts.get(masters[1]!)?.place ?? { file: cluster.inventory };
    throw new InputError(
      place,
      `LB_ROLE=master on ${masters.length} ex_lb hosts (${masters.join(', ')}): one host holds the VIP first`,
      'keep LB_ROLE=master on one ex_lb host and set LB_ROLE=backup on the others',
    );
  }
}
