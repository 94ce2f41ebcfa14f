import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunEvent } from '../../src/engine/events.js';
import { describeLab, expectExit, furrow, labTestName } from './support.js';

const NAME = labTestName('t-run');

type Result = Extract<RunEvent, { kind: 'task_result' }>;

function events(stdout: string): RunEvent[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RunEvent);
}
const results = (evs: RunEvent[]) => evs.filter((e): e is Result => e.kind === 'task_result');

describeLab('furrow run on real hosts', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-run-test-'));
  const inventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const playbook = (name: string, text: string) => {
    const file = path.join(cwd, name);
    writeFileSync(file, text);
    return file;
  };
  const run = (file: string, ...extra: string[]) => furrow(['run', file, '-i', inventory, '--json', ...extra], { cwd });
  const onHost = async (host: string, command: string) => {
    const r = await furrow(['exec', host, '-i', inventory, '--json', '--', command], { cwd });
    return (JSON.parse(r.stdout.trim()) as { stdout: string }).stdout.trim();
  };

  beforeAll(async () => {
    expectExit(await furrow(['lab', 'up', '--hosts', '3', '--name', NAME], { cwd }), 0);
  }, 600_000);

  afterAll(async () => {
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  });

  test('handlers: a changed config restarts its service once; an unchanged run restarts nothing', async () => {
    const file = playbook(
      'handlers.yml',
      `- hosts: all
  gather_facts: false
  vars: {message: one}
  tasks:
    - name: Install the demo unit
      systemd:
        name: furrow-demo.service
        content: |
          [Unit]
          Description=furrow demo
          [Service]
          ExecStart=/bin/sleep infinity
          [Install]
          WantedBy=multi-user.target
        state: started
        enabled: true
    - name: Write the demo config
      copy: {dest: /etc/furrow-demo.conf, content: "message={{ message }}\\n"}
      notify: Restart demo
  handlers:
    - name: Restart demo
      systemd: {name: furrow-demo.service, state: restarted}
`,
    );
    const started = () => onHost('h1', 'systemctl show -p ActiveEnterTimestampMonotonic --value furrow-demo.service');
    const handlerRuns = (evs: RunEvent[]) => results(evs).filter((e) => e.handler && e.status === 'changed');

    const first = await run(file);
    expectExit(first, 0);
    expect(
      handlerRuns(events(first.stdout))
        .map((e) => e.host)
        .sort(),
    ).toEqual(['h1', 'h2', 'h3']);
    const t1 = await started();

    const again = await run(file);
    expectExit(again, 0);
    const evs = events(again.stdout);
    expect(handlerRuns(evs)).toEqual([]);
    const end = evs.find((e) => e.kind === 'run_end');
    expect(end && end.kind === 'run_end' && Object.values(end.recap).map((r) => r.changed)).toEqual([0, 0, 0]);
    expect(await started()).toBe(t1);

    const changed = await run(file, '-e', 'message=two');
    expectExit(changed, 0);
    expect(handlerRuns(events(changed.stdout)).filter((e) => e.host === 'h1')).toHaveLength(1);
    expect(await started()).not.toBe(t1);
    expect(await onHost('h1', 'cat /etc/furrow-demo.conf')).toBe('message=two');

    const check = await run(file, '-e', 'message=three', '--check', '--diff');
    expectExit(check, 0);
    const planned = results(events(check.stdout)).find((e) => e.host === 'h1' && e.task === 'Write the demo config');
    expect(planned?.status).toBe('changed');
    expect(planned?.diff?.unified).toContain('+message=three');
    expect(await onHost('h1', 'cat /etc/furrow-demo.conf')).toBe('message=two');
  });

  test('no lock-step: while one host sleeps, the others finish their remaining tasks', async () => {
    const file = playbook(
      'lockstep.yml',
      `- hosts: all
  gather_facts: false
  tasks:
    - {name: Start, command: "true"}
    - name: Slow on h2
      command: sleep 3
      when: inventory_hostname == "h2"
    - {name: Step three, command: "true"}
    - {name: Step four, command: "true"}
`,
    );
    const r = await run(file);
    expectExit(r, 0);
    const evs = results(events(r.stdout));
    const slow = evs.findIndex((e) => e.host === 'h2' && e.task === 'Slow on h2');
    const lastOf = (host: string) => evs.findIndex((e) => e.host === host && e.task === 'Step four');
    expect(slow).toBeGreaterThan(-1);
    expect(lastOf('h1')).toBeGreaterThan(-1);
    expect(lastOf('h1')).toBeLessThan(slow);
    expect(lastOf('h3')).toBeLessThan(slow);
  });

  test('a failing host stops, the others finish, and --resume picks up on the failed host only', async () => {
    const file = playbook(
      'resume.yml',
      `- hosts: all
  gather_facts: false
  tasks:
    - name: Make the folder
      file: {path: /tmp/furrow-resume, state: directory}
    - name: Gate
      command: test -f /tmp/furrow-resume/go
      when: inventory_hostname == "h2"
    - name: Mark done
      copy: {dest: /tmp/furrow-resume/done, content: "done\\n"}
`,
    );
    const first = await run(file);
    expect(first.code).toBe(1);
    const evs = results(events(first.stdout));
    expect(evs.find((e) => e.host === 'h2' && e.task === 'Gate')?.status).toBe('failed');
    expect(evs.some((e) => e.host === 'h2' && e.task === 'Mark done')).toBe(false);
    for (const h of ['h1', 'h3']) expect(await onHost(h, 'cat /tmp/furrow-resume/done')).toBe('done');
    expect(await onHost('h2', 'test -f /tmp/furrow-resume/done && echo yes || echo no')).toBe('no');

    await onHost('h2', 'touch /tmp/furrow-resume/go');
    const resumed = await run(file, '--resume');
    expectExit(resumed, 0);
    const revs = results(events(resumed.stdout));
    expect([...new Set(revs.map((e) => e.host))]).toEqual(['h2']);
    expect(revs.map((e) => e.task)).toEqual(['Gate', 'Mark done']);
    expect(await onHost('h2', 'cat /tmp/furrow-resume/done')).toBe('done');
    // The journal of each run is on disk, one JSON event per line.
    const start = events(resumed.stdout).find((e) => e.kind === 'run_start');
    const journal = path.join(
      cwd,
      '.furrow',
      'runs',
      `${start && start.kind === 'run_start' ? start.runId : 'none'}.jsonl`,
    );
    expect(readFileSync(journal, 'utf8').split('\n').filter(Boolean).length).toBeGreaterThan(3);
  });

  test(
    'a loop of sysctls is read in one round trip, and each item still sees the file as the items before it left ' +
      'it',
    async () => {
      const conf = '/etc/sysctl.d/98-furrow-loop.conf';
      const file = playbook(
        'sysctl-loop.yml',
        `- hosts: h1
  gather_facts: false
  tasks:
    - {name: Something quiet first, file: {path: /etc/sysctl.d, state: directory}}
    - name: Keepalive settings
      sysctl: {name: "{{ item.name }}", value: "{{ item.value }}", sysctl_file: ${conf}}
      loop:
        - {name: net.ipv4.tcp_keepalive_time, value: 601}
        - {name: net.ipv4.tcp_keepalive_intvl, value: 31}
        - {name: net.ipv4.tcp_keepalive_probes, value: 8}
`,
      );
      const status = async () => {
        const r = await run(file);
        expectExit(r, 0);
        return results(events(r.stdout)).find((e) => e.task === 'Keepalive settings')?.status;
      };
      const state = () =>
        onHost(
          'h1',
          `cat ${conf}; cat /proc/sys/net/ipv4/tcp_keepalive_time /proc/sys/net/ipv4/tcp_keepalive_intvl ` +
            '/proc/sys/net/ipv4/tcp_keepalive_probes',
        );
      const settled = [
        'net.ipv4.tcp_keepalive_time=601',
        'net.ipv4.tcp_keepalive_intvl=31',
        'net.ipv4.tcp_keepalive_probes=8',
        '601',
        '31',
        '8',
      ].join('\n');
      try {
        expect(await status()).toBe('changed');
        expect(await state()).toBe(settled);
        expect(await status()).toBe('ok');
        // The second and third lines gone: the first item's read takes all three keys and the file,
        // the second puts its line back, and the third must add its own to that file, not to the one
        // read before the second wrote (which would lose the second's line again).
        await onHost('h1', `sed -i '2,3d' ${conf}; echo 42 > /proc/sys/net/ipv4/tcp_keepalive_intvl`);
        expect(await status()).toBe('changed');
        expect(await state()).toBe(settled);
        expect(await status()).toBe('ok');
      } finally {
        await onHost('h1', `rm -f ${conf}`);
      }
    },
  );
});
