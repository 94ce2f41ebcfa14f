// The inventory subsystem: Ansible/kubeasz inventories in, hosts, groups and vars out.
export type { Inventory, InventoryGroup, InventoryHost } from './types.js';
export { loadInventory, parseInventoryText } from './load.js';
export { hostVars, groupsMap } from './vars.js';
export { selectHosts } from './select.js';
export { hostsOfGroup } from './group-tree.js';
