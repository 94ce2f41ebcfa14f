/**
 * Issue 15, secrets: file content and secrets never reach a command line on the host
 * (/proc/PID/cmdline is readable by every local user there), and host key checking never goes
 * quiet.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningCommand } from '../../../src/engine/connections/exec-driver.js';
import { fingerprint, hostKeyNotice, verifyHostKey } from '../../../src/engine/connections/known-hosts.js';
import { LocalConnection } from '../../../src/engine/connections/local.js';
import { withEnvironment } from '../../../src/engine/connections/remote-commands.js';
import { Readable } from 'node:stream';
import { SESSION_COMMAND, ShellSession } from '../../../src/engine/connections/shell-session.js';
import { SshConnection } from '../../../src/engine/connections/ssh.js';
import { putFile } from '../../../src/engine/connections/transfer.js';
import type { ExecOptions, ExecResult } from '../../../src/engine/connections/types.js';
import { sshdAvailable, startSshd, type Sshd } from './sshd-fixture.js';

const SECRET = 'furrow-test-secret-0b7e\nsecond line';

describe('put: content travels on standard input, never in the command', () => {
  const calls: { command: string; opts: ExecOptions }[] = [];
  const exec = async (command: string, opts: ExecOptions = {}): Promise<ExecResult> => {
    calls.push({ command, opts });
    return { code: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false };
  };
  beforeEach(() => (calls.length = 0));

  test.each([
    ['small text', SECRET],
    ['small text under become', SECRET],
    ['binary', Buffer.from([0, 1, 2, ...Buffer.from(SECRET)])],
  ])('%s', async (label, content) => {
    await putFile(
      exec,
      'h1',
      '/etc/secret',
      { content },
      { mode: '0600', ...(label.includes('become') ? { become: true } : {}) },
    );
    expect(calls).toHaveLength(1);
    expect(calls[0]!.command).not.toContain('furrow-test-secret');
    // Binary content goes as base64 (so the shared shell can carry it), decoded on the host.
    const base64 = calls[0]!.command.includes('base64 -d');
    expect(base64).toBe(label === 'binary');
    const stdin = calls[0]!.opts.stdin as string | Buffer;
    const sent = base64 ? Buffer.from(stdin as string, 'base64') : Buffer.from(stdin);
    expect(sent.toString('latin1')).toContain('furrow-test-secret-0b7e');
  });
});

describe("environment: values on standard input, ahead of the command's own input", () => {
  const conn = new LocalConnection({
    name: 'local',
    transport: 'local',
    address: 'localhost',
    port: 22,
    user: 'root',
    connectTimeoutMs: 1000,
    keepaliveMs: 1000,
    become: false,
    becomeUser: 'root',
    knownHostsFile: '/dev/null',
    strictHostKeys: false,
  });
  const env = { TOKEN: SECRET, QUOTED: "it's $HOME `id`" };

  test('the command text never holds a value', () => {
    const { command } = withEnvironment('printenv TOKEN', env, undefined);
    expect(command).not.toContain('furrow-test-secret');
    expect(command).not.toContain("it's");
  });

  test.each([
    ['no input', undefined, ''],
    ['text input', 'own input\n', 'own input\n'],
    ['a stream', Readable.from([Buffer.from('streamed '), Buffer.from('input')]), 'streamed input'],
  ])('%s: the command sees the values and exactly its own input', async (_label, stdin, own) => {
    const { command, stdin: input } = withEnvironment(
      'printf "%s|%s|" "$TOKEN" "$QUOTED"; cat',
      env,
      stdin as string | Readable | undefined,
    );
    const r = await conn.exec(command, input === undefined ? {} : { stdin: input });
    expect(r.stdout.toString()).toBe(`${SECRET}|it's $HOME \`id\`|${own}`);
  });

  test('a name that is no variable name is refused', () => {
    expect(() => withEnvironment('true', { 'A;rm': 'x' }, undefined)).toThrow(/'A;rm' is not a variable name/);
  });
});

/** Every process's command line on this machine, as another user would read them. */
function commandLines(): string[] {
  const lines: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      lines.push(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}

describe('the shell session feeds input with its own printf', () => {
  test('the command reads the input; no process has it on its command line meanwhile', async () => {
    const child = spawn('sh', ['-c', SESSION_COMMAND], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<{ code: number | null }>((resolve) => child.once('exit', (code) => resolve({ code })));
    const running: RunningCommand = {
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      exited,
      kill: () => child.kill('SIGKILL'),
      terminate: () => child.kill('SIGTERM'),
    };
    const session = new ShellSession(running, 'local');
    try {
      // The command holds its input open (sleep) while we look at every command line.
      const pending = session.run('read -r first; sleep 1; echo "$first"', SECRET);
      await new Promise((r) => setTimeout(r, 300));
      const leaked = commandLines().filter((l) => l.includes('furrow-test-secret'));
      expect(leaked).toEqual([]);
      expect((await pending).stdout.toString()).toBe('furrow-test-secret-0b7e\n');
    } finally {
      session.close();
    }
  });
});

const suite = sshdAvailable() ? describe : describe.skip;

suite('put over SSH under become (local sshd)', () => {
  let sshd: Sshd;
  let work: string;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'furrow-secret-'));
    chmodSync(work, 0o777);
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  // Today's inline put ran `sudo -u nobody -- sh -c "... printf %s '<content>' ..."`: sudo's and
  // sh's command lines held the content for the whole command. Watch every command line while
  // 30 secrets are put, through the session and (all at once) through channels of their own.
  test('no command line on the host ever holds the content', async () => {
    const conn = new SshConnection({
      name: 'node1',
      transport: 'ssh',
      address: '127.0.0.1',
      port: sshd.port,
      user: 'root',
      privateKeyFile: sshd.clientKeyFile,
      connectTimeoutMs: 30000,
      keepaliveMs: 15000,
      become: true,
      becomeUser: 'nobody',
      knownHostsFile: join(work, 'known_hosts'),
      strictHostKeys: false,
    });
    const dir = join(work, 'out');
    mkdirSync(dir, { mode: 0o777 });
    chmodSync(dir, 0o777);
    const seen: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        seen.push(...commandLines().filter((l) => l.includes('furrow-test-secret')));
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      await conn.open();
      for (let i = 0; i < 6; i++) await conn.put(join(dir, `s${i}`), { content: `${SECRET} ${i}` }, { mode: '0600' });
      await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          conn.put(join(dir, `p${i}`), { content: `${SECRET} p${i}` }, { mode: '0600' }),
        ),
      );
    } finally {
      watching = false;
      await watcher;
      await conn.close();
    }
    expect(readFileSync(join(dir, 's3'), 'utf8')).toBe(`${SECRET} 3`);
    expect(readFileSync(join(dir, 'p3'), 'utf8')).toBe(`${SECRET} p3`);
    expect(seen.map((l) => l.replace(/\0/g, ' ').slice(0, 200))).toEqual([]);
  }, 120_000);
});

