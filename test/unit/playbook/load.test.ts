import path from 'node:path';
import { allTasks, loadPlaybook, type Play, type Task } from '../../../src/engine/playbook/index.js';
import { fakeRegistry } from './fake-modules.js';

const fixture = (...parts: string[]) => path.resolve('test/fixtures/playbook', ...parts);
const full = fixture('full');

function byName(play: Play, name: string): Task {
  const found = allTasks([...play.tasks, ...play.handlers]).find((t) => t.name === name);
  if (!found) throw new Error(`no task '${name}'`);
  return found;
}

describe('loadPlaybook: plays', () => {
  test('every play key is read', async () => {
    const book = await loadPlaybook(fixture('full/site.yml'), fakeRegistry);
    expect(book.file).toBe(fixture('full/site.yml'));
    const play = book.plays[0];
    expect(play.name).toBe('Prepare hosts');
    expect(play.hosts).toBe('kube_master:kube_node');
    expect(play.vars).toEqual({ cluster: 'prod', port: 6443 });
    expect(play.varsFiles).toEqual([
      { path: path.join(full, 'vars/common.yml'), vars: { common_var: 1 } },
      { path: path.join(full, 'vars/fallback.yml'), vars: { fallback_var: 2 } },
    ]);
    expect(play.become).toBe(true);
    expect(play.becomeUser).toBe('root');
    expect(play.gatherFacts).toBe(false);
    expect(play.serial).toEqual([1, '30%']);
    expect(play.maxFailPercentage).toBe(20);
    expect(play.anyErrorsFatal).toBe(true);
    expect(play.tags).toEqual(['prepare']);
    expect(play.place).toEqual({ file: path.join(full, 'site.yml'), line: 1, column: 3 });
  });

  test(
    'tasks run as Ansible orders them: pre_tasks, flush, roles (dependencies first), tasks, flush, ' +
      'post_tasks, flush',
    async () => {
      const [play] = (await loadPlaybook(fixture('full/site.yml'), fakeRegistry)).plays;
      expect(play.tasks.map((t) => [t.id, t.name])).toEqual([
        ['site.yml:19', 'Say hello'],
        ['site.yml:1:flush_handlers(pre_tasks)', 'flush handlers after pre_tasks'],
        ['roles/logging/tasks/main.yml:1', 'Logging task'],
        ['roles/base/tasks/main.yml:1', 'Base task'],
        ['roles/common/tasks/main.yml:1', 'Common first'],
        ['roles/common/tasks/setup.yml:1', 'Common setup'],
        ['roles/base/tasks/main.yml:1#2', 'Base task'],
        ['site.yml:23', 'Copy the config'],
        ['site.yml:52', 'List files'],
        ['site.yml:56', 'flush_handlers'],
        ['site.yml:57', 'Wait for the masters'],
        ['site.yml:59', 'Check after etcd'],
        ['site.yml:1:flush_handlers(tasks)', 'flush handlers after tasks'],
        ['site.yml:64', 'Say bye'],
        ['site.yml:1:flush_handlers(post_tasks)', 'flush handlers after post_tasks'],
      ]);
      const flush = play.tasks[1];
      expect([flush.module, flush.params, flush.tags]).toEqual(['meta', { action: 'flush_handlers' }, ['always']]);
      expect(play.handlers.map((h) => [h.id, h.name, h.role?.name])).toEqual([
        ['roles/common/handlers/main.yml:1', 'common changed', 'common'],
        ['site.yml:68', 'restart site', undefined],
      ]);
    },
  );

  test('import_playbook brings in the other plays with its tags, when and vars', async () => {
    const book = await loadPlaybook(fixture('full/site.yml'), fakeRegistry);
    expect(book.plays).toHaveLength(2);
    const other = book.plays[1];
    expect([other.name, other.hosts, other.serial, other.tags]).toEqual(['etcd', 'etcd', [2], ['other']]);
    expect(other.vars).toEqual({ from_import: 1, own: 1 });
    expect(other.tasks[0]).toMatchObject({
      id: 'other.yml:5',
      module: 'debug',
      params: { msg: 'other' },
      when: ['run_other'],
      tags: ['other'],
    });
    expect(other.tasks[0].place.file).toBe(path.join(full, 'other.yml'));
    expect(other.gatherFacts).toBeUndefined();
  });
});

