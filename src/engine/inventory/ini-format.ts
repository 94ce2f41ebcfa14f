import { InputError, type SourcePlace } from '../errors.js';
import type { InventoryBuilder } from './builder.js';
import { expandHostRanges, isIPv6, splitHostPort } from './host-address.js';
import { parseIniValue } from './python-literal.js';
import { splitShellWords } from './shell-words.js';

// The same shapes Ansible's INI plugin accepts: [name] or [name:kind], a trailing # comment allowed.
const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const CHILD_GROUP = /^([^:\]\s]+)\s*(?:#.*)?$/;
const SECTION_KINDS = ['hosts', 'vars', 'children'] as const;
type SectionKind = (typeof SECTION_KINDS)[number];

/** A group named where it must exist by the end of the file ([g:vars], or a child in [p:children]). */
interface Reference {
  group: string;
  place: SourcePlace;
  problem: string;
}

/** Reads an Ansible INI inventory (kubeasz `hosts` files are these) into the builder. */
export function parseIniInventory(text: string, file: string, inventory: InventoryBuilder): void {
  let group = 'ungrouped'; // hosts before any section are ungrouped, as in Ansible
  let kind: SectionKind = 'hosts';
  const references: Reference[] = [];
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const place: SourcePlace = { file, line: index + 1 };
    const section = SECTION.exec(line);
    if (section) {
      group = section[1];
      kind = sectionKind(section[2], line, place);
      if (kind === 'vars') {
        inventory.ensureGroup(group, place);
        references.push({ group, place, problem: `[${group}:vars] is for group '${group}', which is not defined` });
      } else {
        inventory.declareGroup(group, place);
      }
      return;
    }
    if (line.startsWith('[') && line.endsWith(']') && !isIPv6(line.slice(1, -1))) {
      throw new InputError(
        place,
        `invalid section header '${line}'`,
        "write [name], [name:vars] or [name:children]; group names have no spaces and no ':'",
      );
    }
    if (kind === 'hosts') addHostLine(line, group, place, inventory);
    else if (kind === 'vars') setVarLine(line, group, place, inventory);
    else {
      const child = CHILD_GROUP.exec(line);
      if (!child) {
        throw new InputError(
          place,
          `expected a group name in [${group}:children], got '${line}'`,
          'list one child group name per line',
        );
      }
      inventory.addChild(group, child[1], place);
      references.push({
        group: child[1],
        place,
        problem: `[${group}:children] includes undefined group '${child[1]}'`,
      });
    }
  });
  const undefinedGroup = references.find((ref) => !inventory.isDeclared(ref.group));
  if (undefinedGroup) {
    throw new InputError(
      undefinedGroup.place,
      undefinedGroup.problem,
      `define it with a [${undefinedGroup.group}] or [${undefinedGroup.group}:children] section (it may come later ` +
        `in the file), or fix the name`,
    );
  }
}

function sectionKind(tag: string | undefined, line: string, place: SourcePlace): SectionKind {
  const kind = tag ?? 'hosts';
  if (!(SECTION_KINDS as readonly string[]).includes(kind)) {
    throw new InputError(
      place,
      `unknown section type '${kind}' in ${line}`,
      'use [group] for hosts, [group:vars] for variables or [group:children] for child groups',
    );
  }
  return kind as SectionKind;
}

/** `name[:port] key=value ...`; the name may hold ranges, values are read like Ansible does. */
function addHostLine(line: string, group: string, place: SourcePlace, inventory: InventoryBuilder): void {
  let words: string[];
  try {
    words = splitShellWords(line);
  } catch (err) {
    throw new InputError(
      place,
      `cannot read host line: ${(err as Error).message}`,
      'close every quote; quote values that contain spaces, e.g. key="a b"',
    );
  }
  if (words.length === 0) return;
  const [entry, ...assignments] = words;
  if (entry === '') throw new InputError(place, 'empty host name', 'start the line with the host name or address');
  const vars: Record<string, unknown> = {};
  for (const assignment of assignments) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) {
      throw new InputError(
        place,
        `expected key=value after host '${entry}', got '${assignment}'`,
        'host vars are written key=value; quote values that contain spaces, e.g. key="a b"',
      );
    }
    vars[assignment.slice(0, eq)] = parseIniValue(assignment.slice(eq + 1));
  }
  const { name, port } = splitHostPort(entry);
  for (const hostName of expandHostRanges(name, place)) {
    const host = inventory.addHost(hostName, group, place);
    if (port !== undefined) host.vars.ansible_port = port;
    Object.assign(host.vars, vars);
  }
}

/** In a [g:vars] section everything after the first '=' is the value. */
function setVarLine(line: string, group: string, place: SourcePlace, inventory: InventoryBuilder): void {
  const eq = line.indexOf('=');
  const key = line.slice(0, eq).trim();
  if (eq < 0 || key === '') {
    throw new InputError(
      place,
      `expected key=value in [${group}:vars], got '${line}'`,
      'write one variable per line as key=value',
    );
  }
  inventory.ensureGroup(group).vars[key] = parseIniValue(line.slice(eq + 1).trim());
}
