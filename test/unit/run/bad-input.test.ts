import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { furrow } from '../../lab/support.js';
import { countingHost, type CountingHost } from '../counting-host.js';

/**
 * Bad input exits 2 with file:line, and no host is touched: the inventory's one host is a TCP
 * listener on loopback that counts connections, and it must see none.
 */
describe('furrow run with bad input', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-bad-input-'));
  let target: CountingHost;
  let inventory: string;

  beforeAll(async () => {
    target = await countingHost();
    inventory = path.join(dir, 'hosts');
    writeFileSync(inventory, `[web]\nweb1 ${target.hostVars}\n`);
  });

  afterAll(async () => {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    target.reset();
  });

  async function run(name: string, playbook: string, extra: string[] = []) {
    const file = path.join(dir, name);
    writeFileSync(file, playbook);
    return { file, ...(await furrow(['run', file, '-i', inventory, ...extra], { cwd: dir, timeoutMs: 60_000 })) };
  }

  test('broken YAML: exit 2, file:line:column', async () => {
    const r = await run('broken.yml', '- hosts: all\n  tasks:\n    - name: x\n      command: [unclosed\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${r.file}:\\d+:\\d+`));
    expect(target.connections).toBe(0);
  });

  test('unknown module: exit 2, names it and the place', async () => {
    const r = await run(
      'unknown.yml',
      '- hosts: all\n  tasks:\n    - name: x\n      copyy: {dest: /tmp/x, content: y}\n',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${r.file}:4:`);
    expect(r.stderr).toMatch(/copyy/);
    expect(target.connections).toBe(0);
  });

  test('wrong param type: exit 2 at the value', async () => {
    const r = await run(
      'type.yml',
      '- hosts: all\n  tasks:\n    - name: x\n      file: {path: [1, 2], state: directory}\n',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${r.file}:4:`);
    expect(r.stderr).toMatch(/path/);
    expect(target.connections).toBe(0);
  });

  test('undefined variable: exit 2, names the variable, the task line and the host', async () => {
    const r = await run(
      'undefined.yml',
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Write it\n      copy: {dest: "/tmp/{{ nowhere ' +
        '}}", content: x}\n',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${r.file}:4:`);
    expect(r.stderr).toMatch(/'nowhere'.*web1/);
    expect(target.connections).toBe(0);
  });

  test('a variable guarded by its when, or behind default, is not an error before the run', async () => {
    const r = await run(
      'guarded.yml',
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Maybe\n      debug: {msg: "{{ opt }}"}\n      ' +
        'when: opt is defined\n    - name: Fallback\n      debug: {msg: \'{{ default opt "none" }}\'}\n',
    );
    // Both tasks run on the controller (debug needs no connection): the run goes through.
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/web1 skipped: Maybe|web1 ok: Fallback/);
    expect(r.stdout).toMatch(/web1 ok: Fallback/);
  });

  test('unknown group in the hosts pattern: exit 2, names the group', async () => {
    const r = await run('group.yml', '- hosts: etcd\n  tasks:\n    - name: x\n      command: "true"\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown host or group 'etcd'/);
    expect(target.connections).toBe(0);
  });

  test('the control: a good playbook does connect (so the zero counts above mean something)', async () => {
    const r = await run(
      'good.yml',
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: x\n      command: "true"\n',
    );
    expect(r.code).not.toBe(2);
    expect(target.connections).toBeGreaterThan(0);
  });

  test('a --tags value no task has is a warning naming the tags there are, not a silent run of nothing', async () => {
    const r = await run(
      'tagged.yml',
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: x\n      command: "true"\n      tags: [config]\n',
      ['--tags', 'confg'],
    );
    expect(`${r.stdout}${r.stderr}`).toMatch(
      /--tags confg: no task has this tag, so it selects nothing; the tags here are: config/,
    );
  });
});
