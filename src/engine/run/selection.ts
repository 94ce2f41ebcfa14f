import { InputError } from '../errors.js';
import type { SerialBatch, Task } from '../playbook/types.js';

/**
 * Which tasks and hosts a run takes part in: tags, --start-at-task and serial batches.
 * Pure functions, so the planner's choices are unit-tested without hosts.
 */
export interface TagSelection {
  tags: string[];
  skipTags: string[];
}

/** Ansible's rules: 'always' runs unless skipped by name, 'never' only when asked for by a tag of its own. */
export function taskSelected(task: Task, sel: TagSelection): boolean {
  const tags = new Set(task.tags);
  if (sel.skipTags.some((t) => tags.has(t))) return false;
  if (tags.has('never')) return sel.tags.some((t) => t !== 'all' && tags.has(t));
  if (sel.tags.length === 0 || sel.tags.includes('all')) return true;
  if (tags.has('always')) return true;
  return sel.tags.some((t) => tags.has(t));
}

/** Tags with a meaning of their own in --tags, never expected on a task. */
const SPECIAL_TAGS = new Set(['all', 'always', 'never']);

/** Every tag on the tasks (inside blocks too), sorted; the special ones left out. */
export function knownTags(tasks: Task[]): string[] {
  const found = new Set<string>();
  const visit = (list: Task[]): void => {
    for (const task of list) {
      for (const tag of task.tags) if (!SPECIAL_TAGS.has(tag)) found.add(tag);
      if (task.block) [task.block.tasks, task.block.rescue, task.block.always].forEach(visit);
    }
  };
  visit(tasks);
  return [...found].sort();
}

/**
 * One warning per --tags or --skip-tags value that no task has: a typo otherwise runs nothing
 * (or skips nothing) without a word. Names the tags there are.
 */
export function unmatchedTagWarnings(tasks: Task[], sel: TagSelection): string[] {
  const known = knownTags(tasks);
  const has = new Set(known);
  const which = known.length ? `the tags here are: ${known.join(', ')}` : 'no task here has a tag';
  return (['tags', 'skipTags'] as const).flatMap((key) =>
    sel[key]
      .filter((t) => !SPECIAL_TAGS.has(t) && !has.has(t))
      .map(
        (t) =>
          `--${key === 'tags' ? 'tags' : 'skip-tags'} ${t}: no task has this tag, so it ` +
          `${key === 'tags' ? 'selects' : 'skips'} nothing; ${which}`,
      ),
  );
}

/** Keeps the selected tasks; a block stays when any of its tasks does, with only those inside. */
export function selectTasks(tasks: Task[], sel: TagSelection): Task[] {
  const out: Task[] = [];
  for (const task of tasks) {
    if (task.block) {
      const body = {
        tasks: selectTasks(task.block.tasks, sel),
        rescue: selectTasks(task.block.rescue, sel),
        always: selectTasks(task.block.always, sel),
      };
      if (body.tasks.length + body.rescue.length + body.always.length > 0) out.push({ ...task, block: body });
    } else if (task.module === 'meta' || taskSelected(task, sel)) {
      out.push(task);
    }
  }
  return out;
}

/** Drops every task before the first one named `name` (--start-at-task), looking inside blocks. */
export function startAtTask(tasks: Task[], name: string): { tasks: Task[]; found: boolean } {
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i]!;
    if (task.module !== 'block' && task.name === name) return { tasks: tasks.slice(i), found: true };
    if (task.block) {
      const inner = startAtTask(task.block.tasks, name);
      if (inner.found)
        return {
          tasks: [{ ...task, block: { ...task.block, tasks: inner.tasks } }, ...tasks.slice(i + 1)],
          found: true,
        };
    }
  }
  return { tasks: [], found: false };
}

/** Same as startAtTask, by stable task id (used by --resume). */
export function startAtTaskId(tasks: Task[], id: string): Task[] {
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i]!;
    if (task.id === id) return tasks.slice(i);
    if (task.block) {
      const inner = [task.block.tasks, task.block.rescue, task.block.always].map((list) => startAtTaskId(list, id));
      if (inner[0]!.length) return [{ ...task, block: { ...task.block, tasks: inner[0]! } }, ...tasks.slice(i + 1)];
      if (inner[1]!.length || inner[2]!.length) return [...inner[1]!, ...inner[2]!, ...tasks.slice(i + 1)];
    }
  }
  return [];
}

/** Splits hosts into serial batches: sizes as numbers or percentages; the last size repeats. */
export function serialBatches(hosts: string[], serial: SerialBatch[] | undefined, where: string): string[][] {
  if (!serial || serial.length === 0) return hosts.length ? [hosts] : [];
  const sizes = serial.map((s) => batchSize(s, hosts.length, where));
  const batches: string[][] = [];
  let at = 0;
  for (let i = 0; at < hosts.length; i++) {
    const size = sizes[Math.min(i, sizes.length - 1)]!;
    batches.push(hosts.slice(at, at + size));
    at += size;
  }
  return batches;
}

function batchSize(s: SerialBatch, total: number, where: string): number {
  if (typeof s === 'number') {
    if (Number.isInteger(s) && s > 0) return s;
  } else {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(s.trim());
    if (m) return Math.max(1, Math.floor((Number(m[1]) / 100) * total));
    if (/^\d+$/.test(s.trim()) && Number(s) > 0) return Number(s);
  }
  throw new InputError(
    { file: where },
    `serial: '${s}' is not a batch size`,
    'use a positive number, a percentage such as "30%", or a list of them',
  );
}
