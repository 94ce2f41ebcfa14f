import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { changedCounts, describeLab, expectExit, furrow, labTestName } from './support.js';

const NAME = labTestName('t-runas');

/**
 * `become_user` and `environment` on real hosts over SSH (root login, sudo to switch users): what
 * a task's commands run as and see, at play and task level. test/unit/run/run-as.test.ts covers
 * the precedence rules in full on local hosts.
 */
describeLab('become_user and environment on real hosts', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-runas-test-'));
  const inventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const onHost = async (host: string, command: string) => {
    const r = await furrow(['exec', host, '-i', inventory, '--json', '--', command], { cwd });
    return (JSON.parse(r.stdout.trim()) as { stdout: string }).stdout.trim();
  };

  beforeAll(async () => {
    expectExit(await furrow(['lab', 'up', '--hosts', '2', '--name', NAME], { cwd }), 0);
  }, 600_000);

  afterAll(async () => {
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  });

  test('id -un shows the become_user and echo $FOO the environment, play-level and task-level', async () => {
    const file = path.join(cwd, 'run-as.yml');
    writeFileSync(
      file,
      `- hosts: all
  gather_facts: false
  become: true
  become_user: nobody
  environment: {FOO: from-play}
  tasks:
    - {command: id -un, register: play_user}
    - {shell: 'echo "$FOO"', register: play_env}
    - {command: id -un, register: task_user, become_user: daemon}
    - {shell: 'echo "$FOO"', register: task_env, environment: {FOO: "from-task {{ inventory_hostname }}"}}
    - name: Record what the tasks saw
      become: false
      copy:
        dest: /root/run-as.txt
        content: "{{ play_user.stdout }},{{ play_env.stdout }},{{ task_user.stdout }},{{ task_env.stdout }}\\n"
`,
    );
    const first = await furrow(['run', file, '-i', inventory, '--json'], { cwd });
    expectExit(first, 0);
    expect(await onHost('h1', 'cat /root/run-as.txt')).toBe('nobody,from-play,daemon,from-task h1');
    expect(await onHost('h2', 'cat /root/run-as.txt')).toBe('nobody,from-play,daemon,from-task h2');
    // A file written as the become_user belongs to it.
    const owned = await furrow(['run', writePlaybook(cwd), '-i', inventory, '--json'], { cwd });
    expectExit(owned, 0);
    expect(await onHost('h1', 'stat -c %U /tmp/furrow-run-as-owned')).toBe('nobody');
    const again = await furrow(['run', writePlaybook(cwd), '-i', inventory], { cwd });
    expectExit(again, 0);
    expect(changedCounts(again)).toEqual({ h1: 0, h2: 0 });
  });
});

function writePlaybook(cwd: string): string {
  const file = path.join(cwd, 'owned.yml');
  writeFileSync(
    file,
    `- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {dest: /tmp/furrow-run-as-owned, content: "x\\n"}\n  ` +
      `    become: true\n      become_user: nobody\n`,
  );
  return file;
}
