/**
 * Issue 15 #18: every wait says what it waits for and how long is left. The watch alone (with a
 * clock of the test's own), the console line, and a real run on local hosts where one host waits
 * on an until condition, one runs a long command and one waits for its turn under throttle.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Reporter, RunEvent } from '../../../src/engine/events.js';
import { ConsoleReporter } from '../../../src/engine/reporters/console.js';
import { runPlaybook } from '../../../src/engine/run/runner.js';
import {
  TaskWatch,
  WAIT_NOTICE_AFTER_MS,
  WAIT_NOTICE_EVERY_MS,
  type WatchTimers,
} from '../../../src/engine/run/wait-watch.js';
import { modules } from '../../../src/modules/index.js';
import { screen } from '../../support/screen.js';

type Waiting = Extract<RunEvent, { kind: 'task_waiting' }>;

class Collect implements Reporter {
  readonly events: RunEvent[] = [];
  onEvent(e: RunEvent): void {
    this.events.push(e);
  }
  get waiting(): Waiting[] {
    return this.events.filter((e): e is Waiting => e.kind === 'task_waiting');
  }
}

/** A clock the test moves by hand. */
class ManualTimers implements WatchTimers {
  at = 0;
  private pending: { due: number; fn: () => void }[] = [];
  now = (): number => this.at;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const t = { due: this.at + ms, fn };
    this.pending.push(t);
    return t;
  };
  clearTimeout = (h: unknown): void => {
    this.pending = this.pending.filter((t) => t !== h);
  };
  advance(ms: number): void {
    const until = this.at + ms;
    for (;;) {
      const next = this.pending.filter((t) => t.due <= until).sort((x, y) => x.due - y.due)[0];
      if (!next) break;
      this.pending = this.pending.filter((t) => t !== next);
      this.at = next.due;
      next.fn();
    }
    this.at = until;
  }
}

describe('TaskWatch', () => {
  test('quiet for the first seconds, then a line every so often: what it waits for, and what is left', () => {
    const timers = new ManualTimers();
    const r = new Collect();
    const watch = new TaskWatch(
      r,
      'h1',
      'roles/etcd/tasks/main.yml:97',
      'Start etcd now and at boot',
      'systemd on the host',
      timers,
    );
    timers.advance(2000);
    watch.phase('systemd: etcd.service is inactive, wants started', 300);
    timers.advance(WAIT_NOTICE_AFTER_MS - 2000 - 1);
    expect(r.waiting).toEqual([]); // a short task says nothing
    timers.advance(1);
    timers.advance(WAIT_NOTICE_EVERY_MS);
    expect(
      r.waiting.map(({ waitingFor, elapsedSeconds, leftSeconds }) => [waitingFor, elapsedSeconds, leftSeconds]),
    ).toEqual([
      ['systemd: etcd.service is inactive, wants started', 10, 292],
      ['systemd: etcd.service is inactive, wants started', 40, 262],
    ]);
    watch.phase('a command'); // no bound: no leftSeconds
    timers.advance(WAIT_NOTICE_EVERY_MS);
    expect(r.waiting[2]).toEqual({
      kind: 'task_waiting',
      host: 'h1',
      taskId: 'roles/etcd/tasks/main.yml:97',
      task: 'Start etcd now and at boot',
      waitingFor: 'a command',
      elapsedSeconds: 70,
    });
    watch.stop();
    timers.advance(10 * WAIT_NOTICE_EVERY_MS);
    expect(r.waiting).toHaveLength(3);
  });

  test('the console line names host, task, what it waits for and the time left (or that none is known)', () => {
    const { out, text: written } = screen();
    const console = new ConsoleReporter({ diff: false }, out);
    console.onEvent({
      kind: 'task_waiting',
      host: 'h1',
      taskId: 't',
      task: 'Wait until this member is healthy',
      waitingFor: 'its until condition (attempt 12 of 301 next)',
      elapsedSeconds: 40,
      leftSeconds: 260,
    });
    console.onEvent({
      kind: 'task_waiting',
      host: 'h2',
      taskId: 't',
      task: 'restart etcd',
      waitingFor: 'shell: the command runs',
      elapsedSeconds: 10,
    });
    expect(written()).toBe(
      'h1 still waiting: Wait until this member is healthy (40 s so far): for its until condition (attempt 12 of 301 ' +
        'next); at most 260 s left\n' +
        'h2 still waiting: restart etcd (10 s so far): for shell: the command runs; no time limit known\n',
    );
  });
});

describe('waits in a real run (local hosts)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-waits-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('an until loop, a long command and a throttled turn each report what they wait for', async () => {
    const inventory = path.join(dir, 'hosts.yml');
    writeFileSync(inventory, 'all:\n  vars: {ansible_connection: local}\n  hosts: {a: {}, b: {}, c: {}}\n');
    const file = path.join(dir, 'site.yml');
    writeFileSync(
      file,
      `- hosts: all
  gather_facts: false
  tasks:
    - name: Wait for what never comes
      command: "false"
      register: probe
      until: probe.rc == 0
      retries: 11
      delay: 1
      ignore_errors: true
      when: inventory_hostname == "a"
    - name: One at a time
      command: sleep 11
      throttle: 1
      when: inventory_hostname != "a"
`,
    );
    const r = new Collect();
    const summary = await runPlaybook({
      modules,
      playbook: file,
      inventory,
      runsDir: path.join(dir, 'runs'),
      knownHostsFile: path.join(dir, 'kh'),
      reporters: [r],
    });
    expect(summary.exitCode).toBe(0);
    const of = (host: string, task: string) => r.waiting.filter((e) => e.host === host && e.task === task);
    const until = of('a', 'Wait for what never comes');
    expect(until.length).toBeGreaterThanOrEqual(1);
    expect(until[0]!.waitingFor).toMatch(/^its until condition \(attempt \d+ of 12 next\)$/);
    expect(until[0]!.leftSeconds).toBeLessThanOrEqual(11);
    // b and c take turns: the one that goes first runs its command (no bound known), the other
    // waits for its turn, and says so.
    const naps = [...of('b', 'One at a time'), ...of('c', 'One at a time')];
    expect(naps.map((e) => e.waitingFor)).toEqual(
      expect.arrayContaining(['command: runs: sleep 11', 'its turn (throttle: 1 host at a time)']),
    );
    expect(naps.every((e) => e.leftSeconds === undefined && e.elapsedSeconds >= 10)).toBe(true);
  }, 90_000);
});
