import path from 'node:path';
import { InputError } from '../errors.js';
import type { ModuleRegistry } from '../module.js';
import { Problems } from './problems.js';
import { checkStructure, type SchemaPart } from './schema.js';
import type { RoleFiles } from './roles.js';
import { record } from './keywords.js';
import type { Place } from './types.js';
import { YamlSource } from './yaml-source.js';

/**
 * What one `loadPlaybook` call shares across files: the problems found so far (reported
 * together at the end), each input file read and checked once, and stable task ids.
 */
export class LoadContext {
  readonly problems = new Problems();
  private readonly sources = new Map<string, Promise<YamlSource | undefined>>();
  private readonly idCounts = new Map<string, number>();
  /** Role folders read so far (a role used by several plays is read once). */
  readonly roleFiles = new Map<string, Promise<RoleFiles>>();

  constructor(
    readonly modules: ModuleRegistry,
    /** Role folders searched after the playbook's own (the project's roles/). */
    readonly extraRolePaths: string[],
    /** Folder of the top playbook: task ids are relative to it. */
    readonly topDir: string,
  ) {}

  /** A YAML file, parsed and checked against `part` once; undefined if it is broken (already reported). */
  source(file: string, part?: SchemaPart): Promise<YamlSource | undefined> {
    const key = `${file}\0${part ?? ''}`;
    let found = this.sources.get(key);
    if (!found) {
      found = this.readChecked(file, part);
      this.sources.set(key, found);
    }
    return found;
  }

  private async readChecked(file: string, part?: SchemaPart): Promise<YamlSource | undefined> {
    const { source, errors } = await YamlSource.read(file);
    this.problems.addAll(errors);
    if (source && part) this.problems.addAll(checkStructure(source, part));
    return source;
  }

  /** A file of variables (vars_files, defaults/, vars/): a mapping, or nothing if empty. */
  async varsFile(file: string): Promise<Record<string, unknown>> {
    const source = await this.source(file);
    if (!source) return {};
    const data = source.data;
    if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data))) {
      this.problems.add(new InputError(source.place([]), 'expected a mapping of variables (name: value)'));
      return {};
    }
    return record(data);
  }

  /** "file:line" relative to the top playbook; a task reached twice (a role run twice) gets "#2". */
  taskId(place: Place, suffix = ''): string {
    const base = `${path.relative(this.topDir, place.file) || path.basename(place.file)}:${place.line}${suffix}`;
    const count = (this.idCounts.get(base) ?? 0) + 1;
    this.idCounts.set(base, count);
    return count === 1 ? base : `${base}#${count}`;
  }

  report(place: Place, problem: string, fix?: string): void {
    this.problems.add(new InputError(place, problem, fix));
  }
}

/** True when a name still holds a template: such files are only known per host at run time. */
export function isTemplated(name: string): boolean {
  return name.includes('{{') || name.includes('{%');
}
