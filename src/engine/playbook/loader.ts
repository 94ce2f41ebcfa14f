import { existsSync } from 'node:fs';
import path from 'node:path';
import type { InputError } from '../errors.js';
import type { ModuleRegistry } from '../module.js';
import { isTemplated, LoadContext } from './context.js';
import { Expander, type PlayState, type Scope } from './expand.js';
import { didYouMean } from './problems.js';
import { roleEntry } from './roles.js';
import {
  bool,
  checkedConditions,
  inherit,
  keywordsOn,
  ownKeywords,
  record,
  str,
  tagList,
  taskKeywords,
  type At,
} from './keywords.js';
import type { Place, Play, Playbook, SerialBatch, Task, VarsFile } from './types.js';

/**
 * Loads a playbook file into the typed model (types.ts): every file it reaches is parsed,
 * checked against schemas/playbook.schema.json and each module's schema, and expanded. All
 * problems found are reported together in one InputError (exit 2) before any host is touched.
 */
export interface LoadOptions {
  /** Where task modules are found (src/modules/index.ts's `modules`; tests pass fakes). */
  modules: ModuleRegistry;
  /** Role folders searched after `roles/` beside the playbook and in its parent folder. */
  rolesPath?: string[];
}

export async function loadPlaybook(file: string, options: LoadOptions): Promise<Playbook> {
  const absolute = path.resolve(file);
  const ctx = new LoadContext(options.modules, options.rolesPath ?? [], path.dirname(absolute));
  const plays = await loadPlays(absolute, ctx, []);
  ctx.problems.throwIfAny();
  return { file: absolute, plays };
}

async function loadPlays(file: string, ctx: LoadContext, chain: string[]): Promise<Play[]> {
  const source = await ctx.source(file, 'playbook');
  if (!source || !Array.isArray(source.data)) return [];
  const plays: Play[] = [];
  for (const [i, raw] of source.data.entries()) {
    const at: At = { source, path: [i] };
    const entry = record(raw);
    if (entry.import_playbook === undefined) plays.push(checkNotifies(await loadPlay(entry, at, ctx), ctx));
    else plays.push(...(await importPlaybook(entry, at, ctx, [...chain, file])));
  }
  return plays;
}

async function importPlaybook(
  entry: Record<string, unknown>,
  at: At,
  ctx: LoadContext,
  chain: string[],
): Promise<Play[]> {
  const name = str(entry.import_playbook) ?? '';
  const place = at.source.place([...at.path, 'import_playbook']);
  if (isTemplated(name))
    return report(
      ctx,
      place,
      'import_playbook with a templated name is not supported',
      'name the playbook file literally',
    );
  const target = path.resolve(path.dirname(at.source.file), name);
  if (!existsSync(target))
    return report(ctx, place, `import_playbook: playbook '${name}' not found`, `looked for ${target}`);
  if (chain.includes(target))
    return report(ctx, place, `import cycle: ${[...chain, target].join(' -> ')}`, 'remove the import that leads back');
  const plays = await loadPlays(target, ctx, chain);
  const errors: InputError[] = [];
  const when = checkedConditions(entry.when, 'when', { task: entry, at, errors });
  ctx.problems.addAll(errors);
  const tags = tagList(entry.tags);
  const vars = record(entry.vars);
  for (const play of plays) {
    // Ansible gives import_playbook's vars precedence over the imported plays' own.
    play.vars = { ...play.vars, ...vars };
    play.tags = [...new Set([...tags, ...play.tags])];
    for (const task of [...allTasks(play.tasks), ...allTasks(play.handlers)]) {
      task.when = [...when, ...task.when];
      task.tags = [...new Set([...tags, ...task.tags])];
    }
  }
  return plays;
}

async function loadPlay(play: Record<string, unknown>, at: At, ctx: LoadContext): Promise<Play> {
  const hosts = Array.isArray(play.hosts) ? play.hosts.map(String).join(':') : (str(play.hosts) ?? '');
  const errors: InputError[] = [];
  const own = ownKeywords(play, at, errors, keywordsOn('play'));
  ctx.problems.addAll(errors);
  const scope: Scope = inherit(
    { when: [], tags: [], vars: {}, waitFor: [], playbookDir: path.dirname(at.source.file), chain: [at.source.file] },
    own,
  );
  const state: PlayState = { handlers: [], roles: [], ran: new Set(), handlerFiles: new Set() };
  const { tasks, handlers } = await playTasks(play, at, scope, new Expander(ctx, state), ctx);
  return withoutUndefined({
    name: str(play.name) ?? hosts,
    hosts,
    vars: record(play.vars),
    varsFiles: await varsFiles(play.vars_files, { source: at.source, path: [...at.path, 'vars_files'] }, ctx),
    roles: state.roles,
    tasks,
    handlers: [...state.handlers, ...handlers],
    become: own.become,
    becomeUser: own.becomeUser,
    environment: own.environment,
    gatherFacts: bool(play.gather_facts),
    serial: serialBatches(play.serial),
    maxFailPercentage: typeof play.max_fail_percentage === 'number' ? play.max_fail_percentage : undefined,
    anyErrorsFatal: play.any_errors_fatal === true,
    tags: own.tags,
    place: at.source.place(at.path),
  });
}

