import type { Diff } from '../module.js';
import type { HostRecap, Reporter, RunEvent } from '../events.js';

const MARK: Record<string, string> = {
  ok: 'ok',
  changed: 'changed',
  failed: 'FAILED',
  skipped: 'skipped',
  unreachable: 'UNREACHABLE',
};

export function formatDiff(diff: Diff | undefined): string[] {
  if (!diff) return [];
  const lines: string[] = [];
  for (const v of diff.values ?? [])
    lines.push(`    ${v.key}: ${JSON.stringify(v.before)} -> ${JSON.stringify(v.after)}`);
  if (diff.unified) for (const l of diff.unified.replace(/\n$/, '').split('\n')) lines.push(`    ${l}`);
  if (diff.hidden) lines.push(`    (${diff.hidden})`);
  return lines;
}

export function formatRecap(recap: Record<string, HostRecap>): string[] {
  const width = Math.max(8, ...Object.keys(recap).map((h) => h.length));
  return Object.entries(recap).map(
    ([host, r]) =>
      `${host.padEnd(width)}  ok=${r.ok} changed=${r.changed} failed=${r.failed} skipped=${r.skipped} ` +
      `unreachable=${r.unreachable} ignored=${r.ignored}  ${(r.durationMs / 1000).toFixed(2)} s`,
  );
}

/** What the status line needs of time: the clock, and a repeating tick (tests bring their own). */
export interface StatusClock {
  now(): number;
  /** Calls fn every ms until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

const SYSTEM_CLOCK: StatusClock = {
  now: () => Date.now(),
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    timer.unref(); // the status line never keeps the process alive
    return () => clearInterval(timer);
  },
};

/** A task under way on a host, for the status line. */
export interface RunningTask {
  task: string;
  role?: string;
  since: number;
}

/** `etcd | ` for a role's task: the line says where it comes from when plays run side by side. */
const from = (role: string | undefined) => (role ? `${role} | ` : '');

/**
 * The live line under the output: tasks done of all planned, then each busy host with its own
 * done/planned and its running task, the one running longest first, cut to the terminal's width.
 */
export function statusLine(
  running: Map<string, RunningTask>,
  done: Map<string, number>,
  planned: Record<string, number>,
  now: number,
  columns: number,
): string {
  // A host past its plan (a rescue ran) counts as done, not more.
  const doneOf = (h: string) => Math.min(done.get(h) ?? 0, planned[h] ?? 0);
  const count = (h: string) => `${doneOf(h)}/${planned[h] ?? 0}`;
  const hosts = Object.keys(planned);
  const total = hosts.reduce((n, h) => n + (planned[h] ?? 0), 0);
  const finished = hosts.reduce((n, h) => n + doneOf(h), 0);
  const busy = [...running].sort(([, a], [, b]) => a.since - b.since);
  const head = `[${finished}/${total}]`;
  const max = columns - 1;
  let line = head;
  for (const [i, [host, t]] of busy.entries()) {
    const part = ` ${host} ${count(host)} ${from(t.role)}${t.task} ${Math.floor((now - t.since) / 1000)}s`;
    const left = busy.length - i - 1;
    const more = left ? ` +${left} more` : '';
    if ((line + part + more).length > max) {
      const rest = ` +${busy.length - i} more`;
      return (line + rest).length <= max ? line + rest : line.slice(0, max);
    }
    line += part;
  }
  return line.slice(0, max);
}

/**
 * Human output: one line per task result, starting with the host and, for a role's task, the
 * role (`h1 etcd | changed: Write the etcd unit`), diffs under changed tasks with --diff, and the
 * recap. On a terminal, a status line at the bottom shows tasks done of planned and what each
 * host is running, updated every second; not on a terminal, plain lines only.
 */
export class ConsoleReporter implements Reporter {
  private readonly running = new Map<string, RunningTask>();
  private readonly done = new Map<string, number>();
  private planned: Record<string, number> = {};
  private statusShown = false;
  private stopTicking: (() => void) | undefined;

  constructor(
    private readonly opts: { diff: boolean; verbose?: boolean },
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly clock: StatusClock = SYSTEM_CLOCK,
  ) {}

