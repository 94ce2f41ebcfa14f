import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { RunningCommand } from '../../../src/engine/connections/exec-driver.js';
import { SESSION_COMMAND, ShellSession } from '../../../src/engine/connections/shell-session.js';

/** The session over a local shell, started the way sshd starts it: `$SHELL -c SESSION_COMMAND`. */
function localSession(): { session: ShellSession; kill: () => void } {
  const child = spawn('sh', ['-c', SESSION_COMMAND], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, SHELL: '/bin/sh' },
  });
  const exited = new Promise<{ code: number | null }>((resolve) => child.once('exit', (code) => resolve({ code })));
  const running: RunningCommand = {
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    kill: () => child.kill('SIGKILL'),
    terminate: () => child.kill('SIGTERM'),
  };
  return { session: new ShellSession(running, 'local'), kill: () => child.kill('SIGKILL') };
}

const text = (r: { code: number | null; stdout: Buffer; stderr: Buffer }) => ({
  code: r.code,
  stdout: r.stdout.toString(),
  stderr: r.stderr.toString(),
});

describe('ShellSession', () => {
  let current: ReturnType<typeof localSession>;
  beforeEach(() => {
    current = localSession();
  });
  afterEach(() => current.session.close());

  test('keeps stdout, stderr and the exit status apart, with or without a last newline', async () => {
    const { session } = current;
    expect(text(await session.run('echo out; echo err >&2; exit 3'))).toEqual({
      code: 3,
      stdout: 'out\n',
      stderr: 'err\n',
    });
    expect(text(await session.run("printf 'no newline'; printf 'e' >&2"))).toEqual({
      code: 0,
      stdout: 'no newline',
      stderr: 'e',
    });
    expect(text(await session.run('true'))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(text(await session.run("printf '\\n\\n'"))).toEqual({ code: 0, stdout: '\n\n', stderr: '' });
  });

  test('runs each command in its own shell: exit, cd and variables do not leak into the next', async () => {
    const { session } = current;
    const home = (await session.run('pwd')).stdout.toString();
    expect((await session.run('cd /tmp && X=1 && export Y=2; exit 7')).code).toBe(7);
    expect(text(await session.run('pwd; echo "${X:-unset} ${Y:-unset}"'))).toEqual({
      code: 0,
      stdout: `${home}unset unset\n`,
      stderr: '',
    });
  });

  test('multi-line scripts with quotes and dollars arrive as written; input is empty; bytes are kept', async () => {
    const { session } = current;
    const script = 'a=\'it\'"\'"\'s\'\nb="$a \\$HOME"\necho "$b"';
    expect(text(await session.run(script))).toEqual({ code: 0, stdout: "it's $HOME\n", stderr: '' });
    expect(text(await session.run('cat; echo done'))).toEqual({ code: 0, stdout: 'done\n', stderr: '' });
    expect([...(await session.run("printf '\\000\\001\\377'")).stdout]).toEqual([0, 1, 255]);
  });

  test(
    'a 50 MB stdout arrives whole (it was joined and searched whole on every chunk: minutes on a ' + 'loaded machine)',
    async () => {
      const r = await current.session.run(
        'head -c 52428800 /dev/urandom | tee /tmp/furrow-session-big.bin; sha256sum ' +
          '</tmp/furrow-session-big.bin >&2; ' +
          'rm -f /tmp/furrow-session-big.bin',
      );
      expect([r.code, r.stdout.length]).toEqual([0, 52428800]);
      expect(r.stderr.toString().split(' ')[0]).toBe(createHash('sha256').update(r.stdout).digest('hex'));
      expect(text(await current.session.run('echo next'))).toEqual({ code: 0, stdout: 'next\n', stderr: '' });
    },
  );

  test('output that mentions a marker-like text does not end the command early', async () => {
    const { session } = current;
    expect(text(await session.run("echo 'FURROW-END-0000 0'; echo after"))).toEqual({
      code: 0,
      stdout: 'FURROW-END-0000 0\nafter\n',
      stderr: '',
    });
  });

  test('a command that does not parse fails with status 2, and the session goes on', async () => {
    const { session } = current;
    for (const broken of ["echo 'unclosed", 'echo )', 'if true; then echo x']) {
      const r = text(await session.run(broken));
      expect([broken, r.code, r.stdout]).toEqual([broken, 2, '']);
      expect(r.stderr).toMatch(/syntax error/i);
    }
    expect(text(await session.run('echo still here # a comment at the end'))).toEqual({
      code: 0,
      stdout: 'still here\n',
      stderr: '',
    });
  });

  test("a command's last process replaces its subshell instead of being forked from it", async () => {
    const { session } = current;
    const shell = (await session.run('echo $$')).stdout.toString().trim();
    expect((await session.run("sh -c 'echo $PPID'")).stdout.toString().trim()).toBe(shell);
  });

  test('is busy while a command runs, and fails the command when the shell dies', async () => {
    const { session, kill } = current;
    const running = session.run('sleep 5');
    expect(session.idle).toBe(false);
    await expect(session.run('true')).rejects.toThrow(/busy/);
    kill();
    await expect(running).rejects.toThrow(/connection was lost/);
    expect(session.alive).toBe(false);
  });
});

// The host's side played by hand, to cut the output where it is hardest: one byte at a time, so
// the end marker is split across chunks, and the next command's output right behind it.
describe('ShellSession output cut anywhere', () => {
  test("a marker split over many chunks is found, and what follows it is the next command's", async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let written = '';
    stdin.on('data', (d: Buffer) => (written += d.toString()));
    const running: RunningCommand = {
      stdin,
      stdout,
      stderr,
      exited: new Promise(() => undefined),
      kill: () => undefined,
      terminate: () => undefined,
    };
    const session = new ShellSession(running, 'fake');
    const bytewise = (stream: PassThrough, data: string) => {
      for (const b of Buffer.from(data)) stream.write(Buffer.from([b]));
    };
    const first = session.run('first');
    await new Promise((r) => setImmediate(r));
    const marker = /FURROW-END-[0-9a-f]{24}/.exec(written)![0];
    bytewise(stdout, `one\ntwo\n${marker} 4\n`);
    bytewise(stderr, `warn\n${marker}\n`);
    expect(text(await first)).toEqual({ code: 4, stdout: 'one\ntwo', stderr: 'warn' });
    const second = session.run('second');
    bytewise(stdout, `three\n${marker} 0\n`);
    bytewise(stderr, `\n${marker}\n`);
    expect(text(await second)).toEqual({ code: 0, stdout: 'three', stderr: '' });
  });
});
