import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Reporter, RunEvent } from '../../../src/engine/events.js';
import { runPlaybook } from '../../../src/engine/run/runner.js';
import { modules } from '../../../src/modules/index.js';

/**
 * `become_user` and `environment` on real local hosts (this controller, as root, with sudo): what
 * the commands of a task really run as and see. The lab test (test/lab/run-as.lab.test.ts) proves
 * the same over SSH.
 */
const canSwitchUsers = os.userInfo().uid === 0;

class Collect implements Reporter {
  readonly events: RunEvent[] = [];
  onEvent(e: RunEvent): void {
    this.events.push(e);
  }
}

(canSwitchUsers ? describe : describe.skip)('become_user and environment (local hosts)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-run-as-'));
  const work = path.join(dir, 'work');
  const inventory = path.join(dir, 'hosts.yml');
  writeFileSync(
    inventory,
    `all:\n  vars: {ansible_connection: local, work: ${work}}\n  hosts: {a: {}, b: {ansible_become_user: daemon}}\n`,
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(yaml: string) {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const file = path.join(dir, 'site.yml');
    writeFileSync(file, yaml);
    const reporter = new Collect();
    const summary = await runPlaybook({
      modules,
      playbook: file,
      inventory,
      runsDir: path.join(dir, 'runs'),
      knownHostsFile: path.join(dir, 'kh'),
      reporters: [reporter],
    });
    return { summary, events: reporter.events };
  }
  /** What a task registered as `out`, written by a root task to work/<name>-<host>. */
  const saved = (name: string, host: string) => readFileSync(path.join(work, `${name}-${host}`), 'utf8');
  const save = (name: string) =>
    `    - copy: {dest: "{{ work }}/${name}-{{ inventory_hostname }}", content: "{{ out.stdout }}"}\n      ` +
    `become: false\n`;

  test(
    "become_user: the task's, else its block's, else the play's; an ansible_become_user variable wins " +
      "(Ansible's rule)",
    async () => {
      const { summary } = await run(`- hosts: all
  gather_facts: false
  become: true
  become_user: nobody
  tasks:
    - {command: id -un, register: out}
${save('play')}    - {command: id -un, register: out, become_user: bin}
${save('task')}    - block:
        - {command: id -un, register: out}
      become_user: sys
${save('block')}    - {command: id -un, register: out, become_user: bin, vars: {ansible_become_user: games}}
${save('var')}`);
      expect(summary.exitCode).toBe(0);
      expect(['play', 'task', 'block', 'var'].map((n) => saved(n, 'a'))).toEqual(['nobody', 'bin', 'sys', 'games']);
      // Host b's inventory says ansible_become_user: daemon, which wins over every keyword.
      expect(['play', 'task', 'block', 'var'].map((n) => saved(n, 'b'))).toEqual([
        'daemon',
        'daemon',
        'daemon',
        'games',
      ]);
    },
  );

  test('become_user without become changes nothing: the login user runs the task', async () => {
    const { summary } = await run(`- hosts: a
  gather_facts: false
  tasks:
    - {command: id -un, register: out, become_user: nobody}
${save('plain')}`);
    expect(summary.exitCode).toBe(0);
    expect(saved('plain', 'a')).toBe(os.userInfo().username);
  });

  test(
    "environment: the play's, merged with the task's (the task's keys win), templated per host, and seen under " +
      'become_user too',
    async () => {
      const { summary } = await run(`- hosts: all
  gather_facts: false
  environment: {FOO: play, BAR: "bar of {{ inventory_hostname }}"}
  tasks:
    - {shell: 'echo "$FOO|$BAR"', register: out}
${save('play')}    - {shell: 'echo "$FOO|$BAR"', register: out, environment: {FOO: "it's the task's"}}
${save('task')}    - {shell: 'echo "$FOO|$(id -un)"', register: out, become: true, become_user: nobody, environment: \
{FOO: "x y"}}
${save('become')}    - {shell: 'echo "[$FOO]"', register: out, environment: {}}
${save('empty')}`);
      expect(summary.exitCode).toBe(0);
      expect(saved('play', 'a')).toBe('play|bar of a');
      expect(saved('play', 'b')).toBe('play|bar of b');
      expect(saved('task', 'a')).toBe("it's the task's|bar of a");
      expect(saved('become', 'a')).toBe('x y|nobody');
      expect(saved('empty', 'a')).toBe('[play]');
    },
  );
});
