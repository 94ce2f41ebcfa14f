/**
 * Issue 15, item 17: a put onto a full filesystem says "No space left on device" and the path, and
 * the old file stays whole. A real full filesystem: a 64 KiB tmpfs mounted for this test (needs
 * root, skipped otherwise). The local connection runs the very shell commands SSH runs on a host
 * (remote-commands.ts), so this is the host's behaviour too; small text over SSH goes through the
 * connection's shared shell instead (shell-session.ts), so that path is run here as well, over a
 * local sh started the way sshd starts it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningCommand } from '../../../src/engine/connections/exec-driver.js';
import { LocalConnection } from '../../../src/engine/connections/local.js';
import { SESSION_COMMAND, sessionInput, ShellSession } from '../../../src/engine/connections/shell-session.js';
import { connectionSpecFromVars } from '../../../src/engine/connections/spec.js';
import { putFile } from '../../../src/engine/connections/transfer.js';

const root = process.getuid?.() === 0;
const suite = root ? describe : describe.skip;

suite('put on a full disk', () => {
  let dir: string;
  let mounted = false;
  const conn = new LocalConnection(
    connectionSpecFromVars(
      'localhost',
      {},
      { knownHostsFile: '/nonexistent/kh', strictHostKeys: false, sshConfigFile: false },
    ),
  );
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'furrow-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    mounted = true;
    writeFileSync(join(dir, 'app.conf'), 'old content\n');
    try {
      writeFileSync(join(dir, 'filler'), Buffer.alloc(1024 * 1024));
    } catch {
      // ENOSPC: the filesystem is full now, as wanted
    }
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The put as SSH does it for small text: through the shared shell, the input piped by its printf. */
  async function putThroughSession(dest: string, content: string): Promise<void> {
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
    const session = new ShellSession(running, 'localhost');
    try {
      await putFile(
        (command, opts) => {
          const input = sessionInput(opts?.stdin as Buffer);
          if (input === undefined) throw new Error('test: this content does not fit the session');
          return session.run(command, input);
        },
        'localhost',
        dest,
        { content },
      );
    } finally {
      session.close();
    }
  }

  test.each([
    ['small text (a process of its own, as on a local host)', 'new content\n'.repeat(400), false],
    ['small text (through the shared shell, as on SSH)', 'new content\n'.repeat(400), true],
    ['a large file', 'x'.repeat(200_000), false],
  ])(
    '%s: the error names the path and says No space left on device; the old file is intact',
    async (_label, content, session) => {
      const dest = join(dir, 'app.conf');
      const err = await (session ? putThroughSession(dest, content) : conn.put(dest, { content })).catch(
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toContain(`put ${dest} failed`);
      expect((err as Error).message).toContain('No space left on device');
      expect(readFileSync(dest, 'utf8')).toBe('old content\n');
      expect(readdirSync(dir).filter((f) => f.includes('.furrow.'))).toEqual([]);
    },
  );
});
