import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { command, decideRun, guardCommand, parseGuards, splitArgv } from '../../../src/modules/command.js';
import { shell } from '../../../src/modules/shell.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { cannedConnection, localConnection, tempDir } from './support/hosts.js';

const { dir, cleanup } = tempDir('command');
afterAll(cleanup);
const ctx = (check = false) => moduleContext(localConnection(), { check });

describe('splitArgv (shlex, as Ansible splits a command)', () => {
  test.each([
    ['ls -l  /tmp', ['ls', '-l', '/tmp']],
    [`echo 'a b' "c \\"d\\"" e\\ f`, ['echo', 'a b', 'c "d"', 'e f']],
    ['echo $HOME *.txt # not a comment', ['echo', '$HOME', '*.txt', '#', 'not', 'a', 'comment']],
    [`printf ''`, ['printf', '']],
  ])('%s', (text, words) => expect(splitArgv(text)).toEqual(words));

  test('an open quote is an input error naming the command', async () => {
    await expect(command.plan(ctx(), { cmd: "echo 'oops" })).rejects.toThrow(
      `command: cannot split "echo 'oops" into words: no closing quotation`,
    );
  });
});

describe('guards (pure)', () => {
  const run = { script: 'x', cmd: ['make'] };
  test.each([
    [{}, 'run', 'runs: make'],
    [{ creates: { path: '/opt/app', exists: true } }, 'none', '/opt/app exists: not running'],
    [{ creates: { path: '/opt/app', exists: false } }, 'run', 'runs: make'],
    [{ removes: { path: '/tmp/x', exists: false } }, 'none', '/tmp/x does not exist: not running'],
    [{ removes: { path: '/tmp/x', exists: true } }, 'run', 'runs: make'],
  ])('%j -> %s', (guards, action, reason) => {
    expect(decideRun(guards, run)).toMatchObject({ action, reason });
  });

  test('one probe answers both guards', () => {
    expect(parseGuards('creates 0\nremoves 1\n', '/a', '/b')).toEqual({
      creates: { path: '/a', exists: false },
      removes: { path: '/b', exists: true },
    });
    expect(guardCommand('/a b', undefined)).toContain(`if furrow_exists '/a b'; then echo 'creates 1'`);
  });

  test('no guard: planning does not touch the host; a guard costs one round trip', async () => {
    const none = cannedConnection('');
    expect((await command.plan(moduleContext(none), { cmd: 'true' })).action).toBe('run');
    expect(none.commands).toEqual([]);
    const one = cannedConnection('creates 1\n');
    expect(await command.plan(moduleContext(one), { cmd: 'true', creates: 'done', chdir: '/srv' })).toMatchObject({
      action: 'none',
      reason: '/srv/done exists: not running',
    });
    expect(one.commands).toHaveLength(1);
  });
});

