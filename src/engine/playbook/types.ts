/**
 * The typed playbook model the planner works from. Loading expands roles, imports and static
 * includes, so a play's `tasks` is a flat, ordered list of plain tasks and block nodes; every
 * inherited keyword (when, tags, become, vars, ...) is already merged into each task, so the
 * planner never walks up a parent chain. Params stay raw: templates are resolved per host later.
 */

import type { AnyModule } from '../module.js';
import type { TaskKeywords } from './keywords.js';

/** Where something was written (1-based line and column). */
export interface Place {
  file: string;
  line: number;
  column: number;
}

export interface Playbook {
  /** Absolute path of the playbook file that was loaded. */
  file: string;
  /** Plays in run order; `import_playbook` entries are replaced by the imported plays. */
  plays: Play[];
}

/** `serial`: a batch size, a percentage ("30%"), or a list of them for growing batches. */
export type SerialBatch = number | string;

export interface VarsFile {
  /** Absolute path of the file that was read. */
  path: string;
  vars: Record<string, unknown>;
}

export interface Play {
  name: string;
  /** The host pattern, unresolved (resolved against the inventory by the planner). */
  hosts: string;
  vars: Record<string, unknown>;
  /** vars_files in order; later files win. */
  varsFiles: VarsFile[];
  /** Every role the play runs, dependencies first, each once unless its params differ. */
  roles: RoleInfo[];
  /**
   * pre_tasks, flush_handlers, role tasks (dependencies first), tasks, flush_handlers, post_tasks,
   * flush_handlers: the order Ansible runs them in. Flushes appear only after non-empty sections.
   */
  tasks: Task[];
  /** Role handlers first, then the play's, in definition order (the order they run in). */
  handlers: Task[];
  become?: boolean;
  becomeUser?: string;
  environment?: Record<string, unknown>;
  /** As written; undefined means "not said" and the planner decides (Ansible's default is true). */
  gatherFacts?: boolean;
  serial?: SerialBatch[];
  maxFailPercentage?: number;
  anyErrorsFatal: boolean;
  tags: string[];
  place: Place;
}

/** A role as one task belongs to it: enough for variable precedence and file lookup. */
export interface RoleInfo {
  name: string;
  /** Absolute path of the role's folder. */
  dir: string;
  /** defaults/main.yml (lowest precedence of all). */
  defaults: Record<string, unknown>;
  /** vars/main.yml. */
  vars: Record<string, unknown>;
  /** Params given where the role was named (`vars:` and extra keys of a roles entry). */
  params: Record<string, unknown>;
}

/** Furrow's cross-host wait: run only once every host of `group` has finished `role` or `tag`. */
export interface WaitForHosts {
  group: string;
  role?: string;
  tag?: string;
}

/**
 * One task with its effective keywords (TaskKeywords, from the table in keywords.ts): those it
 * inherits from the play, roles, blocks and includes around it are already merged into its own.
 */
export type Task = Omit<TaskKeywords, 'name'> & {
  /** Stable across runs of the same playbook: "file:line" (relative to the playbook), "#n" on repeats. */
  id: string;
  /** The name as written, or the module's name when the task has none. */
  name: string;
  /** The module, or an engine kind: 'block' (see `block`), 'meta' ({action}), 'wait_for_hosts'. */
  module: string;
  /** Raw params (templates unresolved); free-form strings are put under the module's freeForm key. */
  params: Record<string, unknown>;
  /** The module the task runs, found once at load (absent for the engine kinds). */
  impl?: AnyModule;
  /** The role the task came from (absent for playbook tasks). */
  role?: RoleInfo;
  /** Folder of the playbook whose play holds the task: base of file lookup. */
  playbookDir: string;
  place: Place;
  /** Only for module 'block': children already carry the block's inherited keywords. */
  block?: BlockBody;
};

export interface BlockBody {
  tasks: Task[];
  rescue: Task[];
  always: Task[];
}
