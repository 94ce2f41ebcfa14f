import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { furrow } from '../../lab/support.js';
import { packagePath } from '../../../src/package-root.js';
import { countingHost, type CountingHost } from '../counting-host.js';

// ansible-playbook's flags that users type without thinking (docs/cli.md): listings that touch no
// host, and -K's prompt. The inventory's host counts connections: a listing must make none.
describe("Ansible's flags on run and deploy", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-ansible-flags-'));
  const cluster = path.join(dir, 'cluster');
  let target: CountingHost;
  let inventory: string;
  const playbook = path.join(dir, 'site.yml');

  beforeAll(async () => {
    target = await countingHost();
    const host = target.hostVars;
    inventory = path.join(dir, 'hosts');
    writeFileSync(
      inventory,
      `[etcd]\nh1 ${host}\nh2 ${host}\n\n[web]\nh3 ${host}\n\n[local]\nme ansible_connection=local\n`,
    );
    writeFileSync(
      playbook,
      [
        '- name: Configure etcd',
        '  hosts: etcd',
        '  gather_facts: false',
        '  tags: [db]',
        '  tasks:',
        '    - name: Write the config',
        '      copy: {content: "x", dest: /tmp/furrow-never}',
        '      tags: [config]',
        '    - block:',
        '        - name: Inside a block',
        '          command: "true"',
        '          tags: [inner]',
        '- name: Configure web',
        '  hosts: web',
        '  gather_facts: false',
        '  tasks:',
        '    - name: Restart it',
        '      command: "true"',
        '',
      ].join('\n'),
    );
    mkdirSync(path.join(cluster, 'pki'), { recursive: true });
    writeFileSync(
      path.join(cluster, 'hosts'),
      `[etcd]\nh1 ${host}\n\n[kube_master]\nh1 ${host}\n\n[kube_node]\nh1 ${host}\n`,
    );
    // A repo/ to serve on an address this machine does not have (a lab that is down): a listing
    // must not try to serve it.
    mkdirSync(path.join(cluster, 'repo'), { recursive: true });
    writeFileSync(path.join(cluster, 'repo', 'Packages'), '');
    writeFileSync(path.join(cluster, 'config.yml'), 'ntp_servers: []\nfurrow_repo_address: 10.213.250.1\n');
  });

  afterAll(async () => {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    target.reset();
  });

  const run = (args: string[]) => furrow(args, { cwd: dir, timeoutMs: 120_000 });

  test('--list-hosts: each play, its pattern and its hosts after --limit', async () => {
    const r = await run(['run', playbook, '-i', inventory, '--list-hosts', '-l', 'h1:h3']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(
      [
        'playbook: site.yml',
        '',
        '  play #1 (etcd): Configure etcd\tTAGS: [db]',
        "    pattern: ['etcd']",
        '    hosts (1):',
        '      h1',
        '',
        '  play #2 (web): Configure web\tTAGS: []',
        "    pattern: ['web']",
        '    hosts (1):',
        '      h3',
        '',
      ].join('\n'),
    );
    expect(target.connections).toBe(0);
  });

  test('--list-tasks and --list-tags: the tasks as they would run, blocks opened, after --tags', async () => {
    const tasks = await run(['run', playbook, '-i', inventory, '--list-tasks']);
    expect(tasks.code).toBe(0);
    expect(tasks.stdout).toContain(
      '    tasks:\n      Write the config\tTAGS: [db, config]\n      Inside a block\tTAGS: [db, inner]\n',
    );
    expect(tasks.stdout).toContain('      Restart it\tTAGS: []');
    const tagged = await run(['run', playbook, '-i', inventory, '--list-tasks', '-t', 'inner']);
    expect(tagged.stdout).not.toContain('Write the config');
    expect(tagged.stdout).toContain('Inside a block');
    const tags = await run(['run', playbook, '-i', inventory, '--list-tags']);
    expect(tags.stdout).toContain(
      '  play #1 (etcd): Configure etcd\tTAGS: [db]\n      TASK TAGS: [config, db, inner]\n',
    );
    expect(target.connections).toBe(0);
  });

  test('--syntax-check: exit 0 naming the playbook; a broken one is exit 2; no host either way', async () => {
    const ok = await run(['run', playbook, '-i', inventory, '--syntax-check']);
    expect([ok.code, ok.stdout]).toEqual([0, 'playbook: site.yml\n']);
    const broken = path.join(dir, 'broken.yml');
    writeFileSync(broken, '- hosts: etcd\n  tasks:\n    - name: x\n      copyy: {dest: /x}\n');
    const bad = await run(['run', broken, '-i', inventory, '--syntax-check']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${broken}:4:`);
    expect(target.connections).toBe(0);
  });

  test(
    "deploy 01 --list-tasks -t sysctl: the shipped step's tasks, by role, asking no host and " +
      'serving no repository',
    async () => {
      const r = await run(['deploy', '01', '-i', cluster, '--list-tasks', '-t', 'sysctl']);
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toContain(`playbook: ${path.relative(dir, packagePath('playbooks', '01.prepare.yml'))}`);
      expect(r.stdout).toContain(
        '      prepare : Set the network sysctls\tTAGS: [sysctl]\n      prepare : Set the kernel ' +
          'sysctls\tTAGS: [sysctl]\n',
      );
      expect(r.stdout).not.toContain('Install the base packages');
      expect(target.connections).toBe(0);
    },
  );

  test('-K with no terminal is bad input naming the way around it; no host is touched', async () => {
    const r = await run(['run', playbook, '-i', inventory, '-K']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /-K\/--ask-become-pass asks for the password on a terminal, and standard input is not one/,
    );
    expect(r.stderr).toMatch(/ansible_become_password/);
    expect(target.connections).toBe(0);
  });

  // script(1) gives the command a terminal; the password is typed once the prompt shows (before,
  // the terminal itself would echo it), and must not come back on it.
  test('-K on a terminal prompts without echo, and the run goes on', async () => {
    const local = path.join(dir, 'local.yml');
    writeFileSync(
      local,
      '- hosts: local\n  gather_facts: false\n  tasks:\n    - name: hello\n      command: echo hello-from-the-run\n',
    );
    const cmd = `${process.execPath} ${packagePath('dist', 'cli', 'furrow.js')} run ${local} -i ${inventory} -K`;
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      const before = out;
      out += d.toString();
      if (!before.includes('BECOME password: ') && out.includes('BECOME password: '))
        child.stdin.write('not-echoed-secret\r');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.stdin.end();
    expect(out).toContain('BECOME password: ');
    expect(out).not.toContain('not-echoed-secret');
    expect(out).toMatch(/me\s+ok=0 changed=1 failed=0/);
    expect(code).toBe(0);
  }, 60_000);
});
