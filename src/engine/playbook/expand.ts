import { existsSync } from 'node:fs';
import path from 'node:path';
import type { InputError } from '../errors.js';
import { isTemplated, type LoadContext } from './context.js';
import { findRoleDir, mainFile, readRole, roleEntry, type RoleEntry, type RoleFiles } from './roles.js';
import { inherit, ownKeywords, taskKeywords, type At, type InheritedKeywords } from './keywords.js';
import { parseTask, type TaskSpec } from './task-parser.js';
import type { RoleInfo, Task } from './types.js';

/**
 * Static expansion: roles, import_role/include_role, import_tasks and include_tasks with a literal
 * file name become the tasks they name, in place. Blocks stay nodes. Each task gets the keywords
 * it inherits (the Scope) merged into its own, so the planner reads one flat record per task.
 */

/** What enclosing plays, roles, blocks and includes hand down to their tasks (keywords.ts), and where they are. */
export type Scope = InheritedKeywords & {
  role?: RoleInfo;
  playbookDir: string;
  /** Task files and role folders being expanded, outermost first: a repeat is a cycle. */
  chain: string[];
};

/** What one play collects while its tasks are expanded. */
export interface PlayState {
  handlers: Task[];
  roles: RoleInfo[];
  /** Role instances already run (folder + params), for Ansible's once-per-play rule. */
  ran: Set<string>;
  /** Handler files already added (a role run twice has its handlers once). */
  handlerFiles: Set<string>;
}

export interface RoleOptions {
  /** Play roles and dependencies run once per play unless their params differ; imports always run. */
  dedupe: boolean;
  tasksFrom?: string;
  handlersFrom?: string;
}

export class Expander {
  constructor(
    private readonly ctx: LoadContext,
    private readonly play: PlayState,
  ) {}

  async taskList(raw: unknown, at: At, scope: Scope): Promise<Task[]> {
    if (!Array.isArray(raw)) return [];
    const out: Task[] = [];
    for (const [i, item] of raw.entries()) {
      const { spec, errors } = parseTask(item, { source: at.source, path: [...at.path, i] }, this.ctx.modules);
      this.ctx.problems.addAll(errors);
      if (spec) out.push(...(await this.fromSpec(spec, scope)));
    }
    return out;
  }

  private async fromSpec(spec: TaskSpec, scope: Scope): Promise<Task[]> {
    const inner = inherit(scope, spec.own);
    const action = spec.action;
    const keyPath = [...spec.at.path, spec.actionKey];
    switch (action.kind) {
      case 'module':
        return [{ ...this.task(spec, inner, action.module.name, action.params), impl: action.module }];
      case 'meta':
        return [this.task(spec, inner, 'meta', { action: action.action })];
      case 'wait':
        return [this.task(spec, inner, 'wait_for_hosts', {})];
      case 'block': {
        const node = this.task(spec, inner, 'block', {});
        const child = (key: string, list: unknown[]) =>
          this.taskList(list, { source: spec.at.source, path: [...spec.at.path, key] }, inner);
        node.block = {
          tasks: await child(spec.actionKey, action.block),
          rescue: await child('rescue', action.rescue),
          always: await child('always', action.always),
        };
        return [node];
      }
      case 'include': {
        const errors: InputError[] = [];
        const applied = inherit(
          inner,
          ownKeywords(action.apply, { source: spec.at.source, path: [...keyPath, 'apply'] }, errors),
        );
        this.ctx.problems.addAll(errors);
        return this.includeFile(action.key, action.file, { source: spec.at.source, path: keyPath }, applied);
      }
      case 'role': {
        if (isTemplated(action.name))
          return this.dynamic(action.key, { source: spec.at.source, path: [...keyPath, 'name'] });
        const entry: RoleEntry = {
          name: action.name,
          params: action.vars,
          at: { source: spec.at.source, path: [...keyPath, 'name'] },
        };
        return this.role(entry, inner, {
          dedupe: false,
          tasksFrom: action.tasksFrom,
          handlersFrom: action.handlersFrom,
        });
      }
    }
  }

