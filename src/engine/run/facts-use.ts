import { existsSync, readFileSync } from 'node:fs';
import { parseFacts } from '../facts/gather.js';
import { allTasks, fileCandidates } from '../playbook/index.js';
import type { Play, Task } from '../playbook/types.js';

/**
 * Facts cost a round trip per host, so a play that does not say `gather_facts` gathers them only
 * when it uses them: when a fact's name appears in its tasks, its roles' variables and templates,
 * its vars, or the other variables the run was given. (`gather_facts: true` always gathers.)
 */
const FACT_NAMES = Object.keys(parseFacts('')).filter((k) => k.startsWith('ansible_'));
const USES_FACTS = new RegExp(`\\b(${['facts', ...FACT_NAMES].join('|')})\\b`);

/** The text of the controller template files a task renders (a hook its module declares). */
export function templateTexts(task: Task): { file: string; text: string }[] {
  const names = task.impl?.templateFiles?.(task.params) ?? [];
  return names.flatMap((name) => {
    const file = fileCandidates(task, 'templates', name).find((f) => existsSync(f));
    return file ? [{ file, text: readFileSync(file, 'utf8') }] : [];
  });
}

export function playUsesFacts(play: Play, tasks: Task[], otherVars: unknown[]): boolean {
  if (play.gatherFacts !== undefined) return play.gatherFacts;
  const all = allTasks([...tasks, ...play.handlers]);
  const roles = new Map(all.filter((t) => t.role).map((t) => [t.role!.dir, t.role!]));
  const texts = [
    JSON.stringify([play.vars, play.varsFiles.map((f) => f.vars), ...otherVars]),
    JSON.stringify([...roles.values()].map((r) => [r.defaults, r.vars, r.params])),
    ...all.map((t) =>
      JSON.stringify([t.params, t.when, t.loop, t.until, t.changedWhen, t.failedWhen, t.vars, t.delegateTo]),
    ),
    ...all.flatMap((t) => templateTexts(t).map((f) => f.text)),
  ];
  return texts.some((text) => USES_FACTS.test(text));
}
