import { InputError } from '../errors.js';
import { conditionSyntaxProblem } from '../expr.js';
import type { WaitForHosts } from './types.js';
import type { YamlPath, YamlSource } from './yaml-source.js';

/**
 * Every task keyword, declared once. This table produces the task part of the playbook schema
 * (playbook-schema.ts), the parser (`ownKeywords`), inheritance from plays, role entries, blocks
 * and includes (`inherit`), the fields of `Task` (types.ts) and the fields a new task starts
 * with (`taskDefaults`). A keyword not in the table is not accepted; one in it is implemented.
 */

/** Where a value sits: the file and the path inside it. */
export interface At {
  source: YamlSource;
  path: YamlPath;
}

/** What a keyword's reader gets: the whole mapping (some keywords read a sibling), and where it is. */
export interface ReadContext {
  task: Record<string, unknown>;
  at: At;
  errors: InputError[];
}

/**
 * How an enclosing play, role entry, block or include hands a keyword down to the tasks in it.
 * override: the innermost value wins; append: lists add up, outer first; union: the same without
 * repeats; merge: mappings merge, inner keys win (Ansible's rule for vars and environment).
 */
export type Inheritance = 'override' | 'append' | 'union' | 'merge';

/** Where a keyword may be written besides a module task (which takes every keyword). */
export type KeywordPlace = 'play' | 'role' | 'block' | 'include';

interface KeywordDef<R extends object> {
  /** JSON Schema of the value as written (refs point into playbook-schema.ts's definitions). */
  schema: Record<string, unknown>;
  /** The task fields it gives. */
  read(value: unknown, c: ReadContext): R;
  inherit?: Inheritance;
  /** Besides module tasks; absent: a module task only (a block or include with it is an error). */
  on?: readonly KeywordPlace[];
  /** The value a task has when neither it nor anything around it says. */
  fallback?: R;
  /** One line for the reference (docs/playbooks.md). */
  doc: string;
}

/** Keeps what a definition says (inherit, fallback) in its type, for the types derived below. */
const keyword = <R extends object, const E extends Pick<KeywordDef<R>, 'inherit' | 'fallback' | 'on'>>(
  def: KeywordDef<R> & E,
): KeywordDef<R> & E => def;
const ref = (name: string) => ({ $ref: `#/definitions/${name}` });
/** Written on a play, a role entry, a block or an include, and handed down to the tasks inside. */
const EVERYWHERE = ['play', 'role', 'block', 'include'] as const;
const NESTED = ['block', 'include'] as const;

