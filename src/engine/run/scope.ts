import { evaluateCondition } from '../expr.js';
import { groupsMap, hostVars } from '../inventory/index.js';
import type { Task } from '../playbook/types.js';
import { VarScope } from '../vars.js';
import { variableLayers } from './layers.js';
import type { PlayContext } from './context.js';
import type { HostState } from './host-state.js';
import { getOrAdd } from '../get-or-add.js';

/** The variables one task sees on one host, with the operations the task runner needs. */
export interface TaskScope {
  /** Renders templates inside a value (params, loop); a lone "{{ x }}" keeps x's type. */
  resolve(value: unknown): unknown;
  /** All conditions hold (when, until, changed_when, failed_when). */
  condition(exprs: string[]): boolean;
  /** Every variable, resolved (set_fact, debug, template modules that need them all). */
  all(): Record<string, unknown>;
  /** One variable at a time, resolving only what is read. */
  lookup: { has(name: string): boolean; get(name: string): unknown };
  render(text: string, file: string, extra?: Record<string, unknown>): string;
  /** Binds values above every other layer (loop item, a registered result being judged). */
  withVars(vars: Record<string, unknown>): TaskScope;
}

/** Facts as variables: Ansible's `ansible_*` names at the top, everything under `facts`. */
function factVars(facts: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!facts) return {};
  const out: Record<string, unknown> = { facts };
  for (const [k, v] of Object.entries(facts)) if (k.startsWith('ansible_')) out[k] = v;
  return out;
}

const inventoryCache = new WeakMap<object, Map<string, Record<string, unknown>>>();

function inventoryVars(pc: PlayContext, host: string): Record<string, unknown> {
  const { inventory } = pc.run;
  const byHost = getOrAdd(inventoryCache, inventory, () => new Map<string, Record<string, unknown>>());
  return getOrAdd(byHost, host, () =>
    inventory.hosts.has(host) ? hostVars(inventory, host) : { inventory_hostname: host },
  );
}

const groupsCache = new WeakMap<object, Record<string, string[]>>();

function groupsOf(pc: PlayContext): Record<string, string[]> {
  return getOrAdd(groupsCache, pc.run.inventory, () => groupsMap(pc.run.inventory));
}

const hostvarsCache = new WeakMap<object, Record<string, unknown>>();

/**
 * `hostvars`: every host's inventory vars and facts/registered values, built only when read.
 * One view per run: its getters read the hosts' state as it is at that moment.
 */
function hostvarsView(pc: PlayContext): Record<string, unknown> {
  const cached = hostvarsCache.get(pc.run);
  if (cached) return cached;
  const view: Record<string, unknown> = {};
  for (const name of pc.run.inventory.hosts.keys()) {
    Object.defineProperty(view, name, {
      enumerable: true,
      get: () => {
        const state = pc.run.hosts.get(name);
        return { ...inventoryVars(pc, name), ...factVars(state?.facts), ...(state?.registered ?? {}) };
      },
    });
  }
  hostvarsCache.set(pc.run, view);
  return view;
}

export async function scopeFor(host: HostState, task: Task, pc: PlayContext): Promise<TaskScope> {
  const { play } = pc;
  const layers = variableLayers({
    play,
    task,
    inventory: inventoryVars(pc, host.name),
    inventorySource: pc.run.inventory.source,
    clusterVars: pc.run.clusterVars,
    extraVars: pc.run.extraVars,
    facts: factVars(host.facts),
    registered: host.registered,
    magic: {
      groups: groupsOf(pc),
      hostvars: hostvarsView(pc),
      inventory_hostname: host.name,
      ansible_play_hosts: pc.hosts,
      play_hosts: pc.hosts,
      ansible_check_mode: pc.run.check,
      ...(task.role ? { role_path: task.role.dir, role_name: task.role.name } : {}),
    },
  });
  return taskScope(new VarScope(layers), task);
}

function taskScope(scope: VarScope, task: Task): TaskScope {
  const source = { file: task.place.file, line: task.place.line, context: `task '${task.name}'`, secret: task.noLog };
  return {
    resolve: (value) => scope.resolveValue(value, source),
    condition: (exprs) => exprs.every((e) => evaluateCondition(e, scope, source)),
    all: () => scope.resolveAll(),
    lookup: { has: (name) => scope.has(name), get: (name) => scope.get(name) },
    render: (text, file, extra) => (extra ? scope.with({ level: 'task', vars: extra }) : scope).render(text, { file }),
    // Bound values (the loop item, a result for until/changed_when) are the most specific: on top.
    withVars: (vars) => taskScope(scope.with({ level: 'extra', vars }), task),
  };
}
