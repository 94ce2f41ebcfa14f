/**
 * The per-host run lock: two runs on one host at once would interleave their reads and writes (a
 * lineinfile edit of one was silently lost). A run holds `flock` on /run/furrow.lock on each host
 * for its whole length, from a shell on a channel of its own that waits for its standard input to
 * end. The lock is the kernel's, tied to that shell's open file: it goes when the shell goes, and
 * the shell goes when our end of the channel does, whether the run ends, the controller is killed
 * or the connection drops. Nothing is left for a later run to clean up.
 */
import { PassThrough, Writable } from 'node:stream';
import { FurrowError } from '../errors.js';
import { sh } from '../shell.js';
import type { Connection, ExecResult } from './types.js';

/** Root's lock (only root may write /run, so no one can plant a link there). */
export const HOST_LOCK_FILE = '/run/furrow.lock';

/** Who holds a lock: written into the lock file once taken, shown to a run that finds it busy. */
export interface LockHolder {
  controller: string;
  pid: number;
  /** When the holding run started (ISO 8601). */
  started: string;
}

/** Exit status of the lock shell when the host is busy and the run must not wait. */
const BUSY_STATUS = 75;

/** Another run holds the host (with --no-wait): names it, so the user knows whom to wait for. */
export class HostBusyError extends FurrowError {
  constructor(
    readonly host: string,
    readonly holder: string,
    readonly file: string,
  ) {
    super('busy', `${host}: another run holds ${file} (${holder}); not waiting for it (--no-wait)`);
  }
}

export interface HostLock {
  /** Where the lock is on the host, or undefined when the host could not be locked (see warning). */
  file?: string;
  /** Why the host runs without a lock (no flock, no writable lock folder). */
  warning?: string;
  /** Lets go of the lock; resolves once the host's lock shell has ended (or after a while). */
  release(): Promise<void>;
}

export interface LockOptions {
  holder: LockHolder;
  /** Default HOST_LOCK_FILE; tests lock a file of their own. */
  file?: string;
  /** false: fail at once with HostBusyError when another run holds the host. */
  wait: boolean;
  /** Called once when the host is busy and we wait: the holder, as its lock file says. */
  onWait?(holder: string, file: string): void;
}

/** How the holder reads in messages: "controller ctl1, PID 4242, started 2026-12-04T13:00:00Z". */
export function describeHolder(text: string): string {
  const fields = Object.fromEntries([...text.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
  if (!fields.controller) return 'holder unknown: the lock file is empty';
  return `controller ${fields.controller}, PID ${fields.pid ?? '?'}, started ${fields.started ?? '?'}`;
}

/**
 * The shell that takes and holds the lock. It reports on stdout, one line each:
 *   busy <file> <holder>   the lock is taken (then it waits for it, or exits BUSY_STATUS)
 *   held <file>            we hold it (until our standard input ends)
 *   none <why>             no lock possible on this host: the run goes on without one
 * The lock file is opened for appending, so a waiting run never truncates the holder's line; the
 * holder rewrites it once it holds the lock. Outside /run (a login that is neither root nor
 * becomes root) the user's own runtime folder takes it; never /tmp, where anyone could plant a
 * link for us to write through.
 */
export function lockScript(holder: LockHolder, wait: boolean, file = HOST_LOCK_FILE): string {
  const line = `controller=${holder.controller} pid=${holder.pid} started=${holder.started}`;
  return [
    sh`f=${file}`,
    // dirname is an exec; ${f%/*} is not.
    `if ! [ -w "\${f%/*}" ]; then if [ -n "\${XDG_RUNTIME_DIR:-}" ] && [ -w "$XDG_RUNTIME_DIR" ]; then ` +
      `f="$XDG_RUNTIME_DIR/furrow.lock"; else echo "none no folder for a lock: \${f%/*} is not writable and ` +
      `XDG_RUNTIME_DIR is not set (become root to lock)"; exit 0; fi; fi`,
    `command -v flock >/dev/null 2>&1 || { echo "none flock is not installed (util-linux)"; exit 0; }`,
    `exec 9>>"$f" || exit 1`,
    `if ! flock -n 9; then`,
    `  echo "busy $f $(head -c 300 "$f" | tr '\\n' ' ')"`,
    wait ? '  flock 9 || exit 1' : `  exit ${BUSY_STATUS}`,
    'fi',
    sh`printf '%s\\n' ${line} > "$f"`,
    `echo "held $f"`,
    // Holds fd 9 until the controller closes our input: its run ended, it died, or the link did.
    'read -r _ || :',
  ].join('\n');
}

/** Takes the host's lock; resolves once held (or known impossible), after waiting if `wait`. */
export function lockHost(conn: Connection, opts: LockOptions): Promise<HostLock> {
  const input = new PassThrough();
  let exited: Promise<ExecResult> | undefined;
  const release = async (): Promise<void> => {
    input.end();
    await Promise.race([exited?.catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
  };
  return new Promise<HostLock>((resolve, reject) => {
    let settled = false;
    let holder = '';
    let lockFile = opts.file ?? HOST_LOCK_FILE;
    const done = (fn: () => void): void => {
      if (!settled) {
        settled = true;
        fn();
      }
    };
    const lines = new LineWriter((line) => {
      const [word, ...rest] = line.split(' ');
      if (word === 'busy') {
        lockFile = rest[0] ?? lockFile;
        holder = describeHolder(rest.slice(1).join(' '));
        if (opts.wait) opts.onWait?.(holder, lockFile);
      } else if (word === 'held') {
        done(() => resolve({ file: rest[0] ?? lockFile, release }));
      } else if (word === 'none') {
        done(() =>
          resolve({
            warning:
              `${conn.spec.name}: runs without a lock (other runs may interleave ` +
              `with this one): ${rest.join(' ')}`,
            release,
          }),
        );
      }
    });
    // A channel of its own, never the shared shell: it stays busy for the whole run.
    exited = conn.exec(lockScript(opts.holder, opts.wait, opts.file), {
      stdin: input,
      stdout: lines,
      ownChannel: true,
    });
    exited.then(
      (result) => {
        if (result.code === BUSY_STATUS) return done(() => reject(new HostBusyError(conn.spec.name, holder, lockFile)));
        const stderr = result.stderr.toString('utf8').trim();
        done(() =>
          reject(
            new FurrowError(
              'module',
              `${conn.spec.name}: could not take the run lock ${lockFile} (exit status ` +
                `${result.code})${stderr ? `: ${stderr}` : ''}`,
            ),
          ),
        );
      },
      (err: Error) => done(() => reject(err)),
    );
  });
}

/** Calls back once per complete output line. */
class LineWriter extends Writable {
  private rest = '';
  constructor(private readonly onLine: (line: string) => void) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const text = this.rest + chunk.toString('utf8');
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) this.onLine(line);
    callback();
  }
}
