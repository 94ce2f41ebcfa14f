/**
 * Issue 15, --resume and handlers, and loops with ignore_errors, on local hosts: every task really
 * runs (shell commands, files in a temp folder), and the journal is the real one.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Reporter, RunEvent } from '../../../src/engine/events.js';
import { runPlaybook } from '../../../src/engine/run/runner.js';
import { modules } from '../../../src/modules/index.js';

type Result = Extract<RunEvent, { kind: 'task_result' }>;

class Collect implements Reporter {
  readonly events: RunEvent[] = [];
  onEvent(e: RunEvent): void {
    this.events.push(e);
  }
  get results(): Result[] {
    return this.events.filter((e): e is Result => e.kind === 'task_result');
  }
  ran(task: string): string[] {
    return this.results.filter((e) => e.task === task).map((e) => `${e.host}:${e.status}`);
  }
  get warnings(): string[] {
    return this.events.flatMap((e) => (e.kind === 'warning' ? [e.message] : []));
  }
}

describe('--resume and handlers (local hosts)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-resume-'));
  const work = path.join(dir, 'work');
  const runs = path.join(dir, 'runs');
  const inventory = path.join(dir, 'hosts.yml');
  writeFileSync(inventory, `all:\n  vars: {ansible_connection: local, work: ${work}}\n  hosts: {a: {}}\n`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(runs, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
  });

  async function run(yaml: string, resume = false) {
    const file = path.join(dir, 'site.yml');
    writeFileSync(file, yaml);
    const reporter = new Collect();
    const summary = await runPlaybook({
      modules,
      playbook: file,
      inventory,
      runsDir: runs,
      knownHostsFile: path.join(dir, 'kh'),
      reporters: [reporter],
      resume,
    });
    return { summary, r: reporter };
  }
  const log = () => (existsSync(path.join(work, 'log')) ? readFileSync(path.join(work, 'log'), 'utf8') : '');

  const failingHandler = `- hosts: all
  gather_facts: false
  tasks:
    - name: Change the config
      copy: {dest: "{{ work }}/app.conf", content: "v1\\n"}
      notify: Restart app
  post_tasks:
    - name: After
      shell: echo after >> {{ work }}/log
  handlers:
    - name: Restart app
      shell: test -f {{ work }}/app-can-start && echo restarted >> {{ work }}/log
`;

  test('a failed handler runs again on --resume, and everything after it (post_tasks)', async () => {
    const first = await run(failingHandler);
    expect(first.summary.exitCode).toBe(1);
    expect(first.r.ran('Restart app')).toEqual(['a:failed']);
    expect(log()).toBe('');
    writeFileSync(path.join(work, 'app-can-start'), '');
    const resumed = await run(failingHandler, true);
    expect(resumed.summary.exitCode).toBe(0);
    expect(resumed.r.ran('Change the config')).toEqual([]); // done before: not again
    expect(resumed.r.ran('Restart app')).toEqual(['a:changed']);
    expect(log()).toBe('restarted\nafter\n');
  });

  test('handlers notified before a failure are kept in the journal and run on --resume', async () => {
    const yaml = `- hosts: all
  gather_facts: false
  tasks:
    - name: Change the config
      copy: {dest: "{{ work }}/app.conf", content: "v1\\n"}
      notify: Restart app
    - name: Gate
      command: test -f {{ work }}/go
    - name: Last
      shell: echo last >> {{ work }}/log
  handlers:
    - name: Restart app
      shell: echo restarted >> {{ work }}/log
`;
    const first = await run(yaml);
    expect(first.summary.exitCode).toBe(1);
    expect(log()).toBe('');
    writeFileSync(path.join(work, 'go'), '');
    const resumed = await run(yaml, true);
    expect(resumed.summary.exitCode).toBe(0);
    // unchanged now: without the journal the restart would be lost
    expect(resumed.r.ran('Change the config')).toEqual([]);
    expect(log()).toBe('last\nrestarted\n');
  });

  test('a torn last journal line is ignored with a warning, not a crash', async () => {
    const first = await run(failingHandler);
    expect(first.summary.exitCode).toBe(1);
    appendFileSync(first.summary.journal, '{"kind":"task_result","host":"a","ta');
    writeFileSync(path.join(work, 'app-can-start'), '');
    const resumed = await run(failingHandler, true);
    expect(resumed.summary.exitCode).toBe(0);
    expect(resumed.r.warnings.join('\n')).toMatch(/journal's last line is torn .*ignored/);
    expect(log()).toBe('restarted\nafter\n');
  });

  test('--resume after a run that finished everywhere says there is nothing to resume', async () => {
    const yaml = `- hosts: all
  gather_facts: false
  tasks:
    - {name: Step, shell: "echo step >> {{ work }}/log"}
`;
    expect((await run(yaml)).summary.exitCode).toBe(0);
    const again = await run(yaml, true);
    expect(again.summary.exitCode).toBe(0);
    expect(again.r.results).toEqual([]);
    expect(again.r.warnings).toEqual([
      expect.stringMatching(/^nothing to resume: the last run of .*site\.yml finished on every host/),
    ]);
    expect(log()).toBe('step\n');
  });

  test('a loop with ignore_errors runs every item, and the recap counts the ignored failure', async () => {
    const yaml = (ignore: boolean) => `- hosts: all
  gather_facts: false
  tasks:
    - name: Each
      shell: echo {{ item }} >> {{ work }}/log && test {{ item }} = c
      loop: [a, b, c]
      ignore_errors: ${ignore}
    - {name: Next, shell: "echo next >> {{ work }}/log"}
`;
    const ignored = await run(yaml(true));
    expect(ignored.summary.exitCode).toBe(0);
    expect(log()).toBe('a\nb\nc\nnext\n');
    expect(ignored.summary.recap.a).toMatchObject({ failed: 0, ignored: 1 });
    expect(ignored.r.results.find((e) => e.task === 'Each')).toMatchObject({ status: 'ok', ignored: true });
    rmSync(path.join(work, 'log'));
    const failing = await run(yaml(false));
    expect(failing.summary.exitCode).toBe(1);
    expect(log()).toBe('a\nb\nc\n'); // every item, as Ansible; the host then stops
    expect(failing.summary.recap.a).toMatchObject({ failed: 1, ignored: 0 });
  });
});
