import { InputError } from '../errors.js';
import type { AnyModule } from '../module.js';
import { MODULE_ONLY, ownKeywords, record, str, TASK_KEYWORD_NAMES, type At, type OwnKeywords } from './keywords.js';
import { moduleParams } from './module-params.js';
import type { ModuleRegistry } from '../module.js';
import { ACTION_KEYS } from './playbook-schema.js';
import { didYouMean } from './problems.js';
import type { Place } from './types.js';

/**
 * One task mapping as written, split into its action (a module, a block, an include or import,
 * meta, or a bare cross-host wait) and its own keywords. Inheritance and expansion happen later
 * (expand.ts); the structure was already checked by the schema, so reading here is lenient.
 */

export type TaskAction =
  | { kind: 'module'; module: AnyModule; params: Record<string, unknown> }
  | { kind: 'block'; block: unknown[]; rescue: unknown[]; always: unknown[] }
  | { kind: 'include'; key: 'include_tasks' | 'import_tasks'; file: string; apply: Record<string, unknown> }
  | {
      kind: 'role';
      key: 'import_role' | 'include_role';
      name: string;
      tasksFrom?: string;
      handlersFrom?: string;
      vars: Record<string, unknown>;
    }
  | { kind: 'meta'; action: string }
  | { kind: 'wait' };

export interface TaskSpec {
  action: TaskAction;
  own: OwnKeywords;
  /** Key of the action in the mapping (for error places), '' for a bare wait. */
  actionKey: string;
  place: Place;
  at: At;
}

/** Ansible's collection prefixes name the same builtins here. */
export function shortName(key: string): string {
  return key.replace(/^ansible\.(builtin|legacy)\./, '');
}

export function parseTask(raw: unknown, at: At, modules: ModuleRegistry): { spec?: TaskSpec; errors: InputError[] } {
  const place = at.source.place(at.path);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { errors: [] }; // the schema said so
  const task = raw as Record<string, unknown>;
  const found = findAction(task, at, modules);
  if (!found.key && found.errors.length > 0) return { errors: found.errors };
  const errors = [...found.errors, ...misplacedKeys(task, found.key, at)];
  const own = ownKeywords(task, at, errors);
  const action = readAction(task, found.key, at, modules, errors);
  if (!action) return { errors };
  return { spec: { action, own, actionKey: found.key ?? '', place, at }, errors };
}

function findAction(
  task: Record<string, unknown>,
  at: At,
  modules: ModuleRegistry,
): { key?: string; errors: InputError[] } {
  const errors: InputError[] = [];
  const candidates = Object.keys(task).filter((k) => !TASK_KEYWORD_NAMES.has(k));
  const actions = candidates.filter((k) => ACTION_KEYS.has(shortName(k)) || modules.findModule(shortName(k)));
  for (const key of candidates.filter((k) => !actions.includes(k))) errors.push(unknownKey(key, at, modules));
  if (actions.length > 1) {
    const problem =
      `a task takes one module, this one has ${actions.length}: ` + `${actions.map((a) => `'${a}'`).join(', ')}`;
    errors.push(
      new InputError(at.source.place([...at.path, actions[1]], 'key'), problem, 'split it into one task per module'),
    );
  }
  if (actions.length === 0 && candidates.length === 0 && task.wait_for_hosts === undefined) {
    const names = modules.moduleNames();
    const hint =
      names.length === 0 ? '' : ` (modules: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''})`;
    errors.push(
      new InputError(at.source.place(at.path), 'the task has no module', `add one module key with its params${hint}`),
    );
  }
  return { key: actions.length === 1 ? actions[0] : undefined, errors };
}

function unknownKey(key: string, at: At, modules: ModuleRegistry): InputError {
  const place = at.source.place([...at.path, key], 'key');
  if (key.startsWith('with_'))
    return new InputError(place, `'${key}' is not supported`, "use 'loop' (with_items is accepted as its alias)");
  const suggestion = didYouMean(key, [...modules.moduleNames(), ...TASK_KEYWORD_NAMES, ...ACTION_KEYS]);
  return new InputError(
    place,
    `unknown module or task key '${key}'`,
    suggestion ?? 'check the name against the module reference (docs/modules.md)',
  );
}

function misplacedKeys(task: Record<string, unknown>, actionKey: string | undefined, at: At): InputError[] {
  const kind =
    actionKey === undefined ? (task.wait_for_hosts !== undefined ? 'wait_for_hosts' : undefined) : shortName(actionKey);
  const errors: InputError[] = [];
  const isModule = kind !== undefined && !ACTION_KEYS.has(kind) && kind !== 'wait_for_hosts';
  if (kind !== 'block') {
    for (const key of ['rescue', 'always'])
      if (key in task)
        errors.push(
          new InputError(
            at.source.place([...at.path, key], 'key'),
            `'${key}' belongs to a block`,
            'put it beside a block: list',
          ),
        );
  }
  if (kind === undefined || isModule) return errors;
  for (const key of MODULE_ONLY) {
    if (!(key in task)) continue;
    const fix =
      kind === 'include_tasks' && key === 'loop'
        ? 'loops over includes are not supported yet: put the loop on the included tasks'
        : `move '${key}' onto the tasks themselves`;
    errors.push(
      new InputError(at.source.place([...at.path, key], 'key'), `'${key}' cannot be used with '${kind}'`, fix),
    );
  }
  return errors;
}

function readAction(
  task: Record<string, unknown>,
  key: string | undefined,
  at: At,
  modules: ModuleRegistry,
  errors: InputError[],
): TaskAction | undefined {
  if (key === undefined) return task.wait_for_hosts !== undefined ? { kind: 'wait' } : undefined;
  const value = task[key];
  const kind = shortName(key);
  switch (kind) {
    case 'block':
      return { kind: 'block', block: list(value), rescue: list(task.rescue), always: list(task.always) };
    case 'include_tasks':
    case 'import_tasks': {
      const spec = typeof value === 'string' ? { file: value } : record(value);
      return { kind: 'include', key: kind, file: str(spec.file) ?? '', apply: record(spec.apply) };
    }
    case 'import_role':
    case 'include_role': {
      const spec = record(value);
      return {
        kind: 'role',
        key: kind,
        name: str(spec.name) ?? '',
        tasksFrom: str(spec.tasks_from),
        handlersFrom: str(spec.handlers_from),
        vars: record(spec.vars),
      };
    }
    case 'meta':
      return { kind: 'meta', action: str(value) ?? '' };
    default: {
      const mod = modules.findModule(kind)!;
      const args = task.args === undefined ? undefined : record(task.args);
      const result = moduleParams({ mod, raw: value, args, source: at.source, path: [...at.path, key] });
      errors.push(...result.errors);
      return { kind: 'module', module: mod, params: result.params };
    }
  }
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
