import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { InputError } from '../errors.js';
import { InventoryBuilder } from './builder.js';
import { parseIniInventory } from './ini-format.js';
import type { Inventory } from './types.js';
import { compareNames, loadVarsFolders } from './vars-files.js';
import { looksLikeYamlInventory, parseYamlInventory } from './yaml-format.js';
import { parseYamlSource, type YamlSource } from './yaml-source.js';

// What Ansible skips in an inventory folder: its vars folders, hidden files and these endings.
const SKIPPED_NAMES = new Set(['group_vars', 'host_vars', 'vars_plugins']);
const SKIPPED_ENDINGS = ['~', '.orig', '.cfg', '.retry', '.pyc', '.pyo', '.swp', '.bak', '.rpm', '.md', '.txt', '.rst'];
const YAML_EXTENSIONS = ['.yml', '.yaml', '.json'];

/**
 * Loads an Ansible-compatible inventory from a file (INI or YAML) or a folder of them, plus the
 * group_vars/ and host_vars/ folders beside the file (or inside the folder).
 */
export async function loadInventory(path: string): Promise<Inventory> {
  const info = await stat(path).catch(() => undefined);
  if (!info) {
    throw new InputError(
      { file: path },
      `inventory '${path}' does not exist`,
      'pass an inventory file (INI like kubeasz hosts, or YAML) or a folder of them',
    );
  }
  const inventory = new InventoryBuilder(path);
  if (info.isDirectory()) {
    const files = await listInventoryFiles(path);
    if (files.length === 0) {
      throw new InputError(
        { file: path },
        'no inventory files in this folder',
        'add a hosts file (INI) or an inventory .yml file',
      );
    }
    for (const file of files) addInventoryFile(await readFile(file, 'utf8'), file, inventory, { inFolder: true });
    await loadVarsFolders(path, inventory);
  } else {
    addInventoryFile(await readFile(path, 'utf8'), path, inventory, { inFolder: false });
    await loadVarsFolders(dirname(path), inventory);
  }
  return inventory.build();
}

/** Parses inventory text on its own (no vars folders); `source` names it in errors and picks the format. */
export function parseInventoryText(text: string, source: string): Inventory {
  const inventory = new InventoryBuilder(source);
  addInventoryFile(text, source, inventory, { inFolder: false });
  return inventory.build();
}

/**
 * Picks the format: .yml/.yaml/.json is YAML; .ini, a file called `hosts` or one whose first
 * line is a [section] is INI; anything else is YAML if it parses as a mapping of groups, else INI.
 * In a folder, a YAML file that is not shaped like an inventory (kubeasz's config.yml, say) is
 * skipped, as Ansible skips sources it cannot parse.
 */
function addInventoryFile(
  text: string,
  file: string,
  inventory: InventoryBuilder,
  { inFolder }: { inFolder: boolean },
): void {
  if (text.startsWith('#!')) {
    throw new InputError(
      { file, line: 1 },
      'dynamic inventory scripts are not supported',
      'save the output of the script as a YAML inventory (ansible-inventory -i script --list --yaml > hosts.yml)',
    );
  }
  const ext = extname(file).toLowerCase();
  if (YAML_EXTENSIONS.includes(ext)) {
    const source = parseYamlSource(text, file);
    if (inFolder && !looksLikeYamlInventory(source)) return;
    return parseYamlInventory(source, inventory);
  }
  if (ext === '.ini' || basename(file) === 'hosts' || firstContentLine(text).startsWith('[')) {
    return parseIniInventory(text, file, inventory);
  }
  const yaml = tryYaml(text, file);
  if (yaml && looksLikeYamlInventory(yaml)) return parseYamlInventory(yaml, inventory);
  parseIniInventory(text, file, inventory);
}

function tryYaml(text: string, file: string): YamlSource | undefined {
  try {
    return parseYamlSource(text, file);
  } catch {
    return undefined; // not YAML: the INI parser gets its turn and reports its own errors
  }
}

function firstContentLine(text: string): string {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line !== '' && !line.startsWith('#') && !line.startsWith(';')) return line;
  }
  return '';
}

/** Every inventory file under `dir`, in name order, folders included, the way Ansible walks it. */
async function listInventoryFiles(dir: string): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => compareNames(a.name, b.name));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.') || SKIPPED_NAMES.has(entry.name)) continue;
    if (SKIPPED_ENDINGS.some((ending) => entry.name.endsWith(ending))) continue;
    const path = join(dir, entry.name);
    // Follow symlinks, as Ansible does: operators often link a shared hosts file in.
    const kind = entry.isSymbolicLink() ? await stat(path).catch(() => undefined) : entry;
    if (kind?.isDirectory()) files.push(...(await listInventoryFiles(path)));
    else if (kind?.isFile()) files.push(path);
  }
  return files;
}
