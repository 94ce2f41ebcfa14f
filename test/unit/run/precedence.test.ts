import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Reporter, RunEvent } from '../../../src/engine/events.js';
import { runPlaybook } from '../../../src/engine/run/runner.js';
import { modules } from '../../../src/modules/index.js';

/**
 * Variable precedence as a run applies it (docs/templates.md): variable vN is set in the first N
 * layers, each to that layer's name, so the value it shows names the layer that wins.
 */
const LAYERS = [
  'role defaults',
  'group all',
  'group web',
  'host',
  'vars_files',
  'play vars',
  'role vars',
  'role params',
  'task vars',
  'extra vars',
];

function vars(upTo: number): Record<string, string> {
  return Object.fromEntries(
    LAYERS.map((_, i) => i + 1)
      .filter((n) => n >= upTo)
      .map((n) => [`v${n}`, LAYERS[upTo - 1]!]),
  );
}
const yaml = (o: Record<string, string>) =>
  `${Object.entries(o)
    .map(([k, v]) => `${k}: "${v}"`)
    .join('\n')}\n`;

test(
  'precedence: role defaults < inventory all < child group < host < vars_files < play vars < role vars < role ' +
    'params < task vars < extra vars',
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-precedence-'));
    try {
      const w = (file: string, text: string) => {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        writeFileSync(path.join(dir, file), text);
      };
      w(
        'inventory/hosts.yml',
        'all:\n  vars: {ansible_connection: local}\n  children:\n    web:\n      hosts: {a: {}}\n',
      );
      w('inventory/group_vars/all.yml', yaml(vars(2)));
      w('inventory/group_vars/web.yml', yaml(vars(3)));
      w('inventory/host_vars/a.yml', yaml(vars(4)));
      w('vars.yml', yaml(vars(5)));
      w('roles/show/defaults/main.yml', yaml(vars(1)));
      w('roles/show/vars/main.yml', yaml(vars(7)));
      const all = LAYERS.map((_, i) => `{{ v${i + 1} }}`).join('|');
      w(
        'roles/show/tasks/main.yml',
        `- name: Show\n  debug: {msg: "${all}"}\n  vars:\n${Object.entries(vars(9))
          .map(([k, v]) => `    ${k}: "${v}"`)
          .join('\n')}\n`,
      );
      const params = Object.entries(vars(8))
        .map(([k, v]) => `${k}: "${v}"`)
        .join(', ');
      w(
        'site.yml',
        `- hosts: all\n  gather_facts: false\n  vars_files: [vars.yml]\n  vars:\n${Object.entries(vars(6))
          .map(([k, v]) => `    ${k}: "${v}"`)
          .join('\n')}\n  roles:\n    - {role: show, ${params}}\n`,
      );
      const events: RunEvent[] = [];
      const reporter: Reporter = { onEvent: (e) => void events.push(e) };
      const summary = await runPlaybook({
        modules,
        playbook: path.join(dir, 'site.yml'),
        inventory: path.join(dir, 'inventory'),
        extraVars: { v10: 'extra vars' },
        runsDir: path.join(dir, 'runs'),
        reporters: [reporter],
      });
      expect(summary.exitCode).toBe(0);
      const shown = events.find((e) => e.kind === 'task_result' && e.task === 'Show');
      expect(shown && shown.kind === 'task_result' ? shown.msg?.split('|') : undefined).toEqual(LAYERS);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
