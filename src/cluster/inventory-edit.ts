import YAML, { isMap, isScalar, type Document } from 'yaml';
import { InputError } from '../engine/errors.js';
import { expandHostRanges, splitHostPort } from '../engine/inventory/host-address.js';

/**
 * Adding a host to a cluster's inventory file and taking one out, as an operator would by hand:
 * every comment, blank line and the order of everything else stay as they were. kubeasz edits its
 * INI `hosts` with sed; this does the same for both of Furrow's formats (INI `hosts` and YAML
 * `inventory.yml`), by their structure.
 */
export type InventoryFormat = 'ini' | 'yaml';

export const inventoryFormatOf = (file: string): InventoryFormat => (/\.ya?ml$/.test(file) ? 'yaml' : 'ini');

export interface HostEntry {
  name: string;
  /** Host variables for its line (ansible_host, k8s_nodename, ...). */
  vars: Record<string, string>;
  /** The groups it joins (kube_node, ...). */
  groups: string[];
}

export function addHost(text: string, format: InventoryFormat, entry: HostEntry, file: string): string {
  return format === 'yaml' ? addYamlHost(text, entry, file) : addIniHost(text, entry);
}

/** Takes the host out of every group (and the file), or, with `groups`, out of those groups alone. */
export function removeHost(
  text: string,
  format: InventoryFormat,
  name: string,
  file: string,
  groups?: readonly string[],
): string {
  return format === 'yaml' ? removeYamlHost(text, name, file, groups) : removeIniHost(text, name, file, groups);
}

function parseYaml(text: string, file: string): Document {
  const doc = YAML.parseDocument(text);
  if (doc.errors.length)
    throw new InputError({ file }, `the inventory does not parse: ${doc.errors[0]!.message}`, 'fix the file first');
  return doc;
}

/** `all.hosts.<name>` with its variables, and `all.children.<group>.hosts.<name>: null` for each group. */
function addYamlHost(text: string, entry: HostEntry, file: string): string {
  const doc = parseYaml(text, file);
  if (!doc.hasIn(['all', 'hosts', entry.name]))
    setMapEntry(doc, ['all', 'hosts'], entry.name, Object.keys(entry.vars).length ? entry.vars : null);
  for (const group of entry.groups) {
    if (!doc.hasIn(['all', 'children', group, 'hosts', entry.name]))
      setMapEntry(doc, ['all', 'children', group, 'hosts'], entry.name, null);
  }
  return doc.toString();
}

/** Sets key in the map at path; an empty value there (`hosts:` with nothing under it) becomes a map. */
function setMapEntry(doc: Document, path: string[], key: string, value: unknown): void {
  const at = doc.getIn(path, true);
  if (at === undefined || (isScalar(at) && (at.value === null || at.value === '')))
    doc.setIn(path, doc.createNode({ [key]: value }));
  else if (isMap(at)) at.set(doc.createNode(key), doc.createNode(value));
  else throw new InputError(undefined, `${path.join('.')} is not a map of hosts`, 'fix the inventory first');
}

/**
 * Takes the host out of `all.hosts` and of every group's `hosts`, at any depth of `children`; with `groups`, out of
 * those groups' `hosts` alone.
 */
function removeYamlHost(text: string, name: string, file: string, groups?: readonly string[]): string {
  const doc = parseYaml(text, file);
  const walk = (path: string[]) => {
    if (!groups || groups.includes(path.at(-1)!)) doc.deleteIn([...path, 'hosts', name]);
    const hosts = doc.getIn([...path, 'hosts'], true);
    // A group left with no hosts keeps an empty map, not a dangling `hosts:`.
    if (isMap(hosts) && hosts.items.length === 0) hosts.flow = true;
    const children = doc.getIn([...path, 'children'], true);
    if (isMap(children))
      for (const item of children.items)
        walk([...path, 'children', String(isScalar(item.key) ? item.key.value : item.key)]);
  };
  walk(['all']);
  return doc.toString();
}

const HEADER = /^\s*\[([^\]]+)\]\s*(?:[#;].*)?$/;
const isHostSection = (section: string | undefined) => section !== undefined && !section.includes(':');
const isContent = (line: string) => line.trim() !== '' && !/^\s*[#;]/.test(line);

/** Quotes a value that the INI line would otherwise split or misread. */
const iniValue = (value: string) => (/^[^\s'"#;=]+$/.test(value) ? value : `'${value.replaceAll("'", "\\'")}'`);

function hostLine(entry: HostEntry): string {
  return [entry.name, ...Object.entries(entry.vars).map(([k, v]) => `${k}=${iniValue(v)}`)].join(' ');
}

/** The first token of a host line: its entry, maybe with a port or a range. */
const entryOf = (line: string) => splitHostPort(line.trim().split(/\s+/)[0]!).name;

/**
 * A line for the host after the last host line of each group's section (a new section at the end when there is none).
 */
function addIniHost(text: string, entry: HostEntry): string {
  const lines = text.split('\n');
  for (const group of entry.groups) {
    let section: string | undefined;
    let lastHost = -1;
    let header = -1;
    let present = false;
    lines.forEach((line, i) => {
      const h = HEADER.exec(line);
      if (h) {
        section = h[1]!.trim();
        if (section === group) header = i;
        return;
      }
      if (section === group && isContent(line)) {
        lastHost = i;
        if (entryOf(line) === entry.name) present = true;
      }
    });
    if (present) continue;
    const line = hostLine(entry);
    if (header < 0) {
      while (lines.length && lines[lines.length - 1] === '') lines.pop();
      lines.push('', `[${group}]`, line, '');
    } else lines.splice((lastHost >= 0 ? lastHost : header) + 1, 0, line);
  }
  return lines.join('\n');
}

/**
 * Drops the host's line from every host section (with `groups`, from those sections alone); a host inside a range
 * (`node[1:3]`) is refused with its line.
 */
function removeIniHost(text: string, name: string, file: string, groups?: readonly string[]): string {
  let section: string | undefined;
  const kept: string[] = [];
  text.split('\n').forEach((line, i) => {
    const h = HEADER.exec(line);
    if (h) section = h[1]!.trim();
    else if (isHostSection(section) && (!groups || groups.includes(section!)) && isContent(line)) {
      const entry = entryOf(line);
      if (entry === name) return;
      if (entry.includes('[') && expandHostRanges(entry, { file, line: i + 1 }).includes(name)) {
        throw new InputError(
          { file, line: i + 1 },
          `${name} is one host of the range ${entry}`,
          'split the range by hand, then run the command again',
        );
      }
    }
    kept.push(line);
  });
  return kept.join('\n');
}
