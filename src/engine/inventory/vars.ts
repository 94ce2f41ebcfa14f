import { InputError } from '../errors.js';
import { groupsInPrecedenceOrder, groupsOfHost, hostsOfGroup } from './group-tree.js';
import type { Inventory } from './types.js';

/**
 * The vars a host sees from the inventory, merged with Ansible's precedence (lowest first):
 * inventory-file group vars (all, then groups by depth, priority, name), group_vars/ files in the
 * same group order, then the host's own vars (inventory line, then host_vars/ files). Later
 * values replace earlier ones whole (no deep merge, Ansible's default). Adds the magic vars
 * inventory_hostname, inventory_hostname_short and group_names. The result is a fresh copy.
 */
export function hostVars(inventory: Inventory, hostName: string): Record<string, unknown> {
  const host = inventory.hosts.get(hostName);
  if (!host) {
    throw new InputError(
      undefined,
      `unknown host '${hostName}' in inventory ${inventory.source}`,
      'use a host name exactly as the inventory writes it',
    );
  }
  const memberOf = groupsOfHost(inventory, hostName);
  const groups = groupsInPrecedenceOrder(inventory, memberOf);
  const merged: Record<string, unknown> = {};
  for (const group of groups) Object.assign(merged, group.vars);
  for (const group of groups) Object.assign(merged, group.fileVars);
  Object.assign(merged, host.vars);
  merged.inventory_hostname = host.name;
  merged.inventory_hostname_short = host.name.split('.')[0];
  merged.group_names = [...memberOf].filter((name) => name !== 'all').sort();
  return structuredClone(merged);
}

/** Ansible's `groups` magic var: every group with all its hosts, children's hosts included. */
export function groupsMap(inventory: Inventory): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (const name of inventory.groups.keys()) map[name] = hostsOfGroup(inventory, name);
  return map;
}