export const TASK_KEYWORDS = {
  name: keyword({
    schema: { type: 'string' },
    read: (v) => ({ name: str(v) }),
    on: ['block', 'include'],
    doc: 'the name shown in output',
  }),
  when: keyword({
    schema: ref('condition'),
    read: (v, c) => ({ when: checkedConditions(v, 'when', c) }),
    inherit: 'append',
    on: ['role', 'block', 'include'],
    doc: 'conditions that must all hold',
  }),
  loop: keyword({
    schema: { type: ['array', 'string'] },
    read: (v, c) => ({ loop: v ?? c.task.with_items }),
    doc: 'a list, or a template giving one',
  }),
  with_items: keyword({ schema: { type: ['array', 'string'] }, read: () => ({}), doc: "the same as 'loop'" }),
  loop_control: keyword({
    schema: {
      type: 'object',
      properties: { loop_var: ref('identifier'), index_var: ref('identifier'), label: { type: 'string' } },
      additionalProperties: false,
    },
    read: (v) => {
      const control = record(v);
      return {
        loopVar: str(control.loop_var) ?? 'item',
        loopIndexVar: str(control.index_var),
        loopLabel: str(control.label),
      };
    },
    doc: '{loop_var, index_var, label}',
  }),
  register: keyword({
    schema: ref('identifier'),
    read: (v) => ({ register: str(v) }),
    doc: 'variable name for the result',
  }),
  notify: keyword({
    schema: ref('stringList'),
    read: (v) => ({ notify: strings(v) }),
    doc: 'handlers to run when the task changed something',
  }),
  listen: keyword({
    schema: ref('stringList'),
    read: (v) => ({ listen: strings(v) }),
    doc: '(handlers) extra topics the handler answers to',
  }),
  tags: keyword({
    schema: ref('tags'),
    read: (v) => ({ tags: tagList(v) }),
    inherit: 'union',
    on: EVERYWHERE,
    doc: 'tags for --tags/--skip-tags',
  }),
  become: keyword({
    schema: { type: 'boolean' },
    read: (v) => ({ become: bool(v) }),
    inherit: 'override',
    on: EVERYWHERE,
    doc: 'run with privileges',
  }),
  become_user: keyword({
    schema: { type: 'string', minLength: 1 },
    read: (v) => ({ becomeUser: str(v) }),
    inherit: 'override',
    on: EVERYWHERE,
    doc: 'the user to become',
  }),
  run_once: keyword({
    schema: { type: 'boolean' },
    read: (v) => ({ runOnce: bool(v) }),
    inherit: 'override',
    on: NESTED,
    fallback: { runOnce: false },
    doc: 'run on the first host of the batch only',
  }),
  throttle: keyword({
    schema: { type: 'integer', minimum: 1 },
    read: (v) => ({ throttle: typeof v === 'number' ? v : undefined }),
    doc: 'at most this many hosts at once',
  }),
  delegate_to: keyword({
    schema: { type: 'string' },
    read: (v) => ({ delegateTo: str(v) }),
    inherit: 'override',
    on: NESTED,
    doc: 'run on another host',
  }),
  retries: keyword({
    schema: { type: ['integer', 'string'], minimum: 0 },
    // Ansible's defaults (3 retries, 5 s apart) apply when `until` is written without them.
    read: (v, c) => ({ retries: numberOrTemplate(v) ?? (c.task.until !== undefined ? 3 : undefined) }),
    doc: 'with until: how many retries',
  }),
  until: keyword({
    schema: ref('condition'),
    read: (v, c) => ({ until: v === undefined ? undefined : checkedConditions(v, 'until', c) }),
    doc: 'retry until this holds',
  }),
  delay: keyword({
    schema: { type: ['number', 'string'], minimum: 0 },
    read: (v, c) => ({ delay: numberOrTemplate(v) ?? (c.task.until !== undefined ? 5 : undefined) }),
    doc: 'with until: seconds between tries',
  }),
  ignore_errors: keyword({
    schema: { type: 'boolean' },
    read: (v) => ({ ignoreErrors: bool(v) }),
    inherit: 'override',
    on: NESTED,
    fallback: { ignoreErrors: false },
    doc: 'a failure does not stop the host',
  }),
  changed_when: keyword({
    schema: ref('condition'),
    read: (v, c) => ({ changedWhen: v === undefined ? undefined : checkedConditions(v, 'changed_when', c) }),
    doc: "overrides the module's changed",
  }),
  failed_when: keyword({
    schema: ref('condition'),
    read: (v, c) => ({ failedWhen: v === undefined ? undefined : checkedConditions(v, 'failed_when', c) }),
    doc: "overrides the module's failed",
  }),
  check_mode: keyword({
    schema: { type: 'boolean' },
    read: (v) => ({ checkMode: bool(v) }),
    inherit: 'override',
    on: NESTED,
    doc: 'false: run for real also under --check (a probe whose result later tasks read); true: always only plan',
  }),
  no_log: keyword({
    schema: { type: 'boolean' },
    read: (v) => ({ noLog: bool(v) }),
    inherit: 'override',
    on: NESTED,
    fallback: { noLog: false },
    doc: 'never print params or results',
  }),
  vars: keyword({
    schema: ref('vars'),
    read: (v) => ({ vars: record(v) }),
    inherit: 'merge',
    on: NESTED,
    doc: 'task variables',
  }),
  environment: keyword({
    schema: ref('environment'),
    read: (v) => ({ environment: v === undefined ? undefined : record(v) }),
    inherit: 'merge',
    on: EVERYWHERE,
    doc: "environment variables of the module's commands on the host",
  }),
  args: keyword({
    schema: { type: 'object', description: "extra module params (merged with the module's own)" },
    read: () => ({}),
    doc: 'extra module params',
  }),
  wait_for_hosts: keyword({
    schema: ref('waitForHosts'),
    read: (v, c) => ({ waitFor: waitList(v, [...c.at.path, 'wait_for_hosts'], c.at.source, c.errors) }),
    inherit: 'append',
    on: ['role', 'block', 'include'],
    doc: "Furrow's cross-host wait",
  }),
  rescue: keyword({ schema: ref('taskList'), read: () => ({}), on: ['block'], doc: "a block's tasks after a failure" }),
  always: keyword({ schema: ref('taskList'), read: () => ({}), on: ['block'], doc: "a block's tasks that always run" }),
};

