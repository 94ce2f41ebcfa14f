import { InputError } from '../errors.js';
import { hostVars, type Inventory } from '../inventory/index.js';
import { allTasks } from '../playbook/index.js';
import { Problems } from '../playbook/problems.js';
import type { Play, Task } from '../playbook/types.js';
import { compileTemplate, isTemplate } from '../template.js';

/**
 * Before the first connection, every template a task will render is checked against the variables
 * each of its hosts will have: a name that no layer defines (and that no register, set_fact, loop
 * or fact can provide at run time) is bad input, reported with the task's file:line, and no host is
 * touched. Names inside blocks and behind `default` are left to run time.
 */
const MAGIC = ['groups', 'hostvars', 'inventory_hostname', 'inventory_hostname_short', 'group_names', 'ansible_play_hosts', 'play_hosts', 'ansible_check_mode', 'role_path', 'role_name', 'facts'];

export interface PrecheckPlay {
  play: Play;
  hosts: string[];
  tasks: Task[];
}

/** Names the run itself can add: registered results, set_fact keys. */
function runTimeNames(plays: PrecheckPlay[]): Set<string> {
  const names = new Set(MAGIC);
  for (const { play } of plays) {
    for (const task of allTasks([...play.tasks, ...play.handlers])) {
      if (task.register) names.add(task.register);
      if (task.module === 'set_fact') for (const key of Object.keys(task.params)) names.add(key);
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

function staticNames(inventory: Inventory, host: string, play: Play, task: Task, extra: Record<string, unknown>): Set<string> {
  const layers = [
    task.role?.defaults,
    inventory.hosts.has(host) ? hostVars(inventory, host) : {},
    ...play.varsFiles.map((f) => f.vars),
    play.vars,
    task.role?.vars,
    task.role?.params,
    task.vars,
    extra,
  ];
  const names = new Set<string>();
  for (const layer of layers) for (const k of Object.keys(layer ?? {})) names.add(k);
  names.add(task.loopVar);
  if (task.loopIndexVar) names.add(task.loopIndexVar);
  return names;
}

export function precheckTemplates(plays: PrecheckPlay[], inventory: Inventory, extraVars: Record<string, unknown>): void {
  const dynamic = runTimeNames(plays);
  const problems = new Problems();
  for (const { play, hosts, tasks } of plays) {
    for (const task of allTasks([...tasks, ...play.handlers])) {
      const texts = templateStrings([task.params, task.loop, task.delegateTo]);
      if (texts.length === 0) continue;
      const source = { file: task.place.file, line: task.place.line, secret: task.noLog };
      // A task guarded by a condition on the name (`when: x is defined`) may legitimately lack it.
      const guarded = (name: string) => task.when.some((w) => new RegExp(`\\b${name}\\b`).test(w));
      const required = new Set(texts.flatMap((t) => [...compileTemplate(t, source).required]).filter((n) => !guarded(n)));
      for (const host of hosts) {
        const known = staticNames(inventory, host, play, task, extraVars);
        for (const name of required) {
          if (known.has(name) || dynamic.has(name) || name.startsWith('ansible_')) continue;
          problems.add(
            new InputError(
              task.place,
              `task '${task.name}' uses the variable '${name}', which is not defined for host ${host}`,
              `define ${name} in the play's vars, group_vars, host_vars, the role's defaults, or pass -e ${name}=...`,
            ),
          );
        }
      }
    }
  }
  problems.throwIfAny();
}