describe('host keys: a recording is announced, and checking that is off says so', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'furrow-kh-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const blob = (): Buffer => {
    const key = Buffer.alloc(32, 7);
    const type = Buffer.from('ssh-ed25519');
    const len = (n: number) => Buffer.from([0, 0, 0, n]);
    return Buffer.concat([len(type.length), type, len(key.length), key]);
  };

  test('first use: the notice gives the fingerprint it recorded and the file', async () => {
    const check = { host: 'web1', name: 'web1', file: join(dir, 'known_hosts'), strict: false };
    const outcome = await verifyHostKey(check, blob());
    expect(outcome).toBe('recorded');
    expect(hostKeyNotice(outcome, check, blob())).toBe(
      `first connection: recorded host key ssh-ed25519 ${fingerprint(blob())} for web1 in ${check.file}`,
    );
    expect(hostKeyNotice(await verifyHostKey(check, blob()), check, blob())).toBeUndefined();
  });

  test('/dev/null as known_hosts: unchecked, and the notice says loudly that checking is off', async () => {
    const check = { host: 'web1', name: 'web1', file: '/dev/null', strict: false };
    const outcome = await verifyHostKey(check, blob());
    expect(outcome).toBe('unchecked');
    expect(hostKeyNotice(outcome, check, blob())).toMatch(
      /^HOST KEY CHECKING IS OFF: known_hosts file \/dev\/null .*any key is accepted/,
    );
  });
});
