import { InputError, type SourcePlace } from '../errors.js';
import type { Inventory, InventoryGroup, InventoryHost } from './types.js';

/**
 * Collects hosts, groups and vars while inventory sources are parsed, then settles `all` and
 * `ungrouped` the way Ansible's reconcile step does. The format parsers only call this.
 */
export class InventoryBuilder {
  readonly hosts = new Map<string, InventoryHost>();
  readonly groups = new Map<string, InventoryGroup>();
  /** Groups given a body somewhere ([g], [g:children], YAML); only named as a child or in [g:vars] is not enough. */
  private readonly declared = new Set<string>(['all', 'ungrouped']);

  constructor(private readonly source: string) {
    this.ensureGroup('all');
    this.addChild('all', 'ungrouped');
  }

  ensureGroup(name: string, place?: SourcePlace): InventoryGroup {
    let group = this.groups.get(name);
    if (!group) {
      group = { name, hosts: [], children: [], parents: [], vars: {}, fileVars: {}, place };
      this.groups.set(name, group);
    }
    return group;
  }

  declareGroup(name: string, place?: SourcePlace): InventoryGroup {
    this.declared.add(name);
    return this.ensureGroup(name, place);
  }

  isDeclared(name: string): boolean {
    return this.declared.has(name);
  }

  /** Adds the host if new and lists it in `groupName` (once). */
  addHost(name: string, groupName: string, place?: SourcePlace): InventoryHost {
    let host = this.hosts.get(name);
    if (!host) {
      host = { name, vars: {}, groups: [], place };
      this.hosts.set(name, host);
    }
    const group = this.ensureGroup(groupName, place);
    if (!group.hosts.includes(name)) group.hosts.push(name);
    if (!host.groups.includes(groupName)) host.groups.push(groupName);
    return host;
  }

  /** Makes `child` a child of `parent`, refusing loops (Ansible refuses them too). */
  addChild(parentName: string, childName: string, place?: SourcePlace): void {
    if (childName === 'all') {
      throw new InputError(
        place,
        `group 'all' cannot be a child of '${parentName}'`,
        `'all' already contains every group; remove it from the children of '${parentName}'`,
      );
    }
    const parent = this.ensureGroup(parentName, place);
    const child = this.ensureGroup(childName, place);
    if (parent.children.includes(childName)) return;
    const loop = this.pathDown(childName, parentName);
    if (loop) {
      throw new InputError(
        place,
        `group loop: ${[parentName, ...loop].join(' -> ')}`,
        `a group cannot contain itself through its ` +
          `children; remove '${childName}' from the children of '${parentName}'`,
      );
    }
    parent.children.push(childName);
    child.parents.push(parentName);
  }

  /** The chain of child links from `from` down to `to`, or undefined if there is none. */
  private pathDown(from: string, to: string, seen = new Set<string>()): string[] | undefined {
    if (from === to) return [from];
    if (seen.has(from)) return undefined;
    seen.add(from);
    for (const child of this.groups.get(from)?.children ?? []) {
      const rest = this.pathDown(child, to, seen);
      if (rest) return [from, ...rest];
    }
    return undefined;
  }

  /** Settles the implicit groups and hands out the finished inventory. */
  build(): Inventory {
    for (const group of this.groups.values()) {
      if (group.name !== 'all' && group.parents.length === 0) this.addChild('all', group.name);
    }
    const ungrouped = this.ensureGroup('ungrouped');
    for (const host of this.hosts.values()) {
      const real = host.groups.filter((name) => name !== 'all' && name !== 'ungrouped');
      if (real.length > 0 && host.groups.includes('ungrouped')) {
        // Listed before any section and again in a group: Ansible drops it from ungrouped.
        host.groups = host.groups.filter((name) => name !== 'ungrouped');
        ungrouped.hosts = ungrouped.hosts.filter((name) => name !== host.name);
      } else if (real.length === 0 && !host.groups.includes('ungrouped')) {
        host.groups.push('ungrouped');
        ungrouped.hosts.push(host.name);
      }
    }
    return { source: this.source, hosts: this.hosts, groups: this.groups };
  }
}
