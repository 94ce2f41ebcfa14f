import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, type Node } from 'yaml';
import { InputError } from '../errors.js';
import type { InventoryBuilder } from './builder.js';
import { describeNode, isEmptyNode, parseYamlSource, placeOf, resolveNode, toPlain } from './yaml-source.js';

// Ansible's YAML_FILENAME_EXTENSIONS, no extension first: `group_vars/etcd` wins over `etcd.yml`.
const VARS_EXTENSIONS = ['', '.yml', '.yaml', '.json'];

/**
 * Loads `group_vars/` and `host_vars/` found in `dir` (Ansible's host_group_vars plugin): for each
 * group and host, `<name>`, `<name>.yml`, `.yaml` or `.json` (the first that exists), where a
 * folder means every vars file in it, in name order, later files winning. Files named after no
 * group or host are ignored, as Ansible ignores them.
 */
export async function loadVarsFolders(dir: string, inventory: InventoryBuilder): Promise<void> {
  const groupVars = join(dir, 'group_vars');
  const hostVars = join(dir, 'host_vars');
  // Checked once, so a big inventory without these folders costs no stat per host.
  if (await isFolder(groupVars)) {
    for (const group of inventory.groups.values())
      Object.assign(group.fileVars, await readEntityVars(groupVars, group.name));
  }
  if (await isFolder(hostVars)) {
    for (const host of inventory.hosts.values()) Object.assign(host.vars, await readEntityVars(hostVars, host.name));
  }
}

async function readEntityVars(folder: string, name: string): Promise<Record<string, unknown>> {
  const vars: Record<string, unknown> = {};
  for (const file of await findVarsFiles(join(folder, name))) Object.assign(vars, await readVarsFile(file));
  return vars;
}

async function isFolder(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

async function findVarsFiles(base: string): Promise<string[]> {
  for (const ext of VARS_EXTENSIONS) {
    const info = await stat(base + ext).catch(() => undefined);
    if (info?.isDirectory()) return listVarsFolder(base + ext);
    if (info?.isFile()) return [base + ext];
  }
  return [];
}

async function listVarsFolder(folder: string): Promise<string[]> {
  const found: string[] = [];
  const entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) => compareNames(a.name, b.name));
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name.endsWith('~')) continue; // hidden files and editor backups
    const ext = /\.[^.]*$/.exec(entry.name)?.[0] ?? '';
    const path = join(folder, entry.name);
    if (entry.isDirectory() && ext === '') found.push(...(await listVarsFolder(path)));
    else if (entry.isFile() && VARS_EXTENSIONS.includes(ext)) found.push(path);
  }
  return found;
}

async function readVarsFile(file: string): Promise<Record<string, unknown>> {
  const source = parseYamlSource(await readFile(file, 'utf8'), file);
  const root = resolveNode(source, source.doc.contents);
  if (isEmptyNode(root)) return {};
  if (!isMap(root)) {
    throw new InputError(
      placeOf(source, root as Node),
      `a vars file must be a mapping of names to values, found ${describeNode(root)}`,
      'write one `name: value` per line',
    );
  }
  return toPlain(source, root) as Record<string, unknown>;
}

/** Name order as Python's sorted() gives it (code points), so the merge order matches Ansible. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
