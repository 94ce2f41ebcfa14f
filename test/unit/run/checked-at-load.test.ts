import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { furrow } from '../../lab/support.js';
import { countingHost, type CountingHost } from '../counting-host.js';

/**
 * Problems found before any host is touched, even when earlier tasks would change hosts: exit 2,
 * the real file:line:column, each undefined name once however many hosts lack it. The two
 * inventory hosts are a TCP listener on loopback that counts connections: it must see none.
 */
describe('checked at load, before any host', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-load-checks-'));
  let target: CountingHost;
  let inventory: string;

  beforeAll(async () => {
    target = await countingHost();
    inventory = path.join(dir, 'hosts');
    writeFileSync(inventory, `[web]\nweb1 ${target.hostVars}\nweb2 ${target.hostVars}\n`);
  });

  afterAll(async () => {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    target.reset();
  });

  async function run(name: string, playbook: string) {
    const file = path.join(dir, name);
    writeFileSync(file, playbook);
    const r = await furrow(['run', file, '-i', inventory], { cwd: dir, timeoutMs: 60_000 });
    expect(target.connections).toBe(0);
    return { file, ...r };
  }
  const count = (text: string, part: string) => text.split(part).length - 1;
  const FIRST =
    '- hosts: web\n  gather_facts: false\n  tasks:\n    - {name: Changes the host, command: touch /tmp/x}\n';

  test('a when with a syntax error: exit 2 at the condition itself, also in a list and in changed_when', async () => {
    const r = await run(
      'when-syntax.yml',
      `${FIRST}    - name: Bad
      command: "true"
      when: "x =="
    - name: Bad in a list
      command: "true"
      when: [true, "a and and b"]
      changed_when: "rc ="
`,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${r.file}:7:13: condition 'x ==': syntax error`);
    expect(r.stderr).toContain(`${r.file}:10:20: condition 'a and and b'`);
    expect(r.stderr).toContain(`${r.file}:11:21: condition 'rc ='`);
  });

  test('an undefined variable in a template file: every name, once, at its line in the file', async () => {
    mkdirSync(path.join(dir, 'templates'), { recursive: true });
    writeFileSync(
      path.join(dir, 'templates', 'app.conf.hbs'),
      'port={{ app_port }}\nname={{ app_name }} {{ app_port }}\n{{#if extra}}{{ in_block }}{{/if}}\n',
    );
    const r = await run('template-file.yml', `${FIRST}    - template: {src: app.conf.hbs, dest: /etc/app.conf}\n`);
    expect(r.code).toBe(2);
    const file = path.join(dir, 'templates', 'app.conf.hbs');
    expect(r.stderr).toContain(
      `${file}:1:9: template ${file} (task 'template') uses the variable 'app_port', which is not defined for ` +
        `hosts web1, web2`,
    );
    expect(r.stderr).toContain(`${file}:2:9: template ${file} (task 'template') uses the variable 'app_name'`);
    expect(count(r.stderr, "'app_port'")).toBe(1);
    expect(r.stderr).not.toContain('in_block');
  });

  test('an undefined variable in a when: named once for all hosts; a name tested with is defined is not', async () => {
    const r = await run(
      'when-undefined.yml',
      `${FIRST}    - name: Guarded
      command: "true"
      when: [want_it, "maybe is defined and maybe > 1"]
    - name: Uses a registered result
      command: "true"
      when: first.changed
      register: first
`,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "the condition 'want_it' of task 'Guarded' reads the variable 'want_it', which is not defined for " +
        'hosts web1, web2',
    );
    expect(count(r.stderr, "'want_it', which")).toBe(1);
    expect(r.stderr).not.toContain("'maybe'");
    expect(r.stderr).not.toContain("'first'");
  });

  test(
    'handlers: one that a task notifies (also through another handler) is checked; one nothing notifies never ' +
      'runs and is not',
    async () => {
      const r = await run(
        'handlers.yml',
        `${FIRST}    - name: Notifies
      command: "true"
      notify: first
  handlers:
    - name: first
      command: "echo {{ first_missing }}"
      notify: second
    - name: second
      command: "echo {{ second_missing }}"
    - name: never notified
      command: "echo {{ unused_missing }}"
`,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("uses the variable 'first_missing'");
      expect(r.stderr).toContain("uses the variable 'second_missing'");
      expect(r.stderr).not.toContain('unused_missing');
    },
  );

  test('an undefined variable in params is named once, not once per host', async () => {
    const r = await run('param-undefined.yml', `${FIRST}    - copy: {dest: /tmp/y, content: "{{ nowhere }}"}\n`);
    expect(r.code).toBe(2);
    expect(count(r.stderr, "'nowhere'")).toBe(1);
    expect(r.stderr).toContain('not defined for hosts web1, web2');
  });

  test('lineinfile with a newline in line: exit 2 at the value (it would grow the file on every run)', async () => {
    const r = await run('lineinfile.yml', `${FIRST}    - lineinfile: {path: /etc/x.conf, line: "a=1\\nb=2"}\n`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${r.file}:5:45: lineinfile: 'line' must be one line of text (no newline; use blockinfile for several lines)`,
    );
  });
});
