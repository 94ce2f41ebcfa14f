import { existsSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import type { Task } from './types.js';

export type FileKind = 'files' | 'templates';

/**
 * Where a task's `src` may live, in Ansible's order: the role's files/ (or templates/), then
 * the playbook folder's files/ (or templates/), then beside the playbook. An absolute name is
 * only itself.
 */
export function fileCandidates(task: Pick<Task, 'role' | 'playbookDir'>, kind: FileKind, name: string): string[] {
  if (path.isAbsolute(name)) return [name];
  const dirs = [
    ...(task.role ? [path.join(task.role.dir, kind)] : []),
    path.join(task.playbookDir, kind),
    task.playbookDir,
  ];
  return [...new Set(dirs.map((d) => path.join(d, name)))];
}

/** The controller file a task names (ModuleContext.findFile); an InputError at the task when there is none. */
export function findFile(
  task: Pick<Task, 'role' | 'playbookDir' | 'place' | 'name'>,
  kind: FileKind,
  name: string,
): string {
  const candidates = fileCandidates(task, kind, name);
  const found = candidates.find((f) => existsSync(f));
  if (found) return found;
  const what = kind === 'templates' ? 'template' : 'file';
  throw new InputError(
    task.place,
    `task '${task.name}': ${what} '${name}' not found`,
    `looked in: ${candidates.join(', ')}`,
  );
}
