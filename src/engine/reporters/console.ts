import type { Diff } from '../module.js';
import type { HostRecap, Reporter, RunEvent } from '../events.js';

const MARK: Record<string, string> = { ok: 'ok', changed: 'changed', failed: 'FAILED', skipped: 'skipped', unreachable: 'UNREACHABLE' };

export function formatDiff(diff: Diff | undefined): string[] {
  if (!diff) return [];
  const lines: string[] = [];
  for (const v of diff.values ?? []) lines.push(`    ${v.key}: ${JSON.stringify(v.before)} -> ${JSON.stringify(v.after)}`);
  if (diff.unified) for (const l of diff.unified.replace(/\n$/, '').split('\n')) lines.push(`    ${l}`);
  if (diff.hidden) lines.push(`    (${diff.hidden})`);
  return lines;
}

export function formatRecap(recap: Record<string, HostRecap>): string[] {
  const width = Math.max(8, ...Object.keys(recap).map((h) => h.length));
  return Object.entries(recap).map(
    ([host, r]) =>
      `${host.padEnd(width)}  ok=${r.ok} changed=${r.changed} failed=${r.failed} skipped=${r.skipped} unreachable=${r.unreachable} ignored=${r.ignored}  ${(r.durationMs / 1000).toFixed(2)} s`,
  );
}

/**
 * Human output: one line per task result (each starting with the host), diffs under changed tasks
 * with --diff, and the recap. On a terminal, a status line at the bottom shows each host's
 * current task and counts.
 */
export class ConsoleReporter implements Reporter {
  private readonly current = new Map<string, string>();
  private readonly done = new Map<string, number>();
  private statusShown = false;

  constructor(
    private readonly opts: { diff: boolean; verbose?: boolean },
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {}

  private get live(): boolean {
    return !!this.out.isTTY;
  }

  private print(lines: string[]): void {
    if (this.live && this.statusShown) this.out.write('\r\x1b[2K');
    if (lines.length) this.out.write(`${lines.join('\n')}\n`);
    this.statusShown = false;
    if (this.live && this.current.size) this.drawStatus();
  }

  private drawStatus(): void {
    const cols = this.out.columns ?? 100;
    const parts = [...this.current].map(([h, t]) => `${h}: ${t} (${this.done.get(h) ?? 0})`);
    this.out.write(parts.join(' | ').slice(0, cols - 1));
    this.statusShown = true;
  }

  onEvent(e: RunEvent): void {
    switch (e.kind) {
      case 'run_start':
        return this.print([`furrow run ${e.playbook}${e.check ? ' (check mode: nothing will change)' : ''}`]);
      case 'play_start':
        return this.print([``, `PLAY ${e.play} [${e.hosts.join(', ')}]`]);
      case 'task_start':
        this.current.set(e.host, e.task);
        return this.live ? this.print([]) : undefined;
      case 'task_result': {
        this.done.set(e.host, (this.done.get(e.host) ?? 0) + 1);
        if (e.status === 'skipped' && !this.opts.verbose) return this.live ? this.print([]) : undefined;
        const item = e.item !== undefined ? ` (item=${e.item})` : '';
        const lines = [`${e.host} ${MARK[e.status]}: ${e.handler ? 'handler: ' : ''}${e.task}${item} (${e.durationMs} ms)`];
        if (e.print !== undefined) lines.push(...e.print.split('\n').map((l) => `    ${l}`));
        else if (e.msg && (e.status === 'failed' || e.status === 'unreachable' || this.opts.verbose)) lines.push(...e.msg.split('\n').map((l) => `    ${l}`));
        if (this.opts.diff && (e.status === 'changed' || e.diff)) lines.push(...formatDiff(e.diff));
        return this.print(lines);
      }
      case 'task_retry':
        return this.print([`${e.host} retrying: ${e.task} (attempt ${e.attempt} not there yet; ${e.retriesLeft} more, about ${e.retriesLeft * e.delaySeconds} s left)`]);
      case 'task_waiting':
        return this.print([`${e.host} still waiting: ${e.task} (${e.elapsedSeconds} s so far): for ${e.waitingFor}; ${e.leftSeconds !== undefined ? `at most ${e.leftSeconds} s left` : 'no time limit known'}`]);
      case 'lock_wait':
        return this.print([`${e.host} waiting: another run holds ${e.file} (${e.holder}); this run goes on when it ends`]);
      case 'lock_acquired':
        return this.print([`${e.host} lock taken after ${(e.waitedMs / 1000).toFixed(1)} s of waiting`]);
      case 'play_end':
        return e.aborted ? this.print([`PLAY ${e.play} stopped: ${e.aborted}`]) : undefined;
      case 'warning':
        return this.print([`${e.host ?? 'furrow'} warning: ${e.message}`]);
      case 'run_end':
        this.current.clear();
        return this.print(['', 'RECAP', ...formatRecap(e.recap), `(${(e.durationMs / 1000).toFixed(2)} s)`]);
    }
  }
}
