import path from 'node:path';
import { InputError } from '../../../src/engine/errors.js';
import { fileCandidates, findFile, loadPlaybook, type Task } from '../../../src/engine/playbook/index.js';
import { fakeRegistry } from './fake-modules.js';

const full = path.resolve('test/fixtures/playbook/full');

async function tasks(): Promise<{ roleTask: Task; playTask: Task }> {
  const [play] = (await loadPlaybook(path.join(full, 'site.yml'), fakeRegistry)).plays;
  return {
    roleTask: play.tasks.find((t) => t.name === 'Common setup')!,
    playTask: play.tasks.find((t) => t.name === 'Copy the config')!,
  };
}

describe('findFile: the role, then the playbook folder, then beside the playbook', () => {
  test('candidates in order, for role and playbook tasks', async () => {
    const { roleTask, playTask } = await tasks();
    expect(fileCandidates(roleTask, 'templates', 'x.hbs')).toEqual([
      path.join(full, 'roles/common/templates/x.hbs'),
      path.join(full, 'templates/x.hbs'),
      path.join(full, 'x.hbs'),
    ]);
    expect(fileCandidates(playTask, 'files', 'a/b.conf')).toEqual([
      path.join(full, 'files/a/b.conf'),
      path.join(full, 'a/b.conf'),
    ]);
    expect(fileCandidates(playTask, 'files', '/etc/hosts')).toEqual(['/etc/hosts']);
  });

  test("the role's own file wins over the playbook's; then files/, then beside the playbook", async () => {
    const { roleTask, playTask } = await tasks();
    expect(findFile(roleTask, 'files', 'site.conf')).toBe(path.join(full, 'roles/common/files/site.conf'));
    expect(findFile(playTask, 'files', 'site.conf')).toBe(path.join(full, 'files/site.conf'));
    expect(findFile(roleTask, 'templates', 'motd.hbs')).toBe(path.join(full, 'roles/common/templates/motd.hbs'));
    expect(findFile(roleTask, 'templates', 'site.hbs')).toBe(path.join(full, 'templates/site.hbs'));
    expect(findFile(playTask, 'files', 'beside.txt')).toBe(path.join(full, 'beside.txt'));
  });

  test("nothing found: an InputError at the task's place listing where it looked", async () => {
    const { roleTask } = await tasks();
    let error: unknown;
    try {
      findFile(roleTask, 'templates', 'nope.hbs');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).place).toEqual({
      file: path.join(full, 'roles/common/tasks/setup.yml'),
      line: 1,
      column: 3,
    });
    expect((error as InputError).problem).toBe("task 'Common setup': template 'nope.hbs' not found");
    expect((error as InputError).fix).toBe(
      `looked in: ${path.join(full, 'roles/common/templates/nope.hbs')}, ${path.join(full, 'templates/nope.hbs')}, ` +
        `${path.join(full, 'nope.hbs')}`,
    );
  });
});
