import { PassThrough, Readable, Writable } from 'node:stream';
import { AuthError, UnreachableError } from '../../../src/engine/errors.js';
import {
  driveCommand,
  SudoPromptWatcher,
  type ExitInfo,
  type RunningCommand,
} from '../../../src/engine/connections/exec-driver.js';
import { planCommand, type SudoPassword } from '../../../src/engine/connections/remote-commands.js';

/** A scripted command: the test plays the remote side. */
class FakeCommand implements RunningCommand {
  stdin = new PassThrough();
  stdout = new PassThrough();
  stderr = new PassThrough();
  killed = false;
  terminated = false;
  stdinText = '';
  private finish!: (info: ExitInfo) => void;
  exited = new Promise<ExitInfo>((resolve) => (this.finish = resolve));

  constructor() {
    this.stdin.on('data', (d: Buffer) => (this.stdinText += d.toString()));
  }
  exit(info: ExitInfo): void {
    this.stdout.end();
    this.stderr.end();
    this.finish(info);
  }
  kill(): void {
    this.killed = true;
    this.exit({ code: null, signal: 'SIGKILL' });
  }
  terminate(): void {
    this.terminated = true;
  }
}

const sudo: SudoPassword = {
  promptMarker: 'PROMPT-x1',
  okMarker: 'OK-x1',
  password: 'pw',
  loginUser: 'deploy',
  becomeUser: 'root',
};
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('SudoPromptWatcher', () => {
  function watch(): { watcher: SudoPromptWatcher; out: string[]; answers: string[]; events: string[] } {
    const out: string[] = [];
    const answers: string[] = [];
    const events: string[] = [];
    const watcher = new SudoPromptWatcher(sudo, {
      output: (c) => out.push(c.toString()),
      answer: (p) => answers.push(p),
      started: () => events.push('started'),
      rejected: () => events.push('rejected'),
    });
    return { watcher, out, answers, events };
  }

  it('answers the prompt once, starts at the success marker and strips both markers, even split across chunks', () => {
    const { watcher, out, answers, events } = watch();
    for (const chunk of ['lecture\nPROM', 'PT-x1', 'O', 'K-x1\nwarn', 'ing\n']) watcher.push(Buffer.from(chunk));
    expect(answers).toEqual(['pw']);
    expect(events).toEqual(['started']);
    expect(out.join('')).toBe('lecture\nwarning\n');
  });

  it('starts without a prompt when sudo does not ask (NOPASSWD)', () => {
    const { watcher, answers, events } = watch();
    watcher.push(Buffer.from('OK-x1\n'));
    expect(answers).toEqual([]);
    expect(events).toEqual(['started']);
  });

  it('treats a second prompt as a rejected password', () => {
    const { watcher, answers, events } = watch();
    watcher.push(Buffer.from('PROMPT-x1'));
    watcher.push(Buffer.from('Sorry, try again.\nPROMPT-x1'));
    expect(answers).toEqual(['pw']);
    expect(events).toEqual(['rejected']);
  });

  it('passes on what sudo said when it ends before the command starts', () => {
    const { watcher, out } = watch();
    watcher.push(Buffer.from('deploy is not in the sudoers file.\n'));
    watcher.flush();
    expect(out.join('')).toBe('deploy is not in the sudoers file.\n');
  });
});

