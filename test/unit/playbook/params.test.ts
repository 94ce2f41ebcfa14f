import path from 'node:path';
import { type InputErrors, loadPlaybook } from '../../../src/engine/playbook/index.js';
import { fakeRegistry } from './fake-modules.js';

const fixture = (name: string) => path.resolve('test/fixtures/playbook', name);

describe('module params in the forms Ansible allows', () => {
  test('mappings, key=value words (coerced to the schema), free-form text with guards, args, FQCN names', async () => {
    const [play] = (await loadPlaybook(fixture('free-form.yml'), fakeRegistry)).plays;
    expect(play.tasks.slice(0, -1).map((t) => [t.name, t.module, t.params])).toEqual([
      ['Words', 'copy', { src: 'a.conf', dest: '/etc/my app.conf', force: true, mode: '0644' }],
      ['Shell with a guard', 'shell', { creates: '/tmp/out', cmd: 'echo "a=b" {{ x }} > /tmp/out' }],
      ['Multi-line script is kept', 'shell', { cmd: 'FOO=1 ./run\nchdir=/x\n' }],
      ['Args beside free-form', 'command', { chdir: '/src', cmd: 'make install' }],
      ['Empty params', 'debug', {}],
      ['A number in words', 'copy', { dest: '/x', mode: '420', backup: false }],
    ]);
  });

  test('bad words: free-form text for a module without it, a non-boolean, an open quote, a list', async () => {
    const error = (await loadPlaybook(fixture('errors/words.yml'), fakeRegistry).catch(
      (e: unknown) => e,
    )) as InputErrors;
    const file = fixture('errors/words.yml');
    expect(error.problems.map((p) => p.message.split(`${file}:`).join(''))).toEqual([
      "3:14: debug: expected key=value words, not 'hello' (the module takes no free-form text)\n  fix: write the " +
        'params as a mapping (debug: {key: value})',
      '4:13: copy: \'force\' must be a boolean, not a string ("perhaps")',
      '5:13: copy: no closing " in \'dest="/x\'\n  fix: write the params as a mapping (copy: {key: value})',
      '6:13: copy: expected a mapping of params, not a list',
    ]);
  });
});