type Table = typeof TASK_KEYWORDS;
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type FieldsOf<K extends keyof Table> = UnionToIntersection<{ [P in K]: ReturnType<Table[P]['read']> }[K]>;
type Optional<T> = { [K in keyof T]?: Exclude<T[K], undefined> };
type Defined<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };
type Inherited = { [K in keyof Table]: Table[K] extends { inherit: Inheritance } ? K : never }[keyof Table];
type WithFallback = { [K in keyof Table]: Table[K] extends { fallback: object } ? K : never }[keyof Table];

/** The task's own keywords, as read (every field optional: absent means "not said"). */
export type OwnKeywords = Optional<FieldsOf<keyof Table>> & {
  when: string[];
  tags: string[];
  notify: string[];
  listen: string[];
  waitFor: WaitForHosts[];
  vars: Record<string, unknown>;
};
/** What enclosing plays, roles, blocks and includes hand down to their tasks. */
export type InheritedKeywords = Optional<FieldsOf<Inherited>> & {
  when: string[];
  tags: string[];
  vars: Record<string, unknown>;
  waitFor: WaitForHosts[];
};
/** The keyword fields of a finished task: its own and the inherited ones, fallbacks filled. */
export type TaskKeywords = Optional<FieldsOf<keyof Table>> &
  Defined<FieldsOf<WithFallback>> & { loopVar: string } & Pick<
    InheritedKeywords,
    'when' | 'tags' | 'vars' | 'waitFor'
  > &
  Pick<OwnKeywords, 'notify' | 'listen'>;

/** Keys that are task keywords (not modules, not actions). */
export const TASK_KEYWORD_NAMES: ReadonlySet<string> = new Set(Object.keys(TASK_KEYWORDS));
/** Keys that make sense on one run of a module only, not on a block, an include or a role. */
export const MODULE_ONLY: readonly string[] = Object.entries(TASK_KEYWORDS as Record<string, KeywordDef<object>>)
  .filter(([, def]) => !def.on)
  .map(([key]) => key);

/** The keywords that may stand at `place` (a play, a role entry, a block, an include). */
export function keywordsOn(place: KeywordPlace): string[] {
  return Object.entries(TASK_KEYWORDS as Record<string, KeywordDef<object>>)
    .filter(([, def]) => def.on?.includes(place))
    .map(([key]) => key);
}

/** JSON Schema of the keywords allowed at `place` ('task': every one), for playbook-schema.ts. */
export function keywordSchemas(place: KeywordPlace | 'task'): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [key, def] of Object.entries(TASK_KEYWORDS as Record<string, KeywordDef<object>>)) {
    if (place === 'task' || def.on?.includes(place)) out[key] = def.schema;
  }
  return out;
}

/** The keywords written in a mapping (a task, a play, a role entry, an include's apply), read. */
export function ownKeywords(
  task: Record<string, unknown>,
  at: At,
  errors: InputError[],
  keys: Iterable<string> = TASK_KEYWORD_NAMES,
): OwnKeywords {
  if (task.loop !== undefined && task.with_items !== undefined) {
    errors.push(
      new InputError(
        at.source.place([...at.path, 'with_items'], 'key'),
        "a task has either 'loop' or 'with_items', not both",
        "keep 'loop'",
      ),
    );
  }
  const c: ReadContext = { task, at, errors };
  const own: Record<string, unknown> = {};
  for (const key of keys) {
    const def = (TASK_KEYWORDS as Record<string, KeywordDef<object>>)[key];
    if (!def) continue;
    const value = task[key];
    // Absent keys still read, for their list fields ([]) and for keys that read a sibling.
    for (const [field, v] of Object.entries(def.read(value, c))) if (v !== undefined) own[field] = v;
  }
  if (task.loop_control === undefined) delete own.loopVar;
  return { when: [], tags: [], notify: [], listen: [], waitFor: [], vars: {}, ...own } as OwnKeywords;
}