  /** The tasks of a role: its dependencies first, then its own; its handlers go to the play. */
  async role(entry: RoleEntry, scope: Scope, options: RoleOptions): Promise<Task[]> {
    const dir = findRoleDir(entry, scope.playbookDir, this.ctx);
    if (!dir) return [];
    const cycleKey = `role ${entry.name} (${dir})`;
    if (scope.chain.includes(cycleKey)) return this.cycle(entry.at, [...scope.chain, cycleKey]);
    const files = await this.roleFiles(entry.name, dir);
    const instance = `${dir}\0${stableJson(entry.params)}\0${options.tasksFrom ?? ''}`;
    if (options.dedupe && !files.allowDuplicates && this.play.ran.has(instance)) return [];
    this.play.ran.add(instance);
    const info: RoleInfo = { name: files.name, dir, defaults: files.defaults, vars: files.vars, params: entry.params };
    const entryScope = { ...inherit(scope, entry), chain: [...scope.chain, cycleKey] };
    const tasks: Task[] = [];
    for (const dep of files.dependencies) {
      const depEntry = roleEntry(dep.raw, dep.at, this.ctx);
      if (depEntry) tasks.push(...(await this.role(depEntry, entryScope, { dedupe: true })));
    }
    this.play.roles.push(info);
    const roleScope = { ...entryScope, role: info };
    tasks.push(...(await this.roleSection(entry, dir, 'tasks', options.tasksFrom, roleScope)));
    const handlerKey = `${dir}\0${options.handlersFrom ?? ''}`;
    if (!this.play.handlerFiles.has(handlerKey)) {
      this.play.handlerFiles.add(handlerKey);
      this.play.handlers.push(...(await this.roleSection(entry, dir, 'handlers', options.handlersFrom, roleScope)));
    }
    return tasks;
  }

  private async roleSection(
    entry: RoleEntry,
    dir: string,
    section: 'tasks' | 'handlers',
    from: string | undefined,
    scope: Scope,
  ): Promise<Task[]> {
    const file = mainFile(dir, section, from ?? 'main');
    if (!file) {
      if (from !== undefined)
        this.ctx.report(
          entry.at.source.place(entry.at.path),
          `role '${entry.name}' has no ${section}/${from}(.yml|.yaml)`,
          `looked in ${path.join(dir, section)}`,
        );
      return [];
    }
    const source = await this.ctx.source(file, 'taskList');
    return source ? this.taskList(source.data, { source, path: [] }, { ...scope, chain: [...scope.chain, file] }) : [];
  }

  private async roleFiles(name: string, dir: string): Promise<RoleFiles> {
    let found = this.ctx.roleFiles.get(dir);
    if (!found) {
      found = readRole(name, dir, this.ctx);
      this.ctx.roleFiles.set(dir, found);
    }
    return found;
  }

  private async includeFile(key: string, file: string, at: At, scope: Scope): Promise<Task[]> {
    if (isTemplated(file)) return this.dynamic(key, at);
    const candidates = includeCandidates(file, at.source.file, scope);
    const found = candidates.find((f) => existsSync(f));
    if (!found) {
      this.ctx.report(
        at.source.place(at.path),
        `${key}: task file '${file}' not found`,
        `looked in: ${candidates.join(', ')}`,
      );
      return [];
    }
    if (scope.chain.includes(found)) return this.cycle(at, [...scope.chain, found]);
    const source = await this.ctx.source(found, 'taskList');
    return source ? this.taskList(source.data, { source, path: [] }, { ...scope, chain: [...scope.chain, found] }) : [];
  }

  private task(spec: TaskSpec, scope: Scope, module: string, params: Record<string, unknown>): Task {
    return compact({
      ...taskKeywords(scope, spec.own),
      id: this.ctx.taskId(spec.place),
      name: spec.own.name ?? (module === 'meta' ? String(params.action) : module),
      module,
      params,
      role: scope.role,
      playbookDir: scope.playbookDir,
      place: spec.place,
    });
  }

  private dynamic(key: string, at: At): Task[] {
    this.ctx.report(
      at.source.place(at.path),
      `${key} with a templated name: dynamic includes are not supported yet`,
      'name the file or role literally (use when: to choose between static includes)',
    );
    return [];
  }

  private cycle(at: At, chain: string[]): Task[] {
    this.ctx.report(
      at.source.place(at.path),
      `include cycle: ${chain.join(' -> ')}`,
      'remove the include that leads back',
    );
    return [];
  }
}

/** Where an included task file may be: the role's tasks/, beside the including file, beside the playbook. */
function includeCandidates(file: string, includingFile: string, scope: Scope): string[] {
  if (path.isAbsolute(file)) return [file];
  const dirs = [
    ...(scope.role ? [path.join(scope.role.dir, 'tasks')] : []),
    path.dirname(includingFile),
    scope.playbookDir,
  ];
  return [...new Set(dirs.map((d) => path.join(d, file)))];
}

function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

/** JSON with sorted keys: equal params give equal text whatever order they were written in. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
