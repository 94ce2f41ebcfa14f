import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunEvent } from '../events.js';

/**
 * --resume: from the last journal of the same playbook, where each host must start again.
 * A host that failed (or was unreachable) resumes at that task; a host that finished is left out;
 * a host the last run never reached starts from the beginning.
 */
export interface ResumePlan {
  journal: string;
  /** host -> id of the task to start at. */
  startAt: Map<string, string>;
  /** Hosts that finished cleanly last time. */
  finished: Set<string>;
}

export function planResume(runsDir: string, playbook: string): ResumePlan | undefined {
  if (!existsSync(runsDir)) return undefined;
  const journals = readdirSync(runsDir).filter((f) => f.endsWith('.jsonl')).sort().reverse();
  for (const name of journals) {
    const file = path.join(runsDir, name);
    const events = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as RunEvent);
    const start = events.find((e) => e.kind === 'run_start');
    if (!start || start.kind !== 'run_start' || start.playbook !== playbook || start.check) continue;
    const startAt = new Map<string, string>();
    const seen = new Set<string>();
    for (const e of events) {
      if (e.kind !== 'task_result') continue;
      seen.add(e.host);
      if ((e.status === 'failed' || e.status === 'unreachable') && !startAt.has(e.host)) startAt.set(e.host, e.taskId);
    }
    const end = events.find((e) => e.kind === 'run_end');
    // A resumed run left out the hosts that had finished before: they stay finished.
    const finished = new Set([...(start.finished ?? []), ...[...seen].filter((h) => !startAt.has(h) && end !== undefined)]);
    return { journal: file, startAt, finished };
  }
  return undefined;
}
