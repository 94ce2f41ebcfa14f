import path from 'node:path';
import type { Task } from '../playbook/types.js';
import type { PreparedPlay } from './play-runner.js';
import { knownTags } from './selection.js';

/**
 * ansible-playbook's --list-hosts, --list-tasks, --list-tags and --syntax-check: what a run would do, touching no host.
 */
export type ListMode = 'hosts' | 'tasks' | 'tags' | 'syntax';

/**
 * A run described as ansible-playbook describes it, so its users read it at a glance: per
 * playbook, each play with its pattern and tags, then its hosts, its tasks (role: name, with
 * tags) or the tags of its tasks. Uses the plays as the run would run them: after --limit,
 * --tags, --skip-tags and --start-at-task.
 */
export function describeRun(plays: PreparedPlay[], mode: ListMode, cwd: string): string {
  const out: string[] = [];
  let playbook: string | undefined;
  let number = 0;
  for (const p of plays) {
    if (p.play.place.file !== playbook) {
      playbook = p.play.place.file;
      number = 0;
      out.push(`${out.length ? '\n' : ''}playbook: ${path.relative(cwd, playbook) || playbook}`);
    }
    number++;
    if (mode === 'syntax') continue;
    out.push('', `  play #${number} (${p.play.hosts}): ${p.play.name}\tTAGS: [${p.play.tags.join(', ')}]`);
    if (mode === 'hosts') {
      out.push(
        `    pattern: ['${p.play.hosts}']`,
        `    hosts (${p.hosts.length}):`,
        ...p.hosts.map((h) => `      ${h}`),
      );
    } else if (mode === 'tasks') {
      out.push(
        '    tasks:',
        ...leafTasks(p.tasks).map(
          (t) => `      ${t.role ? `${t.role.name} : ` : ''}${t.name}\tTAGS: [${t.tags.join(', ')}]`,
        ),
      );
    } else {
      out.push(`      TASK TAGS: [${knownTags(p.tasks).join(', ')}]`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** The tasks that run, as the user wrote them: blocks opened, the engine's own handler flushes left out. */
function leafTasks(tasks: Task[]): Task[] {
  return tasks.flatMap((t) =>
    t.block ? leafTasks([...t.block.tasks, ...t.block.rescue, ...t.block.always]) : t.module === 'meta' ? [] : [t],
  );
}
