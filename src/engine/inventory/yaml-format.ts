import { isMap, isScalar, type Node, type Pair } from 'yaml';
import { InputError } from '../errors.js';
import type { InventoryBuilder } from './builder.js';
import { expandHostRanges, splitHostPort } from './host-address.js';
import { describeNode, isEmptyNode, keyText, placeOf, resolveNode, toPlain, type YamlSource } from './yaml-source.js';

/** True when the YAML is shaped like an inventory: a mapping whose values are all groups (mappings or empty). */
export function looksLikeYamlInventory(source: YamlSource): boolean {
  const root = resolveNode(source, source.doc.contents);
  if (!isMap(root)) return false;
  return root.items.every((pair) => {
    const value = resolveNode(source, pair.value);
    return isMap(value) || isEmptyNode(value);
  });
}

/** Reads Ansible's native YAML inventory: top-level groups, each with hosts, vars and children. */
export function parseYamlInventory(source: YamlSource, inventory: InventoryBuilder): void {
  const root = resolveNode(source, source.doc.contents);
  if (isEmptyNode(root)) return;
  if (!isMap(root)) {
    throw new InputError(
      placeOf(source, root as Node),
      `a YAML inventory must be a mapping of groups, found ${describeNode(root)}`,
      'start with a group, e.g.\nall:\n  hosts:\n    node1:\n      ansible_host: 10.0.0.1',
    );
  }
  const plugin = root.items.find((pair) => keyText(source, pair.key) === 'plugin' && isScalar(pair.value));
  if (plugin) {
    throw new InputError(
      placeOf(source, plugin.key as Node),
      'inventory plugin configs (plugin:) are not supported',
      'save the hosts the plugin finds as a YAML inventory (ansible-inventory -i this-file --list --yaml > hosts.yml)',
    );
  }
  for (const pair of root.items)
    parseGroup(source, inventory, nameOf(source, pair, 'group'), pair.value, pair.key as Node);
}

function parseGroup(source: YamlSource, inventory: InventoryBuilder, name: string, body: unknown, at: Node): void {
  const node = resolveNode(source, body);
  const place = placeOf(source, at);
  inventory.declareGroup(name, place);
  if (isEmptyNode(node)) return;
  if (!isMap(node)) {
    throw new InputError(
      place,
      `group '${name}' must be a mapping with hosts, vars or children, found ${describeNode(node)}`,
      `write '${name}:' followed by indented 'hosts:', 'vars:' or 'children:'`,
    );
  }
  for (const pair of node.items) {
    const key = nameOf(source, pair, 'key');
    const value = resolveNode(source, pair.value);
    if (key === 'hosts') parseHosts(source, inventory, name, value);
    else if (key === 'vars') parseGroupVars(source, inventory, name, value);
    else if (key === 'children') parseChildren(source, inventory, name, value);
    else {
      throw new InputError(
        placeOf(source, pair.key as Node),
        `unknown key '${key}' in group '${name}'`,
        `a group holds only 'hosts', 'vars' and 'children'; to make '${key}' a child group, put it under 'children:'`,
      );
    }
  }
}

function parseHosts(source: YamlSource, inventory: InventoryBuilder, group: string, node: unknown): void {
  // Ansible accepts a single host name as a string: `hosts: node1`.
  if (isScalar(node) && typeof node.value === 'string')
    return addHost(source, inventory, group, node.value, null, node);
  for (const pair of mappingItems(
    source,
    node,
    `'hosts' of group '${group}'`,
    'write each host as `name:` on its own line under hosts:',
  )) {
    addHost(source, inventory, group, nameOf(source, pair, 'host'), resolveNode(source, pair.value), pair.key as Node);
  }
}

function addHost(
  source: YamlSource,
  inventory: InventoryBuilder,
  group: string,
  entry: string,
  varsNode: unknown,
  at: Node,
): void {
  const place = placeOf(source, at);
  if (!isEmptyNode(varsNode) && !isMap(varsNode)) {
    throw new InputError(
      placeOf(source, varsNode as Node),
      `vars of host '${entry}' must be a mapping, found ${describeNode(varsNode)}`,
      'write the host vars as indented key: value lines under the host',
    );
  }
  const vars = isMap(varsNode) ? (toPlain(source, varsNode) as Record<string, unknown>) : {};
  const { name, port } = splitHostPort(entry);
  for (const hostName of expandHostRanges(name, place)) {
    const host = inventory.addHost(hostName, group, place);
    if (port !== undefined) host.vars.ansible_port = port;
    Object.assign(host.vars, vars);
  }
}

function parseGroupVars(source: YamlSource, inventory: InventoryBuilder, group: string, node: unknown): void {
  const items = mappingItems(source, node, `'vars' of group '${group}'`, 'write the vars as indented key: value lines');
  const target = inventory.ensureGroup(group).vars;
  for (const pair of items) target[nameOf(source, pair, 'var')] = toPlain(source, pair.value);
}

function parseChildren(source: YamlSource, inventory: InventoryBuilder, group: string, node: unknown): void {
  if (isScalar(node) && typeof node.value === 'string') {
    parseGroup(source, inventory, node.value, null, node);
    return inventory.addChild(group, node.value, placeOf(source, node));
  }
  for (const pair of mappingItems(
    source,
    node,
    `'children' of group '${group}'`,
    'write each child group as `name:` under children:',
  )) {
    const child = nameOf(source, pair, 'group');
    parseGroup(source, inventory, child, pair.value, pair.key as Node);
    inventory.addChild(group, child, placeOf(source, pair.key as Node));
  }
}

/** The pairs of a mapping section; an empty section has none, anything else is an error. */
function mappingItems(source: YamlSource, node: unknown, what: string, fix: string): Pair[] {
  if (isEmptyNode(node)) return [];
  if (!isMap(node))
    throw new InputError(placeOf(source, node as Node), `${what} must be a mapping, found ${describeNode(node)}`, fix);
  return node.items;
}

function nameOf(source: YamlSource, pair: Pair, what: string): string {
  const name = keyText(source, pair.key);
  if (name === undefined || name === '') {
    throw new InputError(
      placeOf(source, pair.key as Node),
      `expected a ${what} name as the key`,
      `give the ${what} a plain name`,
    );
  }
  return name;
}
