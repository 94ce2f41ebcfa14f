import type { HostRecap } from '../events.js';
import type { Task } from '../playbook/types.js';
import type { TaskScope } from './scope.js';

/** Everything the run knows about one host: its facts, results and counts (connections: RunContext.connect). */
export class HostState {
  facts?: Record<string, unknown>;
  /** register and set_fact results: they outlive the play, as in Ansible. */
  readonly registered: Record<string, unknown> = {};
  readonly notified = new Set<string>();
  /** 'failed' stops this host for the rest of the run; 'unreachable' too, reported apart. */
  status: 'active' | 'failed' | 'unreachable' = 'active';
  readonly recap: HostRecap = { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, ignored: 0, durationMs: 0 };
  rescued = 0;
  /** The tasks after the one running, in the list the host walks: what a read-ahead may look at. */
  ahead?: { tasks: Task[]; from: number };
  /** While a loop runs: its task and the scopes of the items after the running one, read ahead first. */
  loopRest?: { task: Task; scopes: TaskScope[] };
  private firstAt?: number;

  constructor(readonly name: string) {}

  get active(): boolean {
    return this.status === 'active';
  }

  count(status: keyof Omit<HostRecap, 'durationMs'>): void {
    const now = Date.now();
    this.firstAt ??= now;
    this.recap[status]++;
    this.recap.durationMs = now - this.firstAt;
  }

  started(): void {
    this.firstAt ??= Date.now();
  }
}
