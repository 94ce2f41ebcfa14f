/**
 * Issue 15, secrets in a run (local hosts): the journal keeps no file contents and is private,
 * --diff never shows a private key or a no_log task's change, and a template error in a no_log
 * task never quotes its text.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Reporter, RunEvent } from '../../../src/engine/events.js';
import { ConsoleReporter } from '../../../src/engine/reporters/console.js';
import { runPlaybook } from '../../../src/engine/run/runner.js';
import { modules } from '../../../src/modules/index.js';
import { screen } from '../../support/screen.js';

class Collect implements Reporter {
  readonly events: RunEvent[] = [];
  onEvent(e: RunEvent): void {
    this.events.push(e);
  }
}

/** What the console prints with --diff, as a user sees it. */
function consoleText(events: RunEvent[]): string {
  const { out, text } = screen();
  const reporter = new ConsoleReporter({ diff: true }, out);
  for (const e of events) reporter.onEvent(e);
  return text();
}

const KEY =
  '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFurrowTestKeyMaterialxxxxxxxxxxxxxxxxxxxxx\n-----END ' +
  'PRIVATE KEY-----\n';

describe('secrets in a run', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-secrets-run-'));
  const work = path.join(dir, 'work');
  const inventory = path.join(dir, 'hosts.yml');
  const runs = path.join(dir, '.furrow', 'runs');
  writeFileSync(inventory, `all:\n  vars: {ansible_connection: local, work: ${work}}\n  hosts: {a: {}}\n`);
  writeFileSync(path.join(dir, 'hidden-src'), 'secret=furrow-hidden-text\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
  });

  async function play(yaml: string, opts: Partial<Parameters<typeof runPlaybook>[0]> = {}) {
    const file = path.join(dir, 'site.yml');
    writeFileSync(file, yaml);
    const reporter = new Collect();
    const summary = await runPlaybook({
      modules,
      playbook: file,
      inventory,
      runsDir: runs,
      knownHostsFile: path.join(dir, 'kh'),
      reporters: [reporter],
      ...opts,
    });
    return { summary, events: reporter.events };
  }

  test('the journal holds no file content or diff, and is 0600 in a 0700 .furrow/runs', async () => {
    mkdirSync(runs, { recursive: true, mode: 0o755 });
    writeFileSync(path.join(runs, 'old.jsonl'), '');
    const { summary } = await play(
      `- hosts: all
  gather_facts: false
  tasks:
    - name: Copy a key
      copy: {dest: "{{ work }}/key.pem", mode: "0600", content: "${KEY.replace(/\n/g, '\\n')}"}
    - name: Write a config
      copy: {dest: "{{ work }}/app.conf", content: "token=furrow-config-text\\n"}
    - name: Say it
      debug: {msg: "furrow-printed-text"}
`,
      { diff: true },
    );
    expect(summary.exitCode).toBe(0);
    const journal = readFileSync(summary.journal, 'utf8');
    expect(journal).not.toContain('PRIVATE KEY');
    expect(journal).not.toContain('furrow-config-text');
    expect(journal).not.toContain('furrow-printed-text');
    expect(journal).toContain('"status":"changed"');
    expect(statSync(summary.journal).mode & 0o777).toBe(0o600);
    expect(statSync(runs).mode & 0o777).toBe(0o700);
    expect(statSync(path.dirname(runs)).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(runs, 'old.jsonl')).mode & 0o777).toBe(0o600);
  });

  test('--diff of a private key, or of anything in a no_log task, shows a placeholder', async () => {
    const { events } = await play(
      `- hosts: all
  gather_facts: false
  tasks:
    - name: Copy a key
      copy: {dest: "{{ work }}/key.pem", content: "${KEY.replace(/\n/g, '\\n')}"}
    - name: Hidden config
      no_log: true
      copy: {dest: "{{ work }}/hidden.conf", src: "${path.join(dir, 'hidden-src')}"}
    - name: Plain config
      copy: {dest: "{{ work }}/plain.conf", content: "plain=furrow-visible\\n"}
`,
      { diff: true },
    );
    const shown = consoleText(events);
    expect(shown).not.toContain('PRIVATE KEY');
    expect(shown).not.toContain('furrow-hidden-text');
    expect(shown).toContain('(content holds a private key: diff hidden)');
    expect(shown).toContain('(diff hidden by no_log)');
    expect(shown).toContain('+plain=furrow-visible'); // the control: other diffs still show
    const json = JSON.stringify(events);
    expect(json).not.toContain('PRIVATE KEY');
    expect(json).not.toContain('furrow-hidden-text');
  });

  test('a template syntax error in a no_log task gives the place and the error, not the text', async () => {
    const yaml = (noLog: boolean) => `- hosts: all
  gather_facts: false
  tasks:
    - name: Secret
      no_log: ${noLog}
      copy: {dest: "{{ work }}/x", content: "password=furrow-hunter2 {{ oops( }}"}
`;
    const secret = await play(yaml(true)).catch((e: Error) => e);
    expect(secret).toBeInstanceOf(Error);
    expect((secret as Error).message).toMatch(/site\.yml:4.*template syntax error/);
    expect((secret as Error).message).not.toContain('furrow-hunter2');
    const plain = await play(yaml(false)).catch((e: Error) => e);
    expect((plain as Error).message).toContain('furrow-hunter2'); // the control: the snippet helps where allowed
  });
});
