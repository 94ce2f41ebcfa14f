import { InputError } from '../errors.js';
import { conditionNames } from '../expr.js';
import { hostVars, type Inventory } from '../inventory/index.js';
import { allTasks } from '../playbook/index.js';
import { Problems } from '../playbook/problems.js';
import type { Place, Play, Task } from '../playbook/types.js';
import { compileTemplate, isTemplate } from '../template.js';
import { templateTexts } from './facts-use.js';
import { MAGIC_NAMES, variableLayers } from './layers.js';

/**
 * Before the first connection, every template a task will render (in its params, loop, and the
 * template files its module renders) and every `when` condition is checked against the variables
 * each of its hosts will have (the same layers the run reads, layers.ts): a name that no layer
 * defines, and that no register, set_fact, loop or fact can provide at run time, is bad input. Each
 * such name is reported once per place, naming the hosts that lack it, and no host is touched.
 * Names inside blocks and behind `default` are left to run time.
 */
export interface PrecheckPlay {
  play: Play;
  hosts: string[];
  tasks: Task[];
}

/** Names the run itself can add: registered results, variables a module sets (set_fact). */
function runTimeNames(plays: PrecheckPlay[]): Set<string> {
  const names = new Set(MAGIC_NAMES);
  for (const { play } of plays) {
    for (const task of allTasks([...play.tasks, ...play.handlers])) {
      if (task.register) names.add(task.register);
      for (const name of task.impl?.setsVariables?.(task.params) ?? []) names.add(name);
    }
  }
  return names;
}

function templateStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (isTemplate(value)) out.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) templateStrings(v, out);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) templateStrings(v, out);
  }
  return out;
}

/** Names defined for a task on a host before the run: every layer's keys, the loop's variables. */
function staticNames(
  inventory: Inventory,
  host: string,
  play: Play,
  task: Task,
  clusterVars: Record<string, unknown>,
  extraVars: Record<string, unknown>,
): Set<string> {
  const layers = variableLayers({
    play,
    task,
    inventory: inventory.hosts.has(host) ? hostVars(inventory, host) : {},
    clusterVars,
    extraVars,
  });
  const names = new Set<string>();
  for (const layer of layers) for (const k of Object.keys(layer.vars)) names.add(k);
  names.add(task.loopVar);
  if (task.loopIndexVar) names.add(task.loopIndexVar);
  return names;
}

/** A name a task needs, and where it is read. */
interface Need {
  name: string;
  place: Place;
  what: string;
  /** Needs with the same key are one problem (a block's condition, inherited by each of its tasks). */
  key: string;
}

/** What a task reads before it runs: its templates, its template files, its `when`. */
function needsOf(task: Task, problems: Problems): Need[] {
  const needs: Need[] = [];
  // A task guarded by a condition on the name (`when: x is defined`) may legitimately lack it.
  const guarded = (name: string) => task.when.some((w) => new RegExp(`\\b${name}\\b`).test(w));
  const testedForDefined = (name: string) =>
    task.when.some((w) => new RegExp(`\\b${name}\\b[\\w.\\[\\]'"]*\\s+is\\s+(not\\s+)?(defined|undefined)\\b`).test(w));
  const source = { file: task.place.file, line: task.place.line, secret: task.noLog };
  const texts = templateStrings([task.params, task.loop, task.delegateTo, task.becomeUser, task.environment]);
  for (const text of texts) {
    for (const name of compileTemplate(text, source).required)
      if (!guarded(name))
        needs.push({ name, place: task.place, what: `task '${task.name}' uses`, key: `${task.id} ${name}` });
  }
  for (const { file, text } of templateTexts(task)) {
    try {
      for (const name of compileTemplate(text, { file, secret: task.noLog }).required)
        if (!guarded(name))
          needs.push({
            name,
            place: placeIn(file, text, name),
            what: `template ${file} (task '${task.name}') uses`,
            key: `${file} ${name}`,
          });
    } catch (err) {
      if (err instanceof InputError) problems.add(err);
      else throw err;
    }
  }
  for (const condition of task.when) {
    for (const name of conditionNames(condition))
      if (!testedForDefined(name))
        needs.push({
          name,
          place: task.place,
          what: `the condition '${condition}' of task '${task.name}' reads`,
          key: `when ${condition} ${name}`,
        });
  }
  return needs;
}

/** Where a template file first reads a name (1-based line and column), else the file. */
function placeIn(file: string, text: string, name: string): Place {
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    const open = line.indexOf('{{');
    if (open < 0) continue;
    const match = new RegExp(`(?<![\\w.])${name}\\b`).exec(line.slice(open));
    if (match) return { file, line: i + 1, column: open + match.index + 1 };
  }
  return { file, line: 1, column: 1 };
}

/**
 * The handlers the tasks can set off, directly or through other handlers. A role imported only for
 * other task files (tasks_from) brings handlers that nothing notifies: they never run, so what
 * they read is not asked for. A templated notify could name any handler: then all count.
 */
export function notifiable(tasks: Task[], handlers: Task[]): Task[] {
  const reached = new Set<Task>();
  let names = allTasks(tasks).flatMap((t) => t.notify ?? []);
  while (names.length) {
    if (names.some(isTemplate)) return handlers;
    const wanted = new Set(names);
    const found = handlers.filter((h) => !reached.has(h) && [h.name, ...(h.listen ?? [])].some((n) => wanted.has(n)));
    for (const h of found) reached.add(h);
    names = allTasks(found).flatMap((t) => t.notify ?? []);
  }
  return handlers.filter((h) => reached.has(h));
}

export function precheckTemplates(
  plays: PrecheckPlay[],
  inventory: Inventory,
  clusterVars: Record<string, unknown>,
  extraVars: Record<string, unknown>,
): void {
  const dynamic = runTimeNames(plays);
  const problems = new Problems();
  /** Per place and name, the hosts that lack it: one problem each, however many hosts. */
  const missing = new Map<string, { need: Need; hosts: string[] }>();
  for (const { play, hosts, tasks } of plays) {
    for (const task of allTasks([...tasks, ...notifiable(tasks, play.handlers)])) {
      const needs = needsOf(task, problems).filter((n) => !dynamic.has(n.name) && !n.name.startsWith('ansible_'));
      if (needs.length === 0) continue;
      for (const host of hosts) {
        const known = staticNames(inventory, host, play, task, clusterVars, extraVars);
        for (const need of needs) {
          if (known.has(need.name)) continue;
          const entry = missing.get(need.key) ?? { need, hosts: [] };
          if (!entry.hosts.includes(host)) entry.hosts.push(host);
          missing.set(need.key, entry);
        }
      }
    }
  }
  for (const { need, hosts } of missing.values()) {
    const who =
      hosts.length === 1
        ? `host ${hosts[0]}`
        : `hosts ${hosts.slice(0, 5).join(', ')}${hosts.length > 5 ? ` and ${hosts.length - 5} more` : ''}`;
    problems.add(
      new InputError(
        need.place,
        `${need.what} the variable '${need.name}', which is not defined for ${who}`,
        `define ${need.name} in the play's vars, group_vars, host_vars, the role's ` +
          `defaults, or pass -e ${need.name}=...`,
      ),
    );
  }
  problems.throwIfAny();
}