  private get live(): boolean {
    return !!this.out.isTTY;
  }

  private print(lines: string[]): void {
    if (this.live && this.statusShown) this.out.write('\r\x1b[2K');
    if (lines.length) this.out.write(`${lines.join('\n')}\n`);
    this.statusShown = false;
    if (this.live && this.running.size) this.drawStatus();
  }

  private drawStatus(): void {
    // 0: a terminal of unknown width
    this.out.write(statusLine(this.running, this.done, this.planned, this.clock.now(), this.out.columns || 100));
    this.statusShown = true;
  }

  /** While a task runs, the line is redrawn every second so its time moves. */
  private tick(): void {
    if (!this.live || this.stopTicking) return;
    this.stopTicking = this.clock.every(1000, () => this.print([]));
  }

  async close(): Promise<void> {
    this.stopTicking?.();
    this.stopTicking = undefined;
  }

  /** `h1 etcd | ` for the host's running task: retry and wait lines say where they come from too. */
  private who(host: string): string {
    return `${host} ${from(this.running.get(host)?.role)}`;
  }

  onEvent(e: RunEvent): void {
    switch (e.kind) {
      case 'run_start':
        this.planned = e.planned ?? {};
        return this.print([`furrow run ${e.playbook}${e.check ? ' (check mode: nothing will change)' : ''}`]);
      case 'play_start':
        return this.print([``, `PLAY ${e.play} [${e.hosts.join(', ')}]`]);
      case 'task_start':
        this.running.set(e.host, { task: e.task, ...(e.role ? { role: e.role } : {}), since: this.clock.now() });
        this.tick();
        return this.live ? this.print([]) : undefined;
      case 'task_result': {
        this.running.delete(e.host);
        // Progress counts the planned tasks: handlers and fact gathering come on top of them.
        if (!e.handler && e.taskId !== 'facts') this.done.set(e.host, (this.done.get(e.host) ?? 0) + 1);
        if (e.status === 'skipped' && !this.opts.verbose) return this.live ? this.print([]) : undefined;
        const item = e.item !== undefined ? ` (item=${e.item})` : '';
        const lines = [
          `${e.host} ${from(e.role)}${MARK[e.status]}: ${e.handler ? 'handler: ' : ''}${e.task}${item} ` +
            `(${e.durationMs} ms)`,
        ];
        if (e.print !== undefined) lines.push(...e.print.split('\n').map((l) => `    ${l}`));
        else if (e.msg && (e.status === 'failed' || e.status === 'unreachable' || this.opts.verbose))
          lines.push(...e.msg.split('\n').map((l) => `    ${l}`));
        if (this.opts.diff && (e.status === 'changed' || e.diff)) lines.push(...formatDiff(e.diff));
        return this.print(lines);
      }
      case 'task_retry':
        return this.print([
          `${this.who(e.host)}retrying: ${e.task} (attempt ${e.attempt} not there yet; ${e.retriesLeft} more, about ` +
            `${e.retriesLeft * e.delaySeconds} s left)`,
        ]);
      case 'task_waiting':
        return this.print([
          `${this.who(e.host)}still waiting: ${e.task} (${e.elapsedSeconds} s so far): for ${e.waitingFor}; ` +
            `${e.leftSeconds !== undefined ? `at most ${e.leftSeconds} s left` : 'no time limit known'}`,
        ]);
      case 'lock_wait':
        return this.print([
          `${e.host} waiting: another run holds ${e.file} (${e.holder}); this run goes on when it ends`,
        ]);
      case 'lock_acquired':
        return this.print([`${e.host} lock taken after ${(e.waitedMs / 1000).toFixed(1)} s of waiting`]);
      case 'play_end':
        return e.aborted ? this.print([`PLAY ${e.play} stopped: ${e.aborted}`]) : undefined;
      case 'warning':
        return this.print([`${e.host ?? 'furrow'} warning: ${e.message}`]);
      case 'run_end':
        this.running.clear();
        void this.close();
        return this.print(['', 'RECAP', ...formatRecap(e.recap), `(${(e.durationMs / 1000).toFixed(2)} s)`]);
    }
  }
}
