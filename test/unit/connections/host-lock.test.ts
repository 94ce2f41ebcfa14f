/**
 * Issue 15 #15: the per-host run lock (connections/host-lock.ts), on the controller's own shell
 * (the same script runs on a host over SSH), with a lock file of the test's own instead of
 * /run/furrow.lock, so nothing else on this machine is locked. Two runs on one real host: the
 * lab test in test/lab/run-lock.lab.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeHolder,
  HostBusyError,
  lockHost,
  lockScript,
  type HostLock,
} from '../../../src/engine/connections/host-lock.js';
import { LocalConnection } from '../../../src/engine/connections/local.js';
import { connectionSpecFromVars } from '../../../src/engine/connections/spec.js';
import { EXIT, exitCodeFor } from '../../../src/engine/errors.js';

const spec = connectionSpecFromVars(
  'h1',
  { ansible_connection: 'local' },
  { knownHostsFile: '/nonexistent/kh', strictHostKeys: false, sshConfigFile: false },
);
const first = { controller: 'ctl-one', pid: 1111, started: '2026-12-04T13:00:00Z' };
const second = { controller: 'ctl-two', pid: 2222, started: '2026-12-04T13:05:00Z' };

describe('per-host run lock', () => {
  let dir: string;
  let file: string;
  const held: HostLock[] = [];
  const conn = new LocalConnection(spec);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'furrow-lock-'));
    file = join(dir, 'furrow.lock');
  });
  afterEach(async () => {
    await Promise.all(held.splice(0).map((l) => l.release()));
    rmSync(dir, { recursive: true, force: true });
  });
  const take = async (holder = first, wait = true, onWait?: (who: string, f: string) => void): Promise<HostLock> => {
    const lock = await lockHost(conn, { holder, wait, file, ...(onWait ? { onWait } : {}) });
    held.push(lock);
    return lock;
  };

  test('the holder writes who it is into the lock file', async () => {
    const lock = await take();
    expect(lock.file).toBe(file);
    expect(readFileSync(file, 'utf8')).toBe('controller=ctl-one pid=1111 started=2026-12-04T13:00:00Z\n');
    expect(describeHolder(readFileSync(file, 'utf8'))).toBe(
      'controller ctl-one, PID 1111, started 2026-12-04T13:00:00Z',
    );
  });

  test('without waiting, a second run fails at once naming the holder (exit status 4)', async () => {
    await take();
    const started = Date.now();
    const err = await lockHost(conn, { holder: second, wait: false, file }).catch((e: Error) => e);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err).toBeInstanceOf(HostBusyError);
    expect((err as Error).message).toBe(
      `h1: another run holds ${file} (controller ctl-one, PID 1111, started 2026-12-04T13:00:00Z); not waiting ` +
        `for it (--no-wait)`,
    );
    expect(exitCodeFor(err)).toBe(EXIT.busy);
    expect(readFileSync(file, 'utf8')).toContain('ctl-one'); // the loser did not overwrite the holder's line
  });

  test('a waiting run says whom it waits for, and goes on once the holder lets go', async () => {
    const one = await take();
    const waits: string[] = [];
    let got = false;
    const waiting = take(second, true, (who, f) => waits.push(`${f}: ${who}`)).then((l) => {
      got = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 700));
    expect(got).toBe(false);
    expect(waits).toEqual([`${file}: controller ctl-one, PID 1111, started 2026-12-04T13:00:00Z`]);
    await one.release();
    await waiting;
    expect(got).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('controller=ctl-two pid=2222');
  });

  test('a killed controller lets go of the lock: the shell holding it ends with its input', async () => {
    // A stand-in controller: a process that runs the lock shell with its input on a pipe, as the
    // run does, and is then killed hard (no release, no exit handler).
    const code =
      `const c = require('node:child_process').spawn('sh', ['-c', process.argv[1]], { stdio: ['pipe', ` +
      `'inherit', 'inherit'] }); setInterval(() => {}, 1000);`;
    const controller = spawn(process.execPath, ['-e', code, lockScript(first, true, file)], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        controller.stdout.on('data', (d: Buffer) => d.toString().includes('held ') && resolve());
        controller.once('exit', () => reject(new Error('the stand-in controller ended early')));
      });
      await expect(lockHost(conn, { holder: second, wait: false, file })).rejects.toThrow(
        'controller ctl-one, PID 1111',
      );
      controller.kill('SIGKILL');
      let lock: HostLock | undefined;
      for (let i = 0; i < 50 && !lock; i++) {
        lock = await lockHost(conn, { holder: second, wait: false, file }).catch(() => undefined);
        if (!lock) await new Promise((r) => setTimeout(r, 100));
      }
      expect(lock).toBeDefined();
      held.push(lock!);
    } finally {
      controller.kill('SIGKILL');
    }
  });

  test('a lock folder that is not writable: the run goes on without a lock and says why', async () => {
    const runtime = process.env.XDG_RUNTIME_DIR;
    delete process.env.XDG_RUNTIME_DIR; // the local shell inherits ours: no fallback folder
    try {
      const lock = await lockHost(conn, { holder: first, wait: true, file: join(dir, 'missing', 'furrow.lock') });
      held.push(lock);
      expect(lock.file).toBeUndefined();
      expect(lock.warning).toBe(
        `h1: runs without a lock (other runs may interleave with this one): no ` +
          `folder for a lock: ${join(dir, 'missing')} is not writable and XDG_RUNTIME_DIR is not set ` +
          `(become root to lock)`,
      );
    } finally {
      if (runtime !== undefined) process.env.XDG_RUNTIME_DIR = runtime;
    }
  });
});