describe('command on the controller', () => {
  test('no shell: variables, globs and operators reach the program as written', async () => {
    const run = await runModule(command, ctx(), { cmd: 'echo $HOME *.txt ; `id` | cat' });
    expect(run.changed).toBe(true);
    expect(run.result?.output).toMatchObject({
      rc: 0,
      stdout: '$HOME *.txt ; `id` | cat',
      stdout_lines: ['$HOME *.txt ; `id` | cat'],
      stderr: '',
      stderr_lines: [],
      cmd: ['echo', '$HOME', '*.txt', ';', '`id`', '|', 'cat'],
    });
    expect(run.result?.failed).toBeUndefined();
  });

  test('argv, chdir and stdin', async () => {
    const run = await runModule(command, ctx(), { argv: ['sh', '-c', 'pwd; cat'], chdir: dir, stdin: 'from stdin' });
    expect(run.result?.output).toMatchObject({
      rc: 0,
      stdout: `${dir}\nfrom stdin`,
      stdout_lines: [dir, 'from stdin'],
      cmd: ['sh', '-c', 'pwd; cat'],
    });
  });

  test('a non-zero exit fails the task with rc, stderr and a message', async () => {
    const run = await runModule(command, ctx(), { argv: ['sh', '-c', 'echo out; echo bad >&2; exit 3'] });
    expect(run.result).toMatchObject({
      failed: true,
      changed: true,
      msg: 'non-zero return code (rc 3): bad',
      output: { rc: 3, stdout: 'out', stderr: 'bad', stderr_lines: ['bad'] },
    });
  });

  test('a missing program fails, it is not run by a shell', async () => {
    const run = await runModule(command, ctx(), { cmd: 'no-such-program-furrow --x' });
    expect(run.result?.failed).toBe(true);
    expect(run.result?.output).toMatchObject({ rc: 127 });
  });

  test('creates: runs once, then the guard holds (changed=0)', async () => {
    const marker = path.join(dir, 'made');
    const params = { cmd: `touch ${marker}`, creates: marker };
    expect((await runModule(command, ctx(), params)).changed).toBe(true);
    expect(existsSync(marker)).toBe(true);
    const again = await runModule(command, ctx(), params);
    expect(again.changed).toBe(false);
    expect(again.plan.reason).toBe(`${marker} exists: not running`);
  });

  test('guards take globs and are relative to chdir', async () => {
    mkdirSync(path.join(dir, 'g'));
    writeFileSync(path.join(dir, 'g', 'a.conf'), '');
    expect((await command.plan(ctx(), { cmd: 'true', chdir: path.join(dir, 'g'), creates: '*.conf' })).action).toBe(
      'none',
    );
    expect((await command.plan(ctx(), { cmd: 'true', chdir: path.join(dir, 'g'), creates: '*.yaml' })).action).toBe(
      'run',
    );
    expect((await command.plan(ctx(), { cmd: 'true', removes: path.join(dir, 'g', '*.yaml') })).action).toBe('none');
    expect((await command.plan(ctx(), { cmd: 'true', removes: path.join(dir, 'g', 'a.conf') })).action).toBe('run');
  });

  test('check mode runs nothing', async () => {
    const marker = path.join(dir, 'check');
    const run = await runModule(command, ctx(true), { cmd: `touch ${marker}` });
    expect(run).toMatchObject({ changed: true, plan: { action: 'run', reason: `runs: touch ${marker}` } });
    expect(existsSync(marker)).toBe(false);
  });
});

describe('shell on the controller', () => {
  test('pipes, variables and redirections work; the trailing newline is stripped', async () => {
    const run = await runModule(shell, ctx(), { cmd: 'X=abc; echo "$X" | tr a-c A-C; echo warn >&2', chdir: dir });
    expect(run.result?.output).toMatchObject({
      rc: 0,
      stdout: 'ABC',
      stderr: 'warn',
      cmd: 'X=abc; echo "$X" | tr a-c A-C; echo warn >&2',
    });
  });

  test('removes guard, executable, strip_empty_ends: false, stdin_add_newline: false', async () => {
    expect(await shell.plan(ctx(), { cmd: 'rm x', removes: path.join(dir, 'nothing-here') })).toMatchObject({
      action: 'none',
    });
    const run = await runModule(shell, ctx(), {
      cmd: 'cat; echo; echo "$0"',
      executable: '/bin/bash',
      stdin: 'in',
      stdin_add_newline: false,
      strip_empty_ends: false,
    });
    expect(run.result?.output).toMatchObject({ stdout: 'in\n/bin/bash\n', stdout_lines: ['in', '/bin/bash'] });
  });

  test('an empty command and a bad flag are input errors, found when planning', async () => {
    await expect(shell.plan(ctx(), { cmd: '  ' })).rejects.toThrow('shell: no command given');
    await expect(shell.plan(ctx(), { cmd: 'cat', stdin: 'x', stdin_add_newline: 'maybe' })).rejects.toThrow(
      'shell: stdin_add_newline is "maybe", not a boolean',
    );
  });
});
