import type { SourcePlace } from '../errors.js';

/** Hosts, groups and their vars, as read from an Ansible-style inventory (INI, YAML or a folder of them). */
export interface Inventory {
  /** The path the inventory was loaded from (file or folder), as given. */
  source: string;
  /** Every host, in the order the inventory first names it. */
  hosts: Map<string, InventoryHost>;
  /** Every group; `all` and `ungrouped` always exist. */
  groups: Map<string, InventoryGroup>;
}

export interface InventoryHost {
  name: string;
  /** The host's own vars: inventory line or YAML entry, then host_vars/ files on top. */
  vars: Record<string, unknown>;
  /** Groups that list the host directly (not through children), in inventory order. */
  groups: string[];
  /** Where the host is first named (absent for hosts made up in code). */
  place?: SourcePlace;
}

export interface InventoryGroup {
  name: string;
  /** Hosts listed directly in this group, in the order listed. */
  hosts: string[];
  /** Direct child groups, in the order listed. */
  children: string[];
  /** Direct parent groups; every group but `all` has at least `all`. */
  parents: string[];
  /** Vars set in the inventory itself (`[g:vars]`, YAML `vars:`). */
  vars: Record<string, unknown>;
  /**
   * Vars from group_vars/ files. Kept apart from `vars` because Ansible ranks every group_vars
   * file above every inventory-file group var (see docs/inventory.md).
   */
  fileVars: Record<string, unknown>;
  /** Where the group is first named (absent for `all` and `ungrouped`). */
  place?: SourcePlace;
}
