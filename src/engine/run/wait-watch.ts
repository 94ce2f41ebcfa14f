/**
 * Every wait says what it waits for and how long is left. A task that has been at work on a host
 * for more than a few seconds reports, every so often, what it is waiting for at that moment (its
 * turn under throttle, other hosts, the module's work on the host, an `until` condition) and, when
 * something bounds it, how much of that bound is left. One watch per task and host, kept by the
 * task runner: modules and roles only say what bounds them (Plan.waitsUpTo, Module.waitsUpTo).
 */
import type { Reporter } from '../events.js';

/** A task quiet for this long gets its first progress line ... */
export const WAIT_NOTICE_AFTER_MS = 10_000;
/** ... and another one this often while it lasts. */
export const WAIT_NOTICE_EVERY_MS = 30_000;

export interface WatchTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: WatchTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class TaskWatch {
  private readonly started: number;
  private waitingFor: string;
  /** When what is waited for gives up (ms, on the timers' clock), when something bounds it. */
  private deadline: number | undefined;
  private timer: unknown;
  private stopped = false;

  constructor(
    private readonly reporter: Reporter,
    private readonly host: string,
    private readonly taskId: string,
    private readonly task: string,
    initially: string,
    private readonly timers: WatchTimers = REAL_TIMERS,
  ) {
    this.started = timers.now();
    this.waitingFor = initially;
    this.schedule(WAIT_NOTICE_AFTER_MS);
  }

  /** What the task waits for from now on; `upToSeconds` bounds it, when something does. */
  phase(waitingFor: string, upToSeconds?: number): void {
    this.waitingFor = waitingFor;
    this.deadline =
      upToSeconds !== undefined && Number.isFinite(upToSeconds) ? this.timers.now() + upToSeconds * 1000 : undefined;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    this.timer = this.timers.setTimeout(() => this.notice(), ms);
  }

  private notice(): void {
    if (this.stopped) return;
    const now = this.timers.now();
    this.reporter.onEvent({
      kind: 'task_waiting',
      host: this.host,
      taskId: this.taskId,
      task: this.task,
      waitingFor: this.waitingFor,
      elapsedSeconds: Math.round((now - this.started) / 1000),
      ...(this.deadline !== undefined ? { leftSeconds: Math.max(0, Math.round((this.deadline - now) / 1000)) } : {}),
    });
    this.schedule(WAIT_NOTICE_EVERY_MS);
  }
}
