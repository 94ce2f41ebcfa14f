import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../../src/engine/errors.js';
import type { Reporter, RunEvent } from '../../../src/engine/events.js';
import { runPlaybook } from '../../../src/engine/run/runner.js';
import { modules } from '../../../src/modules/index.js';

/**
 * Engine semantics on real local hosts: three inventory hosts with the local connection, so every
 * task really runs (shell commands, files in a temp folder), without the lab.
 */
type Result = Extract<RunEvent, { kind: 'task_result' }>;

class Collect implements Reporter {
  readonly events: RunEvent[] = [];
  onEvent(e: RunEvent): void {
    this.events.push(e);
  }
  get results(): Result[] {
    return this.events.filter((e): e is Result => e.kind === 'task_result');
  }
  status(host: string, task: string): string | undefined {
    return this.results.find((e) => e.host === host && e.task === task)?.status;
  }
}

describe('engine semantics (local hosts)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-semantics-'));
  const work = path.join(dir, 'work');
  const inventory = path.join(dir, 'hosts.yml');
  writeFileSync(
    inventory,
    `all:\n  vars: {ansible_connection: local, work: ${work}}\n  hosts: {a: {}, b: {}, c: {}}\n`,
  );
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
      runsDir: path.join(dir, 'runs'),
      knownHostsFile: path.join(dir, 'kh'),
      reporters: [reporter],
      ...opts,
    });
    return { summary, r: reporter };
  }
  const count = (file: string) =>
    existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;

  test('loop, register, and a when on the registered result', async () => {
    const { summary, r } = await play(`- hosts: all
  gather_facts: false
  tasks:
    - name: Touch each
      file: {path: "{{ work }}/{{ inventory_hostname }}-{{ item }}", state: touch}
      loop: [x, y]
      register: touched
    - name: Only when all items changed
      command: "true"
      when: touched.changed
`);
    expect(summary.exitCode).toBe(0);
    expect(existsSync(path.join(work, 'a-x')) && existsSync(path.join(work, 'c-y'))).toBe(true);
    expect(r.status('a', 'Touch each')).toBe('changed');
    expect(r.status('a', 'Only when all items changed')).toBe('changed');
  });

  test('block: a failure runs rescue, always runs anyway, and the host is not failed', async () => {
    const { summary, r } = await play(`- hosts: a
  gather_facts: false
  tasks:
    - name: Guarded
      block:
        - {name: Fails, command: "false"}
        - {name: Never, command: "true"}
      rescue:
        - {name: Rescue, shell: "echo rescued >> {{ work }}/log"}
      always:
        - {name: Always, shell: "echo always >> {{ work }}/log"}
    - {name: After, command: "true"}
`);
    expect(summary.exitCode).toBe(0);
    expect(readFileSync(path.join(work, 'log'), 'utf8')).toBe('rescued\nalways\n');
    expect(r.status('a', 'Never')).toBeUndefined();
    expect(r.status('a', 'After')).toBe('changed');
    expect(summary.recap.a!.failed).toBe(0);
  });

  test('until/retries retries until the condition holds; changed_when, failed_when, ignore_errors', async () => {
    const { summary, r } = await play(`- hosts: a
  gather_facts: false
  tasks:
    - name: Third time lucky
      shell: "echo x >> {{ work }}/tries; test $(wc -l < {{ work }}/tries) -ge 3"
      register: out
      until: out.rc == 0
      retries: 5
      delay: 0
    - name: Never changed
      command: "true"
      changed_when: false
    - name: Fails on output
      shell: echo BAD
      register: bad
      failed_when: '"BAD" in bad.stdout'
      ignore_errors: true
    - {name: Still going, command: "true"}
`);
    expect(summary.exitCode).toBe(0);
    expect(count(path.join(work, 'tries'))).toBe(3);
    // Each attempt that is not there yet is reported, with the attempts still left.
    expect(
      r.events
        .filter((e) => e.kind === 'task_retry')
        .map((e) => e.kind === 'task_retry' && [e.host, e.task, e.attempt, e.retriesLeft]),
    ).toEqual([
      ['a', 'Third time lucky', 1, 5],
      ['a', 'Third time lucky', 2, 4],
    ]);
    expect(r.status('a', 'Never changed')).toBe('ok');
    expect(r.status('a', 'Fails on output')).toBe('ok'); // failed, but ignored
    expect(r.results.find((e) => e.task === 'Fails on output')?.msg).toMatch(/ignored/);
    expect(r.status('a', 'Still going')).toBe('changed');
  });

  test('run_once runs on one host and gives every host its result; delegate_to runs elsewhere', async () => {
    const { summary, r } = await play(`- hosts: all
  gather_facts: false
  tasks:
    - name: Once
      shell: "echo {{ inventory_hostname }} >> {{ work }}/once; echo token"
      register: once
      run_once: true
    - name: Everyone saw it
      assert: {that: ['once.stdout == "token"']}
    - name: Delegated
      shell: "echo {{ inventory_hostname }} >> {{ work }}/delegated"
      delegate_to: localhost
`);
    expect(summary.exitCode).toBe(0);
    expect(count(path.join(work, 'once'))).toBe(1);
    expect(['a', 'b', 'c'].map((h) => r.status(h, 'Everyone saw it'))).toEqual(['ok', 'ok', 'ok']);
    expect(readFileSync(path.join(work, 'delegated'), 'utf8').split('\n').filter(Boolean).sort()).toEqual([
      'a',
      'b',
      'c',
    ]);
  });

  test('serial: the second batch starts after the first has finished', async () => {
    const { r } = await play(`- hosts: all
  gather_facts: false
  serial: 2
  tasks:
    - {name: One, command: "true"}
    - {name: Two, command: "true"}
`);
    const idx = (h: string, t: string) => r.results.findIndex((e) => e.host === h && e.task === t);
    expect(idx('c', 'One')).toBeGreaterThan(idx('a', 'Two'));
    expect(idx('c', 'One')).toBeGreaterThan(idx('b', 'Two'));
  });

  test('a failed host stops; any_errors_fatal stops every host; max_fail_percentage too', async () => {
    const plain = await play(`- hosts: all
  gather_facts: false
  tasks:
    - {name: Fail on b, command: "false", when: inventory_hostname == "b"}
    - {name: Next, command: "true"}
`);
    expect(plain.summary.exitCode).toBe(1);
    expect(plain.r.status('b', 'Next')).toBeUndefined();
    expect(plain.r.status('a', 'Next')).toBe('changed');

    const fatal = await play(`- hosts: all
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - {name: Fail on a, command: "false", when: inventory_hostname == "a"}
    - {name: Slow, command: "sleep 2"}
    - {name: Next, command: "true"}
`);
    expect(fatal.summary.exitCode).toBe(1);
    // Hosts do not run in lock-step: b and c stop before Next only because a's failure arrives
    // while they sleep, so the sleep is long enough for a loaded machine (0.3 s was not).
    expect(fatal.r.results.filter((e) => e.task === 'Next')).toEqual([]);
    expect(fatal.r.events.find((e) => e.kind === 'play_end')).toMatchObject({ aborted: 'any_errors_fatal: a failed' });

    const pct = await play(`- hosts: all
  gather_facts: false
  max_fail_percentage: 30
  tasks:
    - {name: Fail on a, command: "false", when: inventory_hostname == "a"}
    - {name: Slow, command: "sleep 0.3"}
    - {name: Next, command: "true"}
`);
    expect(pct.r.events.find((e) => e.kind === 'play_end')).toMatchObject({
      aborted: expect.stringMatching(/max_fail_percentage 30% exceeded/),
    });
  });

  test('tags, skip-tags and start-at-task pick the tasks that run', async () => {
    const yaml = `- hosts: a
  gather_facts: false
  tasks:
    - {name: Install, command: "true", tags: [install]}
    - {name: Configure, command: "true", tags: [config]}
    - {name: Always, command: "true", tags: [always]}
    - {name: Debug only, command: "true", tags: [never, debug]}
`;
    const names = async (opts: object) => (await play(yaml, opts)).r.results.map((e) => e.task);
    expect(await names({})).toEqual(['Install', 'Configure', 'Always']);
    expect(await names({ tags: ['config'] })).toEqual(['Configure', 'Always']);
    expect(await names({ skipTags: ['install'] })).toEqual(['Configure', 'Always']);
    expect(await names({ tags: ['debug'] })).toEqual(['Always', 'Debug only']);
    expect(await names({ startAtTask: 'Configure' })).toEqual(['Configure', 'Always']);
  });

  test(
    'check_mode: false runs a probe for real under --check, so later tasks can read its result; check_mode: ' +
      'true only plans',
    async () => {
      const yaml = `- hosts: a
  gather_facts: false
  tasks:
    - name: Probe
      shell: "echo one; echo two"
      register: probed
      changed_when: false
      check_mode: false
    - name: Use each line
      shell: "echo {{ item }} >> {{ work }}/used"
      loop: "{{ probed.stdout_lines }}"
    - name: Never for real
      shell: "echo x > {{ work }}/planned"
      check_mode: true
`;
      const checked = await play(yaml, { check: true });
      expect(checked.summary.exitCode).toBe(0);
      expect(checked.r.results.find((e) => e.task === 'Probe')?.status).toBe('ok');
      // Planned for both lines the probe printed, and nothing written.
      expect(checked.r.results.find((e) => e.task === 'Use each line')?.status).toBe('changed');
      expect(existsSync(path.join(work, 'used'))).toBe(false);
      const real = await play(yaml);
      expect(real.summary.exitCode).toBe(0);
      expect(readFileSync(path.join(work, 'used'), 'utf8')).toBe('one\ntwo\n');
      expect(existsSync(path.join(work, 'planned'))).toBe(false);
      // Without check_mode: false the registered result of a command under --check has no stdout.
      const without = await play(yaml.replace('      check_mode: false\n', ''), { check: true });
      expect(without.summary.exitCode).toBe(1);
    },
  );

  test('set_fact values are seen by later tasks; check mode changes nothing', async () => {
    const yaml = `- hosts: a
  gather_facts: false
  tasks:
    - name: Decide
      set_fact: {target: "{{ work }}/made-by-fact"}
    - name: Make it
      copy: {dest: "{{ target }}", content: "x\\n"}
`;
    const checked = await play(yaml, { check: true });
    expect(checked.r.status('a', 'Make it')).toBe('changed');
    expect(existsSync(path.join(work, 'made-by-fact'))).toBe(false);
    const real = await play(yaml);
    expect(real.summary.exitCode).toBe(0);
    expect(readFileSync(path.join(work, 'made-by-fact'), 'utf8')).toBe('x\n');
    const again = await play(yaml);
    expect(again.r.status('a', 'Make it')).toBe('ok');
  });

  test('throttle: 1 runs the task on one host at a time; without it the hosts overlap', async () => {
    // 1 s each: a loaded machine (load 13 on 2 cores) started three local hosts' commands more
    // than 0.2 s apart, so they did not overlap even without throttle.
    const yaml = (throttle: string) => `- hosts: all
  gather_facts: false
  tasks:
    - name: Rolling
      shell: "echo start >> {{ work }}/log; sleep 1; echo end >> {{ work }}/log"
${throttle}`;
    await play(yaml('      throttle: 1\n'));
    expect(readFileSync(path.join(work, 'log'), 'utf8')).toBe('start\nend\n'.repeat(3));
    rmSync(path.join(work, 'log'));
    await play(yaml(''));
    expect(readFileSync(path.join(work, 'log'), 'utf8')).not.toBe('start\nend\n'.repeat(3));
  });

  test(
    'plays without joins (deploy all): a host starts its next play while another still ' + 'works on the first',
    async () => {
      const yaml = `- name: Step one
  hosts: all
  gather_facts: false
  tasks:
    - {name: Slow on b, command: "sleep 1", when: inventory_hostname == "b"}
- name: Step two
  hosts: a:b
  gather_facts: false
  tasks:
    - {name: Next step, command: "true"}
`;
      const idx = (r: Collect, h: string, t: string) => r.results.findIndex((e) => e.host === h && e.task === t);
      const flow = (await play(yaml, { joinPlays: false })).r;
      expect(idx(flow, 'a', 'Next step')).toBeGreaterThan(-1);
      expect(idx(flow, 'a', 'Next step')).toBeLessThan(idx(flow, 'b', 'Slow on b'));
      expect(idx(flow, 'b', 'Next step')).toBeGreaterThan(idx(flow, 'b', 'Slow on b'));
      const joined = (await play(yaml)).r;
      expect(idx(joined, 'a', 'Next step')).toBeGreaterThan(idx(joined, 'b', 'Slow on b'));
    },
  );

  test('wait_for_hosts waits for the hosts of the group and of its child groups (inventory group tree)', async () => {
    const nested = path.join(dir, 'nested.yml');
    writeFileSync(
      nested,
      `all:\n  vars: {ansible_connection: local, work: ${work}}\n  hosts: {a: {}}\n  children:\n    masters:\n      ` +
        `children:\n        first: {hosts: {b: {}}}\n`,
    );
    const { summary } = await play(
      `- hosts: all
  gather_facts: false
  tasks:
    - {name: Slow on b, shell: "sleep 1 && echo b >> {{ work }}/log", when: inventory_hostname == "b", tags: [slow]}
    - name: After the masters
      shell: "echo {{ inventory_hostname }} >> {{ work }}/log"
      wait_for_hosts: {group: masters, tag: slow}
`,
      { inventory: nested },
    );
    expect(summary.exitCode).toBe(0);
    // a is in no group but all: it still waits for b, which is in masters only through the child group.
    expect(readFileSync(path.join(work, 'log'), 'utf8').split('\n')[0]).toBe('b');
  });

  test('a templated param is typed once rendered: it loads, and a wrong rendered type fails the task', async () => {
    const yaml = (t: string) => `- hosts: a
  gather_facts: false
  vars: {t: ${t}}
  tasks:
    - name: Fetch with a templated timeout
      get_url: {url: "file:///etc/hostname", dest: "{{ work }}/hn", timeout: "{{ t }}"}
`;
    const good = await play(yaml('5'));
    expect(good.r.status('a', 'Fetch with a templated timeout')).toBe('changed');
    const bad = await play(yaml('"soon"'));
    expect(bad.r.status('a', 'Fetch with a templated timeout')).toBe('failed');
    expect(bad.r.results.find((e) => e.task === 'Fetch with a templated timeout')?.msg).toMatch(/timeout.*integer/);
  });

  test('with a loop, when is judged per item, and the loop variable wins over everything else', async () => {
    const { summary, r } = await play(
      `- hosts: a
  gather_facts: false
  vars: {item: from-play}
  tasks:
    - name: Only odd ones
      shell: "echo {{ item }} >> {{ work }}/items"
      loop: [1, 2, 3]
      when: item != 2
`,
      { extraVars: { item: 'from-extra' } },
    );
    expect(summary.exitCode).toBe(0);
    expect(readFileSync(path.join(work, 'items'), 'utf8')).toBe('1\n3\n');
    expect(r.status('a', 'Only odd ones')).toBe('changed');
  });

  test('facts are gathered only when the play uses them (or says gather_facts: true)', async () => {
    const gathered = (r: Collect) => r.results.filter((e) => e.task === 'Gather facts').length;
    const none = await play(`- hosts: a\n  tasks:\n    - {name: Plain, command: "true"}\n`);
    expect(gathered(none.r)).toBe(0);
    const used = await play(
      `- hosts: a\n  tasks:\n    - name: Uses a fact\n      copy: {dest: "{{ work }}/arch", content: "{{ ` +
        `ansible_architecture }}"}\n`,
    );
    expect(gathered(used.r)).toBe(1);
    expect(readFileSync(path.join(work, 'arch'), 'utf8')).toBe(
      os.arch() === 'x64' ? 'x86_64' : readFileSync(path.join(work, 'arch'), 'utf8'),
    );
    const asked = await play(`- hosts: a\n  gather_facts: true\n  tasks:\n    - {name: Plain, command: "true"}\n`);
    expect(gathered(asked.r)).toBe(1);
  });

  test('read-ahead: a task sees what the tasks before it wrote, though its probe was read ahead of them', async () => {
    const dirs = [1, 2, 3, 4, 5, 6]
      .map((i) => `    - {name: Dir ${i}, file: {path: "{{ work }}/ra", state: directory}}`)
      .join('\n');
    const yaml = `- hosts: a
  gather_facts: false
  tasks:
${dirs}
    - {name: Write f, copy: {dest: "{{ work }}/ra/f", content: "one\\n"}}
    - {name: f is a file now, file: {path: "{{ work }}/ra/f", state: file, mode: "0600"}}
    - {name: A fact between, set_fact: {line: two}}
    - {name: Line in f, lineinfile: {path: "{{ work }}/ra/f", line: "{{ line }}"}}
    - {name: Outside change, shell: "echo three >> {{ work }}/ra/f", changed_when: false}
    - {name: Line three is there, lineinfile: {path: "{{ work }}/ra/f", line: three}}
`;
    const first = await play(yaml);
    expect(first.summary.exitCode).toBe(0);
    const statuses = (r: Collect) => Object.fromEntries(r.results.map((e) => [e.task, e.status]));
    expect(statuses(first.r)).toEqual({
      'Dir 1': 'changed',
      'Dir 2': 'ok',
      'Dir 3': 'ok',
      'Dir 4': 'ok',
      'Dir 5': 'ok',
      'Dir 6': 'ok',
      'Write f': 'changed',
      'f is a file now': 'changed',
      'A fact between': 'ok',
      'Line in f': 'changed',
      'Outside change': 'ok',
      'Line three is there': 'ok',
    });
    const f = path.join(work, 'ra', 'f');
    expect(readFileSync(f, 'utf8')).toBe('one\ntwo\nthree\n');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    // Again: now every task is read ahead of Write f, which puts back "one", so the lines change again.
    const again = await play(yaml);
    expect(again.summary.exitCode).toBe(0);
    expect(statuses(again.r)).toEqual({ ...statuses(first.r), 'Dir 1': 'ok', 'f is a file now': 'ok' });
    expect(readFileSync(f, 'utf8')).toBe('one\ntwo\nthree\n');
  });

  test('beforeTasks gets every host on its open connection before any task; its throw ends the run there', async () => {
    const yaml = `- hosts: all
  tasks:
    - name: Touch
      file: {path: "{{ work }}/{{ inventory_hostname }}", state: touch}
`;
    const seen: string[] = [];
    const ok = await play(yaml, {
      beforeTasks: async (hosts) => {
        for (const { name, conn } of hosts) {
          const r = await conn.exec(`ls ${work}`);
          seen.push(`${name}:${r.stdout.toString().trim()}`);
        }
      },
    });
    expect(ok.summary.exitCode).toBe(0);
    // Asked before the first task: no host had touched its file yet.
    expect(seen.sort()).toEqual(['a:', 'b:', 'c:']);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const runs = path.join(dir, 'runs');
    const journals = readdirSync(runs).length;
    const refused = play(yaml, {
      beforeTasks: async () => {
        throw new InputError({ file: inventory }, 'the hosts are not the ones this folder knows');
      },
    });
    await expect(refused).rejects.toThrow(/not the ones this folder knows/);
    expect(readdirSync(work)).toEqual([]);
    // Nothing ran, so the journal is gone: --resume never starts from this run.
    expect(readdirSync(runs).length).toBe(journals);
  });

  test('a loop reads its items ahead, and an item still sees what the item before it wrote', async () => {
    // Every file probe runs one stat (facts/files.ts): a stat first on PATH that logs itself counts them.
    const bin = path.join(dir, 'bin');
    const log = path.join(dir, 'stat.log');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'stat'), `#!/bin/sh\necho >> ${log}\nexec /usr/bin/stat "$@"\n`, { mode: 0o755 });
    const yaml = `- hosts: a
  gather_facts: false
  environment: {PATH: "${bin}:/usr/bin:/bin"}
  tasks:
    - {name: Base, file: {path: "{{ work }}/lp", state: directory}}
    - name: Dirs
      file: {path: "{{ work }}/lp/{{ item }}", state: directory}
      loop: [d1, d2, d3, d4, d5]
`;
    expect((await play(yaml)).summary.exitCode).toBe(0);
    const probes = async (): Promise<number> => {
      rmSync(log, { force: true });
      const { summary, r } = await play(yaml);
      expect(summary.exitCode).toBe(0);
      expect(r.results.map((e) => e.status)).toEqual(['ok', 'ok']);
      return readFileSync(log, 'utf8').length;
    };
    // How far a probe reads grows with the quiet tasks before it: Base alone (nothing was quiet
    // yet), d1 with d2 (one quiet task), then d3 with d4 and d5. Item by item it would take six.
    expect(await probes()).toBe(3);
    const same = `- hosts: a
  gather_facts: false
  tasks:
    - {name: Base, file: {path: "{{ work }}/lp", state: directory}}
    - {name: Dir, file: {path: "{{ work }}/lp", state: directory}}
    - name: One file, twice
      copy: {dest: "{{ work }}/lp/f", content: "{{ item }}\\n"}
      loop: [one, two]
      register: twice
    - assert: {that: ["twice.results[0].changed", "twice.results[1].changed"]}
`;
    expect((await play(same)).summary.exitCode).toBe(0);
    // Again: item one puts back "one" though its probe read item two's file ahead; two then sees it.
    const again = await play(same);
    expect(again.summary.exitCode).toBe(0);
    expect(readFileSync(path.join(work, 'lp', 'f'), 'utf8')).toBe('two\n');
  });
});