describe('loadPlaybook: task keys', () => {
  test('every task key of a module task is read', async () => {
    const [play] = (await loadPlaybook(fixture('full/site.yml'), fakeRegistry)).plays;
    expect(byName(play, 'Copy the config')).toEqual({
      id: 'site.yml:23',
      impl: expect.objectContaining({ name: 'copy' }),
      name: 'Copy the config',
      module: 'copy',
      params: { src: 'site.conf', dest: '/etc/site.conf', mode: '0644' },
      when: ['ready'],
      loop: ['a', 'b'],
      loopVar: 'conf',
      loopIndexVar: 'idx',
      loopLabel: '{{ conf }}',
      register: 'copied',
      notify: ['restart site'],
      listen: [],
      tags: ['prepare', 'config', 'files'],
      become: true,
      becomeUser: 'admin',
      runOnce: true,
      delegateTo: 'localhost',
      retries: 5,
      until: ['copied.rc == 0'],
      delay: 2,
      ignoreErrors: true,
      changedWhen: ['false'],
      failedWhen: ['copied.rc > 1', 'copied.stderr != ""'],
      noLog: true,
      vars: { owner: 'admin' },
      environment: { LANG: 'C' },
      waitFor: [],
      playbookDir: full,
      place: { file: path.join(full, 'site.yml'), line: 23, column: 7 },
    });
  });

  test('defaults: the play become, loop var item, no retries; until alone gets retries 3 and delay 5', async () => {
    const [play] = (await loadPlaybook(fixture('full/site.yml'), fakeRegistry)).plays;
    const hello = byName(play, 'Say hello');
    expect(hello).toMatchObject({
      become: true,
      becomeUser: 'root',
      loopVar: 'item',
      runOnce: false,
      ignoreErrors: false,
      noLog: false,
      when: [],
      notify: [],
      vars: {},
    });
    expect(hello.retries).toBeUndefined();
    expect(hello.changedWhen).toBeUndefined();
    const bye = byName(play, 'Say bye');
    expect([bye.until, bye.retries, bye.delay]).toEqual([['done'], 3, 5]);
  });

  test('free-form command with key=value params, with_items as loop, notify as a string', async () => {
    const [play] = (await loadPlaybook(fixture('full/site.yml'), fakeRegistry)).plays;
    const list = byName(play, 'List files');
    expect([list.module, list.params, list.loop, list.notify]).toEqual([
      'command',
      { chdir: '/tmp', cmd: 'ls -l' },
      '{{ things }}',
      ['restart site'],
    ]);
  });

  test('meta, wait_for_hosts (alone and beside a module) and handler listen', async () => {
    const [play] = (await loadPlaybook(fixture('full/site.yml'), fakeRegistry)).plays;
    expect(play.tasks[9]).toMatchObject({ module: 'meta', params: { action: 'flush_handlers' } });
    expect(byName(play, 'Wait for the masters')).toMatchObject({
      module: 'wait_for_hosts',
      params: {},
      waitFor: [{ group: 'kube_master', role: 'kube-master' }],
    });
    expect(byName(play, 'Check after etcd')).toMatchObject({
      module: 'command',
      params: { cmd: 'true' },
      waitFor: [{ group: 'etcd', tag: 'etcd' }],
    });
    expect(byName(play, 'restart site')).toMatchObject({
      module: 'command',
      params: { cmd: 'systemctl restart site' },
      listen: ['site changed'],
    });
  });
});
