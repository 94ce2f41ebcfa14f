import path from 'node:path';
import { InputError, exitCodeFor } from '../../../src/engine/errors.js';
import { InputErrors, loadPlaybook } from '../../../src/engine/playbook/index.js';
import { fakeRegistry } from './fake-modules.js';

const dir = path.resolve('test/fixtures/playbook/errors');
const file = (name: string) => path.join(dir, name);

/** Loads a fixture expecting it to fail; returns each problem as "name.yml:line:col: problem". */
async function problems(name: string): Promise<string[]> {
  const error = await loadPlaybook(file(name), fakeRegistry).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof InputError)) throw new Error(`expected an InputError, got ${String(error)}`);
  expect(exitCodeFor(error)).toBe(2);
  const list = error instanceof InputErrors ? error.problems : [error];
  return list.map((p) => p.message.split(`${dir}/`).join(''));
}

describe('load errors name file:line:column, the key and what was expected', () => {
  test("broken YAML: the parser's place", async () => {
    expect(await problems('broken.yml')).toEqual([
      'broken.yml:6:1: broken YAML: All mapping items must start at the same column\n  fix: fix the YAML syntax at ' +
        'this place (indentation, quotes, brackets)',
    ]);
  });

  test('a playbook file that does not exist', async () => {
    expect(await problems('no-such-playbook.yml')).toEqual([
      'no-such-playbook.yml: cannot read the file: no such file',
    ]);
  });

  test("unknown module: the key's place and the closest name", async () => {
    const error = (await loadPlaybook(file('unknown-module.yml'), fakeRegistry).catch((e: unknown) => e)) as InputError;
    expect(error.place).toEqual({ file: file('unknown-module.yml'), line: 4, column: 7 });
    expect(error.problem).toBe("unknown module or task key 'copyy'");
    expect(error.fix).toBe("did you mean 'copy'?");
  });

  test("two module keys: the second one's place", async () => {
    expect(await problems('two-modules.yml')).toEqual([
      "two-modules.yml:5:7: a task takes one module, this one has 2: 'copy', 'debug'\n  fix: split it into one " +
        'task per module',
    ]);
  });

  test("wrong param types and values: the value's place, checked with the module's schema", async () => {
    expect(await problems('wrong-type.yml')).toEqual([
      "wrong-type.yml:6:15: copy: 'mode' must be a string or an integer, not a list",
      "wrong-type.yml:8:33: systemd: 'state' must be one of: started, stopped, restarted",
      'wrong-type.yml:8:49: systemd: \'enabled\' must be a boolean, not a string ("maybe")',
    ]);
  });

  test('unknown play key with a suggestion', async () => {
    expect(await problems('unknown-play-key.yml')).toEqual([
      "unknown-play-key.yml:2:3: unknown key 'gather_fact'\n  fix: did you mean 'gather_facts'?",
    ]);
  });

  test('missing include files name where they were looked for', async () => {
    expect(await problems('missing-include.yml')).toEqual([
      `missing-include.yml:3:22: include_tasks: task file 'tasks/nope.yml' not found\n  fix: looked in: tasks/nope.yml`,
      `missing-include.yml:5:9: import_tasks: task file 'nope-either.yml' not found\n  fix: looked in: nope-either.yml`,
    ]);
  });

  test('templated include and role names: dynamic includes are not supported yet', async () => {
    const found = await problems('dynamic-include.yml');
    expect(found.map((p) => p.split('\n')[0])).toEqual([
      'dynamic-include.yml:3:22: include_tasks with a templated name: dynamic includes are not supported yet',
      'dynamic-include.yml:5:15: include_role with a templated name: dynamic includes are not supported yet',
    ]);
  });

  test('all problems of a load are reported together, in file order, included files too', async () => {
    expect((await problems('several.yml')).map((p) => p.split('\n')[0])).toEqual([
      'several.yml:3:7: the task has no module',
      "several.yml:5:20: debug: 'msg' must be a string, not a number (1)",
      "several.yml:6:7: unknown module or task key 'whne'",
      "several.yml:9:7: 'rescue' belongs to a block",
      "several.yml:12:7: 'register' cannot be used with 'block'",
      "several.yml:13:3: missing key 'hosts'",
      "tasks/bad-tasks.yml:2:11: debug: unknown key 'message'",
    ]);
  });

  test('at most 20 problems are listed, and the message says how many more there are', async () => {
    const error = (await loadPlaybook(file('too-many.yml'), fakeRegistry).catch((e: unknown) => e)) as InputErrors;
    expect(error.problems).toHaveLength(20);
    expect(error.message.split('\n')[0]).toBe('25 problems in the playbook:');
    expect(error.message.split('\n').at(-1)).toBe('(and 5 more)');
  });

  test('include cycles, unknown handlers, bad waits and empty files', async () => {
    expect(await problems('cycle.yml')).toEqual([
      'tasks/loop-b.yml:1:17: include cycle: cycle.yml -> tasks/loop-a.yml -> tasks/loop-b.yml -> tasks/loop-a.yml\n ' +
        ' fix: remove the include that leads back',
    ]);
    expect(await problems('notify.yml')).toEqual([
      "notify.yml:3:7: task 'Change it' notifies 'restart web', but no handler of the play has that name or listens " +
        "to it\n  fix: did you mean 'restart webs'?",
    ]);
    expect((await problems('bad-wait.yml')).map((p) => p.split('\n')[0])).toEqual([
      "bad-wait.yml:4:23: wait_for_hosts needs exactly one of 'role' or 'tag'",
      "bad-wait.yml:6:24: wait_for_hosts needs exactly one of 'role' or 'tag'",
    ]);
    expect(await problems('empty.yml')).toEqual(['empty.yml:1:1: the file must be a list, not empty']);
  });
});

describe("anyOf/oneOf in a module's schema", () => {
  test(
    'one message per value: the alternatives, the inner error when a branch was chosen, or ' + 'the keys needed',
    async () => {
      expect(await problems('alternatives.yml')).toEqual([
        "alternatives.yml:3:23: package: 'name' must be a string or a list, not a number (5)",
        "alternatives.yml:4:30: package: item 2 of 'name' must be a string, not a number (7)",
        "alternatives.yml:5:13: file: needs one of the keys 'path', 'dest'",
      ]);
    },
  );
});
