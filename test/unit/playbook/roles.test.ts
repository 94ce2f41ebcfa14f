import path from 'node:path';
import { InputError } from '../../../src/engine/errors.js';
import { loadPlaybook, roleSearchPaths } from '../../../src/engine/playbook/index.js';
import { fakeRegistry } from './fake-modules.js';

const fixture = (...parts: string[]) => path.resolve('test/fixtures/playbook', ...parts);
const full = fixture('full');
const search = fixture('search');

describe('roles', () => {
  test('dependencies load first, each role once per play unless its params differ', async () => {
    const [play] = (await loadPlaybook(fixture('full/site.yml'), fakeRegistry)).plays;
    expect(play.roles.map((r) => [r.name, r.params])).toEqual([
      ['logging', {}],
      ['base', { level: 1 }],
      ['common', {}],
      ['base', { level: 2, extra_param: 'x' }],
    ]);
    const roleTasks = play.tasks.filter((t) => t.role);
    expect(roleTasks.map((t) => [t.name, t.role?.name, t.role?.params])).toEqual([
      ['Logging task', 'logging', {}],
      ['Base task', 'base', { level: 1 }],
      ['Common first', 'common', {}],
      ['Common setup', 'common', {}],
      ['Base task', 'base', { level: 2, extra_param: 'x' }],
    ]);
  });

  test('defaults, vars (main.yaml too) and the folder are captured for every role task', async () => {
    const [play] = (await loadPlaybook(fixture('full/site.yml'), fakeRegistry)).plays;
    const common = play.tasks.find((t) => t.name === 'Common first')!;
    expect(common.role).toEqual({
      name: 'common',
      dir: path.join(full, 'roles/common'),
      defaults: { common_default: 1, shared: 'from-defaults' },
      vars: { common_role_var: 2 },
      params: {},
    });
    const base = play.tasks.find((t) => t.name === 'Base task')!;
    expect([base.role?.dir, base.role?.defaults, base.role?.vars]).toEqual([
      path.join(full, 'roles/base'),
      { level: 0 },
      {},
    ]);
  });

  test("a roles entry's when and tags reach the role's tasks; play tags reach all", async () => {
    const [play] = (await loadPlaybook(fixture('full/site.yml'), fakeRegistry)).plays;
    const second = play.tasks.filter((t) => t.name === 'Base task')[1];
    expect([second.when, second.tags]).toEqual([['install_base'], ['prepare', 'base']]);
    const first = play.tasks.filter((t) => t.name === 'Base task')[0];
    expect([first.when, first.tags]).toEqual([[], ['prepare']]);
  });

  test(
    'search order: roles/ beside the playbook, then the parent folder, then extra paths; a name with a ' +
      'slash is a path',
    async () => {
      const [play] = (
        await loadPlaybook(path.join(search, 'play/site.yml'), {
          ...fakeRegistry,
          rolesPath: [path.join(search, 'extra-roles')],
        })
      ).plays;
      expect(play.tasks.filter((t) => t.role).map((t) => [t.name, t.role?.dir])).toEqual([
        ['from play/roles/near', path.join(search, 'play/roles/near')],
        ['from roles/parent', path.join(search, 'roles/parent')],
        ['from extra-roles/extra', path.join(search, 'extra-roles/extra')],
        ['from local/byPath', path.join(search, 'local/byPath')],
        ['from play/roles/dupes', path.join(search, 'play/roles/dupes')],
        ['from play/roles/dupes', path.join(search, 'play/roles/dupes')],
      ]);
      expect(play.tasks.at(-2)?.id).toBe('roles/dupes/tasks/main.yml:1#2');
      const extra = play.tasks.find((t) => t.role?.name === 'extra')!;
      expect([extra.waitFor, extra.tags]).toEqual([[{ group: 'etcd', role: 'etcd' }], ['later']]);
      expect(roleSearchPaths(path.join(search, 'play'), ['extra'])).toEqual([
        path.join(search, 'play/roles'),
        path.join(search, 'roles'),
        path.resolve('extra'),
      ]);
    },
  );

  test('a missing role names the place and every folder searched', async () => {
    const error = await loadPlaybook(path.join(search, 'missing.yml'), {
      ...fakeRegistry,
      rolesPath: ['/opt/furrow/roles'],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).place).toEqual({ file: path.join(search, 'missing.yml'), line: 4, column: 7 });
    expect((error as Error).message).toBe(
      `${path.join(search, 'missing.yml')}:4:7: role 'ghost' not found\n` +
        `  fix: looked in: ${path.join(search, 'roles/ghost')}, ${fixture('roles/ghost')}, /opt/furrow/roles/ghost; ` +
        'create the role there or add its folder to the role path',
    );
  });
});

describe('import_role and include_role', () => {
  test('tasks_from picks the file (.yaml too), vars become role params, the when reaches every task', async () => {
    const [play] = (await loadPlaybook(fixture('expand/site.yml'), fakeRegistry)).plays;
    const svc = play.tasks.filter((t) => t.role?.name === 'svc');
    expect(svc.map((t) => [t.id, t.when, t.role?.params])).toEqual([
      ['roles/svc/tasks/install.yaml:1', ['want_svc'], { svc_name: 'web' }],
      ['roles/svc/tasks/common.yml:1', ['want_svc'], { svc_name: 'web' }],
      ['roles/svc/tasks/main.yml:1', [], {}],
    ]);
    expect(play.handlers.map((h) => [h.name, h.role?.name])).toEqual([['restart svc', 'svc']]);
    expect(play.roles.map((r) => r.name)).toEqual(['svc', 'svc']);
  });
});
