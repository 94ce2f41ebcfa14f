/**
 * Issue 15 #15 on a real host: two runs at once on one lab host. The second waits for the first
 * (and says whom for), or with --no-wait fails at once naming it (exit 4); a lineinfile edit of
 * each run survives; a controller killed while it holds the lock lets go of it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeLab, expectExit, furrow, labTestName } from './support.js';

const NAME = labTestName('t-lock');
const CLI = path.resolve('dist/cli/furrow.js');

/** A run in the background, with what it printed so far, and a wait for a line of it. */
interface Background {
  child: ChildProcess;
  output: () => string;
  sawLine(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

function background(args: string[], cwd: string): Background {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer): void => {
    text += d.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    exited,
    sawLine: (pattern, timeoutMs = 120_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${text}`)),
          timeoutMs,
        );
        const check = (): void => {
          if (pattern.test(text)) {
            clearTimeout(timer);
            resolve();
          }
        };
        waiters.push(check);
        void exited.then(() =>
          setTimeout(() => {
            check();
            reject(new Error(`the run ended without a line matching ${pattern}:\n${text}`));
          }, 50),
        );
        check();
      }),
  };
}

describeLab('two runs on one host at once', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-lock-test-'));
  const inventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const onHost = async (command: string) => {
    const r = await furrow(['exec', 'h1', '-i', inventory, '--json', '--', command], { cwd });
    return (JSON.parse(r.stdout.trim()) as { stdout: string }).stdout;
  };
  const started: ChildProcess[] = [];
  // The slow run: its edit of shared.conf comes after a pause, in the window the other run would
  // use. The pause lasts until the test lets it go (a file on the host), not a fixed time: on a
  // loaded machine a fixed 6 s ran out before the waiting run had started.
  const slow = path.join(cwd, 'slow.yml');
  const quick = path.join(cwd, 'quick.yml');
  writeFileSync(
    slow,
    `- hosts: all
  gather_facts: false
  tasks:
    - {name: Slow run begins, shell: "echo 'slow begins' >> /root/order.log"}
    - {name: Slow run pauses, shell: "for i in $(seq 1500); do [ -e /root/release ] && exit 0; sleep 0.2; done; exit 1"}
    - {name: Slow run edits, lineinfile: {path: /root/shared.conf, line: "slow=1", create: true}}
    - {name: Slow run ends, shell: "echo 'slow ends' >> /root/order.log"}
`,
  );
  writeFileSync(
    quick,
    `- hosts: all
  gather_facts: false
  tasks:
    - {name: Quick run begins, shell: "echo 'quick begins' >> /root/order.log"}
    - {name: Quick run edits, lineinfile: {path: /root/shared.conf, line: "quick=1", create: true}}
    - {name: Quick run ends, shell: "echo 'quick ends' >> /root/order.log"}
`,
  );

  beforeAll(async () => {
    expectExit(await furrow(['lab', 'up', '--hosts', '1', '--name', NAME], { cwd }), 0);
  }, 600_000);

  afterAll(async () => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  });

  test('the second run fails at once with --no-wait, else waits naming the holder; both edits stay', async () => {
    const first = background(['run', slow, '-i', inventory], cwd);
    started.push(first.child);
    await first.sawLine(/h1 changed: Slow run begins/);
    const holder = new RegExp(
      `another run holds ` +
        `/run/furrow\\.lock \\(controller ${os.hostname()}, PID ${first.child.pid}, started ` +
        `\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\)`,
    );

    const journals = () => readdirSync(path.join(cwd, '.furrow', 'runs')).filter((f) => f.endsWith('.jsonl')).length;
    const before = journals();
    const refused = await furrow(['run', quick, '-i', inventory, '--no-wait'], { cwd });
    expectExit(refused, 4);
    expect(journals()).toBe(before); // nothing ran: no journal for --resume to start from
    expect(refused.stderr).toMatch(holder);
    expect(refused.stderr).toContain('not waiting for it (--no-wait)');
    expect(first.child.exitCode).toBeNull(); // at once: the slow run still holds the host

    const second = background(['run', quick, '-i', inventory], cwd);
    started.push(second.child);
    await second.sawLine(/h1 waiting: /);
    expect(second.output()).toMatch(holder);
    expect(second.output()).not.toMatch(/Quick run begins/); // nothing ran while it waited
    await onHost('touch /root/release');
    expect(await first.exited).toBe(0);
    expect(await second.exited).toBe(0);
    expect(second.output()).toMatch(/h1 lock taken after \d+\.\d s of waiting/);

    // The quick run began only after the slow one ended, and neither edit was lost.
    expect((await onHost('cat /root/order.log')).trim().split('\n')).toEqual([
      'slow begins',
      'slow ends',
      'quick begins',
      'quick ends',
    ]);
    expect((await onHost('cat /root/shared.conf')).trim().split('\n').sort()).toEqual(['quick=1', 'slow=1']);
    expect((await onHost('cat /run/furrow.lock')).trim()).toMatch(
      new RegExp(`^controller=${os.hostname()} pid=${second.child.pid} started=`),
    );
    await onHost('rm /root/release'); // the next slow run pauses again
  }, 300_000);

  test('a controller killed while it holds the lock lets go of it', async () => {
    const first = background(['run', slow, '-i', inventory], cwd);
    started.push(first.child);
    await first.sawLine(/h1 changed: Slow run begins/);
    first.child.kill('SIGKILL'); // no exit handler, no release: only the connection's end
    await first.exited;
    const t0 = Date.now();
    let r = await furrow(['run', quick, '-i', inventory, '--no-wait'], { cwd });
    // sshd notices the dropped connection at once (the kernel closes the socket); allow for load.
    while (r.code === 4 && Date.now() - t0 < 20_000) {
      await new Promise((res) => setTimeout(res, 1000));
      r = await furrow(['run', quick, '-i', inventory, '--no-wait'], { cwd });
    }
    expectExit(r, 0);
  }, 300_000);
});
