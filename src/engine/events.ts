import type { Diff } from './module.js';

/** What happened to one task on one host. `unreachable` is not a failure of the task. */
export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

export interface HostRecap {
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: number;
  /** Tasks that failed under ignore_errors (not counted as ok or failed, as in Ansible). */
  ignored: number;
  /** Time from the host's first to its last task, in ms. */
  durationMs: number;
}

/**
 * Everything a run tells the outside, as one union keyed on `kind`. Reporters (console, JSON lines,
 * journal) consume it; only reporters print.
 */
export type RunEvent =
  | {
      kind: 'run_start';
      runId: string;
      playbook: string;
      inventory: string;
      check: boolean;
      at: string;
      /** With --resume: hosts left out because they had finished (a later --resume leaves them out too). */
      finished?: string[];
      /** How many tasks each host is to run (see `plannedTasks`): the console's done/total. */
      planned?: Record<string, number>;
    }
  | { kind: 'play_start'; play: string; index: number; hosts: string[] }
  /** `role`: the role the task comes from; absent for a playbook's own tasks. */
  | { kind: 'task_start'; host: string; taskId: string; task: string; handler: boolean; role?: string }
  | {
      kind: 'task_result';
      host: string;
      taskId: string;
      task: string;
      status: TaskStatus;
      handler: boolean;
      role?: string;
      msg?: string;
      /** Output the user asked to see (debug): shown even without --verbose. */
      print?: string;
      diff?: Diff;
      item?: string;
      /** A failure that ignore_errors let pass: status is 'ok', the recap counts it as ignored. */
      ignored?: boolean;
      /** A failed handler: the flush_handlers task where --resume starts again (handlers first). */
      resumeAt?: string;
      durationMs: number;
    }
  /** The handlers a host has been notified of and not yet run: --resume runs them (journal only needs the last). */
  | { kind: 'handlers_pending'; host: string; handlers: string[] }
  /** A task with `until` whose condition does not hold yet: it runs again after delaySeconds. */
  | {
      kind: 'task_retry';
      host: string;
      taskId: string;
      task: string;
      attempt: number;
      retriesLeft: number;
      delaySeconds: number;
    }
  /**
   * A task at work on a host for a while: what it waits for now, how long it has been at it, and
   * (when something bounds the wait) how much is left. The first after 10 s, then every 30 s.
   */
  | {
      kind: 'task_waiting';
      host: string;
      taskId: string;
      task: string;
      waitingFor: string;
      elapsedSeconds: number;
      leftSeconds?: number;
    }
  /** Another run holds this host's lock (its controller, PID and start time): this run waits for it. */
  | { kind: 'lock_wait'; host: string; file: string; holder: string }
  /** The lock this run waited for is now its own. */
  | { kind: 'lock_acquired'; host: string; file: string; waitedMs: number }
  | { kind: 'play_end'; play: string; index: number; aborted?: string }
  | { kind: 'warning'; host?: string; message: string }
  | { kind: 'run_end'; recap: Record<string, HostRecap>; durationMs: number };

export interface Reporter {
  onEvent(event: RunEvent): void;
  close?(): Promise<void>;
}

/** Sends each event to every reporter (nx's CompositeLifeCycle). */
export class CompositeReporter implements Reporter {
  constructor(private readonly reporters: Reporter[]) {}
  onEvent(event: RunEvent): void {
    for (const r of this.reporters) r.onEvent(event);
  }
  async close(): Promise<void> {
    for (const r of this.reporters) await r.close?.();
  }
}
