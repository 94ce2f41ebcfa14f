import path from 'node:path';
import { loadPlaybook, type Play, type Task } from '../../../src/engine/playbook/index.js';
import { fakeRegistry } from './fake-modules.js';

const dir = path.resolve('test/fixtures/playbook/expand');

async function play(): Promise<Play> {
  return (await loadPlaybook(path.join(dir, 'site.yml'), fakeRegistry)).plays[0];
}

test('hosts given as a list is one pattern', async () => {
  expect((await play()).hosts).toBe('etcd:kube_master');
});

describe('blocks', () => {
  test('a block stays a node whose children carry the inherited keywords', async () => {
    const outer = (await play()).tasks[0];
    expect(outer).toMatchObject({
      id: 'site.yml:4',
      name: 'Outer block',
      module: 'block',
      when: ['outer'],
      tags: ['outer'],
      become: true,
      vars: { a: 1, b: 1 },
      ignoreErrors: true,
      waitFor: [{ group: 'etcd', role: 'etcd' }],
    });
    expect(outer.block?.tasks.map((t) => t.name)).toEqual(['Inner block', 'Block sibling']);
    expect(outer.block?.rescue).toEqual([]);
    const sibling = outer.block!.tasks[1];
    expect([sibling.when, sibling.tags, sibling.become, sibling.vars]).toEqual([
      ['outer'],
      ['outer'],
      true,
      { a: 1, b: 1 },
    ]);
    // What become_user and environment do on a host: test/unit/run/run-as.test.ts.
  });

  test("nested blocks: effective when is the parents' whens then the own, vars override outward in", async () => {
    const inner = (await play()).tasks[0].block!.tasks[0];
    const deep = inner.block!.tasks[0];
    expect(deep).toMatchObject({
      id: 'site.yml:18',
      module: 'debug',
      when: ['outer', 'inner1', 'inner2', 'own'],
      tags: ['outer', 'deep'],
      become: false,
      vars: { a: 1, b: 2, c: 3 },
      ignoreErrors: true,
      waitFor: [{ group: 'etcd', role: 'etcd' }],
    });
    const pick = (t: Task) => [t.name, t.when, t.become];
    expect(inner.block!.rescue.map(pick)).toEqual([['Rescue task', ['outer', 'inner1', 'inner2'], false]]);
    expect(inner.block!.always.map(pick)).toEqual([['Always task', ['outer', 'inner1', 'inner2'], false]]);
  });
});

describe('includes and imports', () => {
  test('include_tasks expands in place with its vars, when and apply tags, nested imports too', async () => {
    const tasks = (await play()).tasks;
    const included = tasks.filter((t) => t.place.file.startsWith(path.join(dir, 'tasks')));
    expect(included.map((t) => [t.id, t.when, t.tags, t.vars])).toEqual([
      ['tasks/included.yml:1', ['do_include'], ['applied'], { inc: 1 }],
      ['tasks/nested/deeper.yml:1', ['do_include'], ['applied'], { inc: 1 }],
      ['tasks/imported.yml:1', [], ['imp', 'own'], {}],
    ]);
    expect(included[0].place).toEqual({ file: path.join(dir, 'tasks/included.yml'), line: 1, column: 3 });
  });

  test("an include inside a role looks in the role's tasks/ folder and keeps the role", async () => {
    const common = (await play()).tasks.find((t) => t.name === 'Svc common')!;
    expect([common.place.file, common.role?.name]).toEqual([path.join(dir, 'roles/svc/tasks/common.yml'), 'svc']);
  });

  test('no include or import node is left: only plain tasks, blocks and the closing flush', async () => {
    const tasks = (await play()).tasks;
    expect(tasks.map((t) => t.module)).toEqual(['block', 'debug', 'debug', 'debug', 'debug', 'debug', 'debug', 'meta']);
  });
});
