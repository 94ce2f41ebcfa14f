/**
 * Issue 16 #9: when plays run side by side (`furrow deploy all`), every task line says which role
 * it comes from, and a terminal gets a live line: tasks done of planned, and what each host is
 * running, the longest-running first. Not a terminal: plain lines only. The pure line, the
 * reporter with a clock of the test's own, and a real run on local hosts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Reporter, RunEvent } from '../../../src/engine/events.js';
import {
  ConsoleReporter,
  statusLine,
  type RunningTask,
  type StatusClock,
} from '../../../src/engine/reporters/console.js';
import { runPlaybook } from '../../../src/engine/run/runner.js';
import { modules } from '../../../src/modules/index.js';
import { screen } from '../../support/screen.js';

/** What a terminal shows: each \r\x1b[2K wipes the line being drawn. */
const shown = (raw: string) => raw.split('\n').map((line) => line.split('\r\x1b[2K').pop()!);

class ManualClock implements StatusClock {
  at = 0;
  ticks: (() => void)[] = [];
  now = (): number => this.at;
  every = (_ms: number, fn: () => void): (() => void) => {
    this.ticks.push(fn);
    return () => (this.ticks = this.ticks.filter((t) => t !== fn));
  };
  advance(ms: number): void {
    this.at += ms;
    for (const t of this.ticks) t();
  }
}

describe('statusLine', () => {
  const running = new Map<string, RunningTask>([
    ['h1', { task: 'Write the kube-lb config', role: 'kube-lb', since: 9_000 }],
    ['h2', { task: 'Wait until this member is healthy', role: 'etcd', since: 2_000 }],
    ['h3', { task: 'Gather facts', since: 9_500 }],
  ]);
  const done = new Map([
    ['h1', 12],
    ['h2', 9],
    ['h3', 0],
  ]);
  const planned = { h1: 30, h2: 14, h3: 30 };

  test('tasks done of planned, then each busy host, the one running longest first', () => {
    expect(statusLine(running, done, planned, 16_400, 200)).toBe(
      '[21/74] h2 9/14 etcd | Wait until this member is healthy 14s h1 12/30 kube-lb | Write the kube-lb config 7s ' +
        'h3 0/30 Gather facts 6s',
    );
  });

  test('cut to the terminal: the hosts that do not fit are counted', () => {
    const line = statusLine(running, done, planned, 16_400, 80);
    expect(line).toBe('[21/74] h2 9/14 etcd | Wait until this member is healthy 14s +2 more');
    expect(line.length).toBeLessThan(80);
    expect(statusLine(running, done, planned, 16_400, 20)).toBe('[21/74] +3 more');
    expect(statusLine(running, done, planned, 16_400, 6)).toBe('[21/7');
  });

  test('a host past its plan (a rescue ran) counts as done, not more', () => {
    expect(statusLine(new Map(), new Map([['h1', 40]]), { h1: 30, h2: 5 }, 0, 80)).toBe('[30/35]');
  });
});

describe('ConsoleReporter', () => {
  const start: RunEvent = {
    kind: 'run_start',
    runId: 'r',
    playbook: 'playbooks/02.etcd.yml',
    inventory: '/c/hosts',
    check: false,
    at: '',
    planned: { h1: 2, h2: 2 },
  };
  const begin = (host: string, task: string, role?: string): RunEvent => ({
    kind: 'task_start',
    host,
    taskId: `${role}:${task}`,
    task,
    handler: false,
    ...(role ? { role } : {}),
  });
  const result = (host: string, task: string, role?: string, handler = false): RunEvent => ({
    kind: 'task_result',
    host,
    taskId: `${role}:${task}`,
    task,
    status: 'changed',
    handler,
    ...(role ? { role } : {}),
    durationMs: 63,
  });

  /** A reporter writing to a terminal (or not), with a clock the test moves. */
  const reporterOn = (isTTY: boolean) => {
    const clock = new ManualClock();
    const s = screen(isTTY);
    return { clock, s, console: new ConsoleReporter({ diff: false }, s.out, clock) };
  };

  test('on a terminal: the live line follows the work, its time moves each second, and it is gone at the end', () => {
    const { clock, s, console } = reporterOn(true);
    console.onEvent(start);
    console.onEvent(begin('h1', 'Write the etcd unit', 'etcd'));
    clock.advance(1000);
    console.onEvent(begin('h2', 'Check the kernel', undefined));
    clock.advance(2000);
    expect(shown(s.text()).pop()).toBe('[0/4] h1 0/2 etcd | Write the etcd unit 3s h2 0/2 Check the kernel 2s');
    console.onEvent(result('h1', 'Write the etcd unit', 'etcd'));
    expect(shown(s.text()).slice(-2)).toEqual([
      'h1 etcd | changed: Write the etcd unit (63 ms)',
      '[1/4] h2 0/2 Check the kernel 2s',
    ]);
    console.onEvent(result('h2', 'Check the kernel'));
    console.onEvent(result('h1', 'restart etcd', 'etcd', true)); // a handler is on top of the plan
    console.onEvent({ kind: 'run_end', recap: {}, durationMs: 3000 });
    const lines = shown(s.text());
    expect(lines).toContain('h2 changed: Check the kernel (63 ms)');
    expect(lines).toContain('h1 etcd | changed: handler: restart etcd (63 ms)');
    expect(lines.slice(-3)).toEqual(['RECAP', '(3.00 s)', '']);
    expect(clock.ticks).toEqual([]); // no tick draws after the recap
  });

  test('not a terminal: plain lines, no status line nor escape codes, the role still named', () => {
    const { clock, s, console } = reporterOn(false);
    console.onEvent(start);
    console.onEvent(begin('h1', 'Write the etcd unit', 'etcd'));
    clock.advance(5000);
    console.onEvent({
      kind: 'task_waiting',
      host: 'h1',
      taskId: 't',
      task: 'Write the etcd unit',
      waitingFor: 'a command',
      elapsedSeconds: 10,
    });
    console.onEvent(result('h1', 'Write the etcd unit', 'etcd'));
    expect(s.text()).toBe(
      'furrow run playbooks/02.etcd.yml\n' +
        'h1 etcd | still waiting: Write the etcd unit (10 s so far): for a command; no time limit known\n' +
        'h1 etcd | changed: Write the etcd unit (63 ms)\n',
    );
    expect(clock.ticks).toEqual([]);
  });
});

