import type { Inventory, InventoryGroup } from './types.js';

/**
 * Hosts of a group including those of its descendants, the way Ansible lists `groups[name]`:
 * the group's own hosts in listed order, then each child's, level by level, without repeats.
 */
export function hostsOfGroup(inventory: Inventory, groupName: string): string[] {
  const hosts = new Set<string>();
  for (const group of descendants(inventory, groupName)) for (const host of group.hosts) hosts.add(host);
  return [...hosts];
}

/** The group itself, then its children breadth first, each once. */
function descendants(inventory: Inventory, groupName: string): InventoryGroup[] {
  const seen = new Set<string>([groupName]);
  const queue = [groupName];
  const result: InventoryGroup[] = [];
  while (queue.length > 0) {
    const group = inventory.groups.get(queue.shift()!);
    if (!group) continue;
    result.push(group);
    for (const child of group.children) {
      if (!seen.has(child)) {
        seen.add(child);
        queue.push(child);
      }
    }
  }
  return result;
}

/** Every group the host is in: its direct groups and all their ancestors (always `all`). */
export function groupsOfHost(inventory: Inventory, hostName: string): Set<string> {
  const found = new Set<string>();
  const pending = [...(inventory.hosts.get(hostName)?.groups ?? []), 'all'];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (found.has(name)) continue;
    found.add(name);
    pending.push(...(inventory.groups.get(name)?.parents ?? []));
  }
  return found;
}

/**
 * Groups in Ansible's merge order (its sort_groups): by depth below `all` (the longest path),
 * then `ansible_group_priority` (default 1), then name. Later groups override earlier ones.
 */
export function groupsInPrecedenceOrder(inventory: Inventory, names: Iterable<string>): InventoryGroup[] {
  const depths = new Map<string, number>();
  const depthOf = (name: string): number => {
    const known = depths.get(name);
    if (known !== undefined) return known;
    depths.set(name, 0); // builder refuses loops; this only guards the recursion
    const parents = inventory.groups.get(name)?.parents ?? [];
    const depth = parents.length === 0 ? 0 : Math.max(...parents.map((parent) => depthOf(parent) + 1));
    depths.set(name, depth);
    return depth;
  };
  const keyed = [...names].flatMap((name) => {
    const group = inventory.groups.get(name);
    return group ? [{ group, depth: depthOf(name), priority: priorityOf(group) }] : [];
  });
  keyed.sort(
    (a, b) =>
      a.depth - b.depth ||
      a.priority - b.priority ||
      (a.group.name < b.group.name ? -1 : a.group.name > b.group.name ? 1 : 0),
  );
  return keyed.map((entry) => entry.group);
}

function priorityOf(group: InventoryGroup): number {
  const priority = Number(group.vars.ansible_group_priority ?? 1);
  return Number.isFinite(priority) ? priority : 1;
}
