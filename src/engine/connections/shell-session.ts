/**
 * A long-lived POSIX sh on the host that runs short commands one after another, each in a
 * subshell of its own (`command eval 'f() ( COMMAND )' && f`). A probe then costs one round trip and
 * one process on the host, instead of a channel open, an sshd session process and a login shell:
 * on the lab a `stat` went from ~5 ms to ~2.6 ms. Only plain commands come here (no input, no
 * streamed output, no timeout, no sudo password, not an operator's own command: see
 * ExecOptions.ownChannel); everything else, and anything sent while the session is busy, takes a
 * channel of its own.
 */
import { randomBytes } from 'node:crypto';
import { UnreachableError } from '../errors.js';
import { raw, sh } from '../shell.js';
import type { RunningCommand } from './exec-driver.js';
import type { ExecResult } from './types.js';

/** What the host-side shell runs: a POSIX sh reading commands from its standard input. */
export const SESSION_COMMAND = 'exec /bin/sh';

/**
 * Input up to this size (UTF-8 text without NUL) may go through the session: the session's shell
 * pipes it into the command with its own `printf` builtin, so it travels in the session's input
 * stream and is never any process's argument list (/proc/PID/cmdline is world-readable). Sized so
 * that a file small enough to diff (256 KiB), as base64, fits: a put that needs no channel of its
 * own saves the host sshd's fork and a login shell (about 15 ms a file on the lab).
 */
export const SESSION_INPUT_MAX = 384 * 1024;

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The input as text the session can carry (small, UTF-8, no NUL), or undefined. */
export function sessionInput(input: string | Buffer): string | undefined {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (bytes.length > SESSION_INPUT_MAX || bytes.includes(0)) return undefined;
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

interface Pending {
  resolve: (result: ExecResult) => void;
  reject: (err: Error) => void;
}

export class ShellSession {
  /** Ends each command's output; random, so no command's own output can look like it. */
  private readonly marker = `FURROW-END-${randomBytes(12).toString('hex')}`;
  private readonly stdout = new MarkedOutput(`\n${this.marker} `);
  private readonly stderr = new MarkedOutput(`\n${this.marker}\n`);
  private pending: Pending | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly shell: RunningCommand,
    private readonly host: string,
  ) {
    shell.stdin.on('error', () => undefined); // the exit below reports it
    shell.stdout.on('data', (chunk: Buffer) => {
      this.stdout.push(chunk);
      this.settle();
    });
    shell.stderr.on('data', (chunk: Buffer) => {
      this.stderr.push(chunk);
      this.settle();
    });
    const ended = (): void =>
      this.fail(new UnreachableError(host, 'the connection was lost while a command was running'));
    shell.exited.then(ended, ended);
  }

  /** Free for the next command, and still alive. */
  get idle(): boolean {
    return !this.pending && !this.failure;
  }

  get alive(): boolean {
    return !this.failure;
  }

  /** `input` (see sessionInput) becomes the command's standard input; without it, /dev/null. */
  run(command: string, input?: string): Promise<ExecResult> {
    if (!this.idle) return Promise.reject(new Error('internal: shell session is busy or closed'));
    return new Promise<ExecResult>((resolve, reject) => {
      this.pending = { resolve, reject };
      // A newline before each marker, so output whose last line has none still ends cleanly.
      const m = this.marker;
      // A subshell of this sh, not a new shell: a fork instead of starting the login shell (bash
      // costs ~3 ms of the host's CPU per probe, this ~1.5 ms). Still isolated: variables, cd,
      // traps and exit stay inside. The command reaches the session as one quoted word that
      // defines a function whose body is that subshell: `command eval` turns a syntax error in
      // it into exit status 2 before any of it runs, without ending the session, and the
      // subshell's last command is exec'd rather than forked again, as it would be under a plain
      // `( eval CMD )` (a process more per command).
      // Input goes through a pipe from this shell's printf builtin: a fork, never an exec, so the
      // text is in no process's argv (the forked child's cmdline stays '/bin/sh').
      const call = input === undefined ? 'furrow_command </dev/null' : sh`printf %s ${input} | furrow_command`;
      this.shell.stdin.write(
        sh`command eval ${`furrow_command() ( ${command}\n)`} && ${raw(call)}; printf '\\n%s %d\\n' ${m} "$?"; ` +
          sh`printf '\\n%s\\n' ${m} >&2` +
          '\n',
      );
    });
  }

  /** Lets the shell end at EOF; a command still running is reported as lost. */
  close(): void {
    this.fail(new UnreachableError(this.host, 'the connection was closed while a command was running'));
    this.shell.stdin.end();
  }

  private settle(): void {
    if (!this.pending) return;
    const out = this.stdout.markerAt;
    const err = this.stderr.markerAt;
    if (out < 0 || err < 0) return;
    const stdout = this.stdout.whole();
    const codeEnd = stdout.indexOf('\n', out + this.marker.length + 2);
    if (codeEnd < 0) return;
    const code = Number(stdout.subarray(out + this.marker.length + 2, codeEnd).toString());
    const result: ExecResult = {
      code,
      stdout: this.stdout.take(out, codeEnd + 1),
      stderr: this.stderr.take(err, err + this.marker.length + 2),
      timedOut: false,
    };
    const { resolve } = this.pending;
    this.pending = undefined;
    resolve(result);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(err);
  }
}

/**
 * One output stream of the session: the chunks as they come, and where the end marker is. Only
 * the new chunk (and the marker's length before it) is searched, and the chunks are joined once:
 * joining and searching the whole output on every chunk made a 50 MB stdout quadratic (minutes).
 */
class MarkedOutput {
  private chunks: Buffer[] = [];
  private size = 0;
  /** The last bytes before the newest chunk, where a marker split across chunks begins. */
  private tail = Buffer.alloc(0);
  /** Offset of the marker in the output, or -1 while it has not come. */
  markerAt = -1;
  private readonly marker: Buffer;

  constructor(marker: string) {
    this.marker = Buffer.from(marker);
  }

  push(chunk: Buffer): void {
    if (this.markerAt < 0) {
      const window = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
      const at = window.indexOf(this.marker);
      if (at >= 0) this.markerAt = this.size - this.tail.length + at;
      this.tail = Buffer.from(window.subarray(Math.max(0, window.length - (this.marker.length - 1))));
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Everything so far, as one buffer (joined once, then kept joined). */
  whole(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** The output up to `end`; what comes from `resumeAt` on stays, for the next command. */
  take(end: number, resumeAt: number): Buffer {
    const all = this.whole();
    const rest = all.subarray(resumeAt);
    this.chunks = [];
    this.size = 0;
    this.tail = Buffer.alloc(0);
    this.markerAt = -1;
    if (rest.length) this.push(Buffer.from(rest));
    return all.subarray(0, end);
  }
}
