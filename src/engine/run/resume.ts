import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import type { RunEvent } from '../events.js';

/**
 * --resume: from the last journal of the same playbook, where each host must start again.
 * A host that failed (or was unreachable) resumes at that task, or for a failed handler at the
 * flush_handlers task that ran it, with the handlers it had pending then; a host that finished is
 * left out; a host the last run never reached starts from the beginning.
 */
export interface ResumePlan {
  journal: string;
  /** host -> id of the task to start at. */
  startAt: Map<string, string>;
  /** host -> handlers notified and not yet run when it stopped: run at its next flush. */
  pending: Map<string, string[]>;
  /** Hosts that finished cleanly last time. */
  finished: Set<string>;
  /** What the user should hear (a torn last line). */
  warnings: string[];
}

export function planResume(runsDir: string, playbook: string): ResumePlan | undefined {
  if (!existsSync(runsDir)) return undefined;
  const journals = readdirSync(runsDir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .reverse();
  for (const name of journals) {
    const file = path.join(runsDir, name);
    const { events, warnings } = readJournal(file);
    const start = events.find((e) => e.kind === 'run_start');
    if (start?.kind !== 'run_start' || start.playbook !== playbook || start.check) continue;
    const startAt = new Map<string, string>();
    const pending = new Map<string, string[]>();
    const seen = new Set<string>();
    for (const e of events) {
      if (e.kind === 'handlers_pending' && !startAt.has(e.host)) pending.set(e.host, e.handlers);
      if (e.kind !== 'task_result') continue;
      seen.add(e.host);
      if ((e.status === 'failed' || e.status === 'unreachable') && !startAt.has(e.host))
        startAt.set(e.host, e.resumeAt ?? e.taskId);
    }
    for (const host of pending.keys()) if (!startAt.has(host)) pending.delete(host);
    const end = events.find((e) => e.kind === 'run_end');
    // A resumed run left out the hosts that had finished before: they stay finished.
    const finished = new Set([
      ...(start.finished ?? []),
      ...[...seen].filter((h) => !startAt.has(h) && end !== undefined),
    ]);
    return { journal: file, startAt, pending, finished, warnings };
  }
  return undefined;
}

/**
 * A journal's events. Its last line may be torn (power lost or disk full mid-write): that line is
 * left out with a warning. A broken line before the last is not a torn write: bad input.
 */
export function readJournal(file: string): { events: RunEvent[]; warnings: string[] } {
  const lines = readFileSync(file, 'utf8').split('\n');
  const events: RunEvent[] = [];
  const warnings: string[] = [];
  const last = lines.reduce((at, line, i) => (line.trim() ? i : at), -1);
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      events.push(JSON.parse(line) as RunEvent);
    } catch {
      if (i !== last)
        throw new InputError(
          { file, line: i + 1 },
          'the run journal has a broken line',
          'move this journal out of .furrow/runs to resume from the one before it',
        );
      warnings.push(
        `${file}:${i + 1}: the journal's last line is torn (the run was cut off while writing it): ignored`,
      );
    }
  });
  return { events, warnings };
}
