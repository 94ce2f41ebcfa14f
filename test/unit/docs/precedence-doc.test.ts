import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Reporter, RunEvent } from '../../../src/engine/events.js';
import { runPlaybook } from '../../../src/engine/run/runner.js';
import { modules } from '../../../src/modules/index.js';
import { VAR_LEVELS } from '../../../src/engine/vars.js';

/**
 * The precedence table in docs/templates.md, held to the engine: its rows are the engine's levels
 * in the engine's order, and the claims test/unit/run/precedence.test.ts does not cover (facts,
 * the loop variable, set_fact, magic variables, roles' privacy) hold on a real run.
 */
describe('docs/templates.md variable precedence', () => {
  test("the table lists the engine's levels, lowest first, then the magic variables", () => {
    const doc = readFileSync(path.resolve('docs/templates.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### Precedence'), doc.indexOf('### Templates inside values'));
    const rows = [...section.matchAll(/^\| `?([a-z_]+)`? \|/gm)].map((m) => m[1]).slice(1); // after the header
    expect(rows).toEqual([...VAR_LEVELS, 'loop', 'magic']);
  });

  test('facts, loop variable, set_fact, extra vars and magic variables apply as the table says', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-precedence-doc-'));
    const write = (file: string, text: string) => {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    };
    try {
      write('inventory/hosts.yml', 'all:\n  vars: {ansible_connection: local}\n  hosts: {a: {}}\n');
      write('inventory/host_vars/a.yml', 'ansible_architecture: inventory\nfrom_files: inventory\n');
      write('vars.yml', 'from_files: vars_files\n');
      write('roles/private/defaults/main.yml', 'private_default: role default\n');
      write('roles/private/tasks/main.yml', '- name: In the role\n  debug: {msg: "{{ private_default }}"}\n');
      write(
        'site.yml',
        `- hosts: all
  vars_files: [vars.yml]
  roles: [private]
  tasks:
    - name: Facts over inventory, vars_files over facts
      debug: {msg: "{{ ansible_architecture }} {{ from_files }}"}
    - name: Loop variable over task vars
      debug: {msg: "{{ item }}"}
      vars: {item: task vars}
      loop: [loop]
    - name: Set facts
      set_fact: {fact: set_fact, hidden: set_fact, shadow: set_fact, inventory_hostname: set_fact}
    - name: set_fact over task vars, extra vars over set_fact, magic over both
      debug: {msg: "{{ fact }} {{ hidden }} {{ inventory_hostname }}"}
      vars: {fact: task vars}
    - name: The loop variable over set_fact
      debug: {msg: "{{ shadow }}"}
      loop: [loop]
      loop_control: {loop_var: shadow}
    - name: Role defaults stay in the role
      debug: {msg: "{{ default private_default 'unset' }}"}
`,
      );
      const events: RunEvent[] = [];
      const reporter: Reporter = { onEvent: (e) => void events.push(e) };
      const summary = await runPlaybook({
        modules,
        playbook: path.join(dir, 'site.yml'),
        inventory: path.join(dir, 'inventory'),
        extraVars: { hidden: 'extra vars', inventory_hostname: 'extra vars' },
        runsDir: path.join(dir, 'runs'),
        reporters: [reporter],
      });
      expect(summary.exitCode).toBe(0);
      const shown = Object.fromEntries(
        events.flatMap((e) =>
          e.kind === 'task_result' && e.msg !== undefined && e.task !== 'Set facts' ? [[e.task, e.msg]] : [],
        ),
      );
      const arch = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();
      expect(shown).toEqual({
        'In the role': 'role default',
        'Facts over inventory, vars_files over facts': `${arch} vars_files`,
        // A looped debug's message starts with the item's index.
        'Loop variable over task vars': '[0] loop',
        'set_fact over task vars, extra vars over set_fact, magic over both': 'set_fact extra vars a',
        'The loop variable over set_fact': '[0] loop',
        'Role defaults stay in the role': 'unset',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
