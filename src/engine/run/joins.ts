import type { Task, WaitForHosts } from '../playbook/types.js';

/**
 * The only places where hosts wait for each other inside a play: run_once results and explicit
 * cross-host waits (`wait_for_hosts`). Everything else runs per host, with no lock-step.
 */
export class RunOnce<T> {
  private readonly results = new Map<string, Promise<T>>();
  /** The first host to arrive runs the task; the others get its result. */
  once(key: string, run: () => Promise<T>): { promise: Promise<T>; ranHere: boolean } {
    const existing = this.results.get(key);
    if (existing) return { promise: existing, ranHere: false };
    const promise = run();
    this.results.set(key, promise);
    return { promise, ranHere: true };
  }
}

/** Last top-level task index of each role and tag in a play: "finished role R" means past it. */
export function lastIndexByMarker(tasks: Task[]): Map<string, number> {
  const last = new Map<string, number>();
  const visit = (t: Task, index: number) => {
    if (t.role) last.set(`role:${t.role.name}`, index);
    for (const tag of t.tags) last.set(`tag:${tag}`, index);
    if (t.block) for (const c of [...t.block.tasks, ...t.block.rescue, ...t.block.always]) visit(c, index);
  };
  for (const [i, t] of tasks.entries()) visit(t, i);
  return last;
}

export function markerOf(w: WaitForHosts): string {
  return w.role !== undefined ? `role:${w.role}` : `tag:${w.tag}`;
}

/** Tracks how far each host of a play got, so a wait can resolve as soon as its group is past a marker. */
export class ProgressBoard {
  private readonly done = new Map<string, number>();
  private readonly ended = new Set<string>();
  private waiters: Array<{ ready: () => boolean; resolve: () => void }> = [];

  /** The host finished top-level task `index` of the play. */
  advance(host: string, index: number): void {
    this.done.set(host, Math.max(index, this.done.get(host) ?? -1));
    this.wake();
  }

  /** The host will run no more tasks in this play (done, failed or unreachable). */
  end(host: string): void {
    this.ended.add(host);
    this.wake();
  }

  waitFor(hosts: string[], lastIndex: number | undefined): Promise<void> {
    const ready = () =>
      lastIndex === undefined || hosts.every((h) => this.ended.has(h) || (this.done.get(h) ?? -1) >= lastIndex);
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ ready, resolve }));
  }

  private wake(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) w.ready() ? w.resolve() : still.push(w);
    this.waiters = still;
  }
}