describe('driveCommand', () => {
  it('collects output and the exit code, and ends stdin when there is none', async () => {
    const cmd = new FakeCommand();
    const result = driveCommand(cmd, { command: 'x' }, {}, 'h1');
    cmd.stdout.write('out');
    cmd.stderr.write('err');
    await tick();
    expect(cmd.stdin.writableEnded).toBe(true);
    cmd.exit({ code: 3 });
    await expect(result).resolves.toEqual({
      code: 3,
      stdout: Buffer.from('out'),
      stderr: Buffer.from('err'),
      timedOut: false,
    });
  });

  it('with a sudo password: writes it at the prompt, feeds stdin only after sudo let the command run', async () => {
    const cmd = new FakeCommand();
    const result = driveCommand(cmd, { command: 'x', sudo }, { stdin: 'payload' }, 'h1');
    await tick();
    expect(cmd.stdinText).toBe('');
    cmd.stderr.write('PROMPT-x1');
    await tick();
    expect(cmd.stdinText).toBe('pw\n');
    cmd.stderr.write('OK-x1\nreal stderr\n');
    await tick();
    expect(cmd.stdinText).toBe('pw\npayload');
    expect(cmd.stdin.writableEnded).toBe(true);
    cmd.exit({ code: 0 });
    const r = await result;
    expect(r.stderr.toString()).toBe('real stderr\n');
  });

  it('fails a wrong sudo password with an AuthError naming host and user instead of hanging', async () => {
    const cmd = new FakeCommand();
    const result = driveCommand(cmd, { command: 'x', sudo }, {}, 'h1');
    cmd.stderr.write('PROMPT-x1');
    await tick();
    cmd.stderr.write('Sorry, try again.\nPROMPT-x1');
    await expect(result).rejects.toThrow(AuthError);
    await expect(result).rejects.toThrow(
      /h1: authentication failed for user 'deploy': sudo rejected the become password/,
    );
    expect(cmd.killed).toBe(true);
  });

  it('times out: kills, answers at once with what arrived, timedOut = true', async () => {
    const cmd = new FakeCommand();
    // a transport that never confirms
    cmd.kill = () => {
      cmd.killed = true;
    };
    const started = Date.now();
    const result = driveCommand(cmd, { command: 'x' }, { timeoutMs: 50 }, 'h1');
    cmd.stdout.write('partial');
    const r = await result;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(r).toMatchObject({ code: null, signal: 'SIGKILL', timedOut: true, stdout: Buffer.from('partial') });
    expect(cmd.killed).toBe(true);
  });

  it('streams stdout into a Writable with backpressure and leaves it open', async () => {
    const cmd = new FakeCommand();
    let received = 0;
    const slow = new Writable({
      highWaterMark: 16,
      write: (chunk: Buffer, _e, cb) => {
        received += chunk.length;
        setTimeout(cb, 1);
      },
    });
    const result = driveCommand(cmd, { command: 'x' }, { stdout: slow }, 'h1');
    for (let i = 0; i < 50; i++) cmd.stdout.write(Buffer.alloc(1000));
    cmd.exit({ code: 0 });
    const r = await result;
    expect(received).toBe(50_000);
    expect(r.stdout.length).toBe(0);
    expect(slow.writableEnded).toBe(false);
  });

  it('stops the command before EOF when the stdin source fails, and reports the source error', async () => {
    const cmd = new FakeCommand();
    const source = new Readable({ read() {} });
    const result = driveCommand(cmd, { command: 'x' }, { stdin: source }, 'h1');
    source.push('half');
    source.destroy(new Error('disk gone'));
    await tick();
    expect(cmd.terminated).toBe(true);
    cmd.exit({ code: 143 });
    await expect(result).rejects.toThrow('disk gone');
  });

  it('reports a connection lost mid-command as unreachable', async () => {
    const cmd = new FakeCommand();
    const result = driveCommand(cmd, { command: 'x' }, {}, 'h1');
    cmd.exit({ code: null, lost: 'the connection was lost while a command was running' });
    await expect(result).rejects.toThrow(UnreachableError);
  });
});

describe('planCommand (become)', () => {
  const settings = { loginUser: 'deploy', become: true, becomeUser: 'root' };

  it('runs directly without become, or when already the become user', () => {
    expect(planCommand('id', { ...settings, become: false })).toEqual({ command: 'id' });
    expect(planCommand('id', { ...settings, loginUser: 'root' })).toEqual({ command: 'id' });
  });

  it('uses sudo -n without a password, and for root switching to another user', () => {
    expect(planCommand('id', settings).command).toBe(`sudo -n -H -u 'root' -- sh -c 'id'`);
    expect(planCommand('id', { ...settings, loginUser: 'root', becomeUser: 'etcd', becomePassword: 'x' }).command).toBe(
      `sudo -n -H -u 'etcd' -- sh -c 'id'`,
    );
  });

  it('uses a prompt marker and a success marker with a password, unique per command', () => {
    const a = planCommand(`echo "it's"`, { ...settings, becomePassword: 'pw' });
    const b = planCommand('id', { ...settings, becomePassword: 'pw' });
    expect(a.sudo?.promptMarker).not.toBe(b.sudo?.promptMarker);
    expect(a.sudo?.promptMarker).not.toContain('%');
    expect(a.command).toContain(`sudo -k -S -p '${a.sudo!.promptMarker}' -H -u 'root' -- sh -c`);
    expect(a.command.endsWith(`'echo "it'\\''s"'`)).toBe(true);
  });

  it('adds the host-side timeout watchdog as asked', () => {
    expect(planCommand('id', { ...settings, become: false }, { timeoutMs: 1500, when: 'always' }).command).toBe(
      `timeout -s KILL '3' sh -c 'id'`,
    );
    expect(planCommand('id', { ...settings, become: false }, { timeoutMs: 1500, when: 'become' }).command).toBe('id');
    expect(planCommand('id', settings, { timeoutMs: 1500, when: 'become' }).command).toContain(`timeout -s KILL`);
  });
});