/** The play's tasks in Ansible's order, and its own handlers (role handlers collect in the expander). */
async function playTasks(
  play: Record<string, unknown>,
  at: At,
  scope: Scope,
  expander: Expander,
  ctx: LoadContext,
): Promise<{ tasks: Task[]; handlers: Task[] }> {
  const section = (key: string) => expander.taskList(play[key], { source: at.source, path: [...at.path, key] }, scope);
  const flushAfter = (tasks: Task[], after: string): Task[] =>
    tasks.length > 0 ? [...tasks, flushTask(ctx, at.source.place(at.path), after, scope.playbookDir)] : [];
  const preTasks = await section('pre_tasks');
  const roleTasks: Task[] = [];
  for (const [j, raw] of (Array.isArray(play.roles) ? play.roles : []).entries()) {
    const entry = roleEntry(raw, { source: at.source, path: [...at.path, 'roles', j] }, ctx);
    if (entry) roleTasks.push(...(await expander.role(entry, scope, { dedupe: true })));
  }
  const mainTasks = [...roleTasks, ...(await section('tasks'))];
  const postTasks = await section('post_tasks');
  const handlers = await section('handlers');
  return {
    tasks: [
      ...flushAfter(preTasks, 'pre_tasks'),
      ...flushAfter(mainTasks, 'tasks'),
      ...flushAfter(postTasks, 'post_tasks'),
    ],
    handlers,
  };
}

/** A notify that names no handler would be silently lost at run time: report it now. */
function checkNotifies(play: Play, ctx: LoadContext): Play {
  const known = new Set<string>();
  for (const handler of allTasks(play.handlers)) {
    for (const name of [handler.name, ...handler.listen]) known.add(name);
    if (handler.role) known.add(`${handler.role.name} : ${handler.name}`);
  }
  for (const task of [...allTasks(play.tasks), ...allTasks(play.handlers)]) {
    for (const name of task.notify) {
      if (known.has(name) || isTemplated(name)) continue;
      const fix =
        didYouMean(name, known) ?? 'add a handler with that name (or `listen: NAME`) to the play or its roles';
      ctx.report(
        task.place,
        `task '${task.name}' notifies '${name}', but no handler of the play has that name or listens to it`,
        fix,
      );
    }
  }
  return play;
}

/** The implicit handler flush Ansible runs after each section; tagged `always` so --tags keeps it. */
function flushTask(ctx: LoadContext, place: Place, after: string, playbookDir: string): Task {
  return {
    ...taskKeywords(
      { when: [], tags: ['always'], vars: {}, waitFor: [] },
      ownKeywords({}, { source: undefined as never, path: [] }, []),
    ),
    id: ctx.taskId(place, `:flush_handlers(${after})`),
    name: `flush handlers after ${after}`,
    module: 'meta',
    params: { action: 'flush_handlers' },
    playbookDir,
    place,
  };
}

/** vars_files entries, beside the playbook; an entry that is a list takes the first file that exists. */
async function varsFiles(raw: unknown, at: At, ctx: LoadContext): Promise<VarsFile[]> {
  const out: VarsFile[] = [];
  for (const [j, entry] of (Array.isArray(raw) ? raw : []).entries()) {
    const names = (Array.isArray(entry) ? entry : [entry]).map(String);
    const place = at.source.place([...at.path, j]);
    if (names.some(isTemplated)) {
      ctx.report(
        place,
        'vars_files with a templated name are not supported yet',
        'name the file literally, or put the vars in group_vars/',
      );
      continue;
    }
    const candidates = names.map((n) => path.resolve(path.dirname(at.source.file), n));
    const found = candidates.find((f) => existsSync(f));
    if (!found) ctx.report(place, `vars file not found: ${names.join(' or ')}`, `looked for ${candidates.join(', ')}`);
    else out.push({ path: found, vars: await ctx.varsFile(found) });
  }
  return out;
}

function serialBatches(raw: unknown): SerialBatch[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  return (Array.isArray(raw) ? raw : [raw]).filter(
    (b): b is SerialBatch => typeof b === 'number' || typeof b === 'string',
  );
}

/** Every task, with the children of blocks, depth first. */
export function allTasks(tasks: Task[]): Task[] {
  return tasks.flatMap((t) => [
    t,
    ...(t.block ? allTasks([...t.block.tasks, ...t.block.rescue, ...t.block.always]) : []),
  ]);
}

function report(ctx: LoadContext, place: Place, problem: string, fix: string): Play[] {
  ctx.report(place, problem, fix);
  return [];
}

function withoutUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}