/** The fields an inheritable keyword gives, with how each is handed down. */
const INHERITED_FIELDS: [string, Inheritance][] = Object.values(TASK_KEYWORDS as Record<string, KeywordDef<object>>)
  .filter((def) => def.inherit)
  .flatMap((def) =>
    Object.keys(def.read(undefined, { task: {}, at: { path: [] } as unknown as At, errors: [] })).map(
      (f): [string, Inheritance] => [f, def.inherit!],
    ),
  );

/** `outer` with `own` written inside it: what the tasks inside see. */
export function inherit<S extends InheritedKeywords>(outer: S, own: Partial<InheritedKeywords>): S {
  const out: Record<string, unknown> = { ...outer };
  const o = own as Record<string, unknown>;
  const s = outer as Record<string, unknown>;
  for (const [field, how] of INHERITED_FIELDS) {
    const inner = o[field];
    const before = s[field];
    if (how === 'override') out[field] = inner ?? before;
    else if (how === 'append') out[field] = [...((before as unknown[]) ?? []), ...((inner as unknown[]) ?? [])];
    else if (how === 'union')
      out[field] = [...new Set([...((before as unknown[]) ?? []), ...((inner as unknown[]) ?? [])])];
    else
      out[field] =
        inner === undefined && before === undefined ? undefined : { ...(before as object), ...(inner as object) };
    if (out[field] === undefined) delete out[field];
  }
  return out as S;
}

/** The keyword fields of a task: inherited ones from `scope`, its own from `own`, fallbacks filled. */
export function taskKeywords(scope: InheritedKeywords, own: OwnKeywords): TaskKeywords {
  const out: Record<string, unknown> = { loopVar: 'item' };
  for (const def of Object.values(TASK_KEYWORDS as Record<string, KeywordDef<object>>))
    Object.assign(out, def.fallback);
  const inherited = new Set(INHERITED_FIELDS.map(([f]) => f));
  for (const [field, value] of Object.entries(own))
    if (!inherited.has(field) && value !== undefined) out[field] = value;
  for (const field of inherited) {
    const value = (scope as Record<string, unknown>)[field];
    if (value !== undefined) out[field] = value;
  }
  return out as TaskKeywords;
}

/** `wait_for_hosts` as a list; each entry needs its group and exactly one of role or tag. */
export function waitList(value: unknown, path: YamlPath, source: YamlSource, errors: InputError[]): WaitForHosts[] {
  if (value === undefined || value === null) return [];
  const entries = Array.isArray(value) ? value : [value];
  const out: WaitForHosts[] = [];
  entries.forEach((entry, i) => {
    const wait = record(entry);
    const group = str(wait.group);
    const role = str(wait.role);
    const tag = str(wait.tag);
    if ((role === undefined) === (tag === undefined)) {
      const where = source.place(Array.isArray(value) ? [...path, i] : path);
      errors.push(
        new InputError(
          where,
          "wait_for_hosts needs exactly one of 'role' or 'tag'",
          'write {group: kube_master, role: kube-master} or {group: etcd, tag: etcd}',
        ),
      );
    }
    if (group !== undefined)
      out.push({ group, ...(role !== undefined ? { role } : {}), ...(tag !== undefined ? { tag } : {}) });
  });
  return out;
}

/** Conditions, each parsed now: a syntax error is bad input at its own place, before any host. */
export function checkedConditions(value: unknown, key: string, c: ReadContext): string[] {
  if (value !== undefined && value !== null && c.at.source) {
    (Array.isArray(value) ? value : [value]).forEach((item, i) => {
      const place = c.at.source.place(Array.isArray(value) ? [...c.at.path, key, i] : [...c.at.path, key]);
      const problem = conditionSyntaxProblem(item, place);
      if (problem) c.errors.push(problem);
    });
  }
  return conditions(value);
}

/** A condition or list of them; YAML booleans become the expressions `true` / `false`. */
export function conditions(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map((v) => String(v));
}

/** Tags as a list; "a, b" is two tags as in Ansible. */
export function tagList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value.map(String) : String(value).split(',');
  return items.map((t) => t.trim()).filter((t) => t !== '');
}

export function strings(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function bool(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

export function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function numberOrTemplate(value: unknown): number | string | undefined {
  return typeof value === 'number' || typeof value === 'string' ? value : undefined;
}