describe('a real run on local hosts, plays side by side as in deploy all', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-console-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  class Collect implements Reporter {
    readonly events: RunEvent[] = [];
    onEvent(e: RunEvent): void {
      this.events.push(e);
    }
  }

  test("each line names its role; run_start's plan is what each host then reports", async () => {
    const role = (name: string, tasks: string) => {
      mkdirSync(path.join(dir, 'roles', name, 'tasks'), { recursive: true });
      writeFileSync(path.join(dir, 'roles', name, 'tasks', 'main.yml'), tasks);
    };
    role(
      'first',
      `- name: Mark the first role\n  command: "true"\n  changed_when: true\n- block:\n    - name: Inside a block\n  ` +
        `    command: "true"\n  always:\n    - name: Always after it\n      command: "true"\n`,
    );
    role('second', `- name: Mark the second role\n  command: "true"\n  when: inventory_hostname == "b"\n`);
    const inventory = path.join(dir, 'hosts.yml');
    writeFileSync(inventory, 'all:\n  vars: {ansible_connection: local}\n  hosts: {a: {}, b: {}}\n');
    const one = path.join(dir, 'one.yml');
    const two = path.join(dir, 'two.yml');
    writeFileSync(
      one,
      `- hosts: all\n  gather_facts: false\n  roles: [first]\n  tasks:\n    - name: A task of the playbook's own\n   ` +
        `   command: "true"\n`,
    );
    writeFileSync(two, `- hosts: b\n  gather_facts: false\n  roles: [second]\n`);
    const s = screen(false);
    const events = new Collect();
    const summary = await runPlaybook({
      modules,
      playbook: one,
      morePlaybooks: [two],
      joinPlays: false,
      inventory,
      runsDir: path.join(dir, 'runs'),
      knownHostsFile: path.join(dir, 'kh'),
      reporters: [new ConsoleReporter({ diff: false }, s.out), events],
    });
    expect(summary.exitCode).toBe(0);
    const lines = s
      .text()
      .split('\n')
      .map((l) => l.replace(/ \(\d+ ms\)$/, ''));
    for (const h of ['a', 'b']) {
      expect(lines).toEqual(
        expect.arrayContaining([
          `${h} first | changed: Mark the first role`,
          `${h} first | changed: Inside a block`,
          `${h} changed: A task of the playbook's own`,
        ]),
      );
    }
    expect(lines).toContain('b second | changed: Mark the second role');
    expect(lines.filter((l) => l.includes('second |'))).toEqual(['b second | changed: Mark the second role']);
    const head = events.events.find((e) => e.kind === 'run_start');
    const reported = (h: string) =>
      events.events.filter((e) => e.kind === 'task_result' && e.host === h && !e.handler && e.taskId !== 'facts')
        .length;
    expect(head?.kind === 'run_start' && head.planned).toEqual({ a: 4, b: 5 });
    expect({ a: reported('a'), b: reported('b') }).toEqual({ a: 4, b: 5 });
  }, 60_000);
});
