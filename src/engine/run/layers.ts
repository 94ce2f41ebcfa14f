import type { Play, Task } from '../playbook/types.js';
import type { VarLayer } from '../vars.js';

/**
 * The variable layers a task sees on a host, in Ansible's precedence: one table, read by the
 * run (scope.ts) and by the check before any host is touched (precheck.ts), so both agree on
 * which names a task can read. What only the run knows (facts, registered results, magic
 * variables) is passed by the run and left empty by the check.
 */
export interface LayerInputs {
  play: Play;
  task: Task;
  /** The host's merged inventory vars. */
  inventory: Record<string, unknown>;
  inventorySource?: string;
  /** The cluster's config.yml settings (role-defaults level, above the roles' own defaults). */
  clusterVars: Record<string, unknown>;
  extraVars: Record<string, unknown>;
  facts?: Record<string, unknown>;
  registered?: Record<string, unknown>;
  magic?: Record<string, unknown>;
}

export function variableLayers(i: LayerInputs): VarLayer[] {
  const { play, task } = i;
  return [
    {
      level: 'role_defaults',
      vars: task.role?.defaults ?? {},
      source: task.role ? `${task.role.dir}/defaults/main.yml` : undefined,
    },
    // Same level, later in the list: cluster settings override role defaults, the inventory overrides both.
    { level: 'role_defaults', vars: i.clusterVars, source: 'cluster config.yml' },
    { level: 'inventory', vars: i.inventory, source: i.inventorySource },
    { level: 'facts', vars: i.facts ?? {} },
    ...play.varsFiles.map((f) => ({ level: 'play' as const, vars: f.vars, source: f.path })),
    { level: 'play', vars: play.vars, source: play.place.file },
    { level: 'role', vars: task.role?.vars ?? {}, source: task.role ? `${task.role.dir}/vars/main.yml` : undefined },
    { level: 'role', vars: task.role?.params ?? {}, source: task.place.file },
    { level: 'task', vars: task.vars, source: task.place.file },
    { level: 'registered', vars: i.registered ?? {} },
    { level: 'extra', vars: i.extraVars, source: 'extra vars (-e)' },
    { level: 'extra', vars: i.magic ?? {}, source: 'magic vars' },
  ];
}

/** The names of the magic variables the run adds (scope.ts), known to the check before the run. */
export const MAGIC_NAMES = [
  'groups',
  'hostvars',
  'inventory_hostname',
  'inventory_hostname_short',
  'group_names',
  'ansible_play_hosts',
  'play_hosts',
  'ansible_check_mode',
  'role_path',
  'role_name',
  'facts',
];
