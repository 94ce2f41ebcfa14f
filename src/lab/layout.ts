import { createHash } from 'node:crypto';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { LAB_STATE_ROOT } from './rootfs.js';

/**
 * Every name a lab uses on the machine derives from the lab's name, so a later run (even one that
 * lost its state file) can find and remove exactly what an earlier one made, and nothing else.
 */
export interface LabLayout {
  name: string;
  /** Machine-wide state: overlays, state.json, logs. */
  dir: string;
  bridge: string;
  /** First three octets of the lab's /24, e.g. '10.213.42': from the name's hash, or the next free one. */
  net: string;
  gateway: string;
  netnsPrefix: string;
  vethPrefix: string;
}

const NAME_RE = /^[a-z][a-z0-9-]{0,19}$/;

export function labLayout(name: string): LabLayout {
  if (!NAME_RE.test(name)) {
    throw new InputError(
      undefined,
      `invalid lab name '${name}'`,
      'use 1-20 characters: lowercase letters, digits and dashes, starting with a letter',
    );
  }
  const id = createHash('sha256').update(name).digest('hex').slice(0, 6);
  // The third octet spreads labs over 10.213.0.0/16; interface names stay within Linux's 15 characters.
  const net = `10.213.${parseInt(id.slice(0, 2), 16)}`;
  return {
    name,
    dir: path.join(LAB_STATE_ROOT, 'labs', name),
    bridge: `fwb-${id}`,
    net,
    gateway: `${net}.1`,
    netnsPrefix: `furrow-${name}-`,
    vethPrefix: `fwv${id}-`,
  };
}

/** The same lab on another /24 (when the one its name hashes to is taken). */
export function withNet(lab: LabLayout, net: string): LabLayout {
  return { ...lab, net, gateway: `${net}.1` };
}

/**
 * The lab's IPv6 /64 (for `lab up --ipv6`): a unique local prefix that mirrors its /24, the third octet's digits as
 * the third group (10.213.61.0/24 → fd46:7572:61::/64), so a host's two addresses end alike (10.213.61.11 and
 * fd46:7572:61::11).
 */
export function ipv6Prefix(net: string): string {
  return `fd46:7572:${net.split('.')[2]}::`;
}

export function ipv6Gateway(net: string): string {
  return `${ipv6Prefix(net)}1`;
}

export interface LabHostLayout {
  name: string;
  index: number;
  address: string;
  /** Its address in the lab's IPv6 /64, used when the lab is up with --ipv6. */
  address6: string;
  netns: string;
  veth: string;
  dir: string;
}

export const MAX_LAB_HOSTS = 200;

export function hostLayout(lab: LabLayout, index: number): LabHostLayout {
  const name = `h${index}`;
  return {
    name,
    index,
    address: `${lab.net}.${10 + index}`,
    address6: `${ipv6Prefix(lab.net)}${10 + index}`,
    netns: `${lab.netnsPrefix}${name}`,
    veth: `${lab.vethPrefix}${index}`,
    dir: path.join(lab.dir, 'hosts', name),
  };
}

/** Where `lab up` writes the inventory and key for the user: .furrow/lab, or .furrow/lab-NAME. */
export function labClientDir(cwd: string, name: string): string {
  return path.join(cwd, '.furrow', name === 'default' ? 'lab' : `lab-${name}`);
}

/** kubeasz's groups, filled so later roles deploy on the lab without editing the inventory. */
export function labGroups(hosts: string[]): Record<string, string[]> {
  const etcdCount = hosts.length >= 3 ? 3 : 1;
  return {
    etcd: hosts.slice(0, etcdCount),
    kube_master: hosts.slice(0, hosts.length >= 4 ? 2 : 1),
    kube_node: [...hosts],
    chrony: hosts.slice(0, 1),
  };
}
