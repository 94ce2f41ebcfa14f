/**
 * Drives one running command, whatever carries it (an ssh2 channel or a local child process):
 * feeds stdin, collects or streams output with backpressure, answers sudo's password prompt,
 * enforces the timeout. Shared by both transports so they behave the same.
 */
import type { Readable, Writable } from 'node:stream';
import { AuthError, UnreachableError } from '../errors.js';
import type { CommandPlan, SudoPassword } from './remote-commands.js';
import type { ExecOptions, ExecResult } from './types.js';

export interface ExitInfo {
  code: number | null;
  signal?: string;
  /** Set when the transport went away before the command reported its exit. */
  lost?: string;
}

/** A started command, as a transport hands it over. */
export interface RunningCommand {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Settles once the command has exited and its channel or process is closed. */
  exited: Promise<ExitInfo>;
  /** Stop it hard (timeout): SIGKILL, then close. */
  kill(): void;
  /** Ask it to stop so its traps run (an aborted put removes its temp file). */
  terminate(): void;
}

/** After a kill, how long to wait for the transport to confirm before giving up on it. */
const KILL_GRACE_MS = 3000;

export function driveCommand(
  cmd: RunningCommand,
  plan: CommandPlan,
  opts: ExecOptions,
  host: string,
): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => new ExecSession(cmd, plan, opts, host, resolve, reject).start());
}

/** The state of one command between start and result; settles exactly once. */
class ExecSession {
  private readonly stdoutChunks: Buffer[] = [];
  private readonly stderrChunks: Buffer[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly watcher: SudoPromptWatcher | undefined;
  private failure: Error | undefined;
  private exit: ExitInfo | undefined;
  private timedOut = false;
  private openStreams = 2;
  private settled = false;

  constructor(
    private readonly cmd: RunningCommand,
    plan: CommandPlan,
    private readonly opts: ExecOptions,
    private readonly host: string,
    private readonly resolve: (result: ExecResult) => void,
    private readonly reject: (err: Error) => void,
  ) {
    this.watcher = plan.sudo ? this.sudoWatcher(plan.sudo) : undefined;
  }

  start(): void {
    const { cmd, opts } = this;
    // EPIPE and the like when the command exits without reading all of its input: its exit
    // status tells what happened.
    cmd.stdin.on('error', () => undefined);
    if (opts.stdout)
      cmd.stdout.pipe(opts.stdout, { end: false }); // pipe: backpressure
    else cmd.stdout.on('data', (chunk: Buffer) => this.stdoutChunks.push(chunk));
    cmd.stderr.on('data', (chunk: Buffer) => (this.watcher ? this.watcher.push(chunk) : this.stderrChunks.push(chunk)));
    this.countEnd(cmd.stdout);
    this.countEnd(cmd.stderr);
    if (!this.watcher) this.feedStdin(); // under sudo with a password: once sudo let it run
    if (opts.timeoutMs !== undefined) this.timers.push(setTimeout(() => this.timeOut(), opts.timeoutMs));
    cmd.exited.then(
      (info) => {
        this.exit = info;
        this.maybeDone();
      },
      (err: Error) => {
        this.failure ??= err;
        this.forceDone({ code: null });
      },
    );
  }

  private sudoWatcher(sudo: SudoPassword): SudoPromptWatcher {
    return new SudoPromptWatcher(sudo, {
      output: (chunk) => this.stderrChunks.push(chunk),
      answer: (password) => this.cmd.stdin.write(`${password}\n`),
      started: () => this.feedStdin(),
      rejected: () => {
        this.failure = new AuthError(
          this.host,
          sudo.loginUser,
          `sudo rejected the become password (become user '${sudo.becomeUser}')`,
        );
        this.cmd.stdin.end(); // sudo gives up at EOF; the kill is the backstop
        this.cmd.kill();
        // Some transports never confirm a kill (a dead peer): do not hang on them.
        this.timers.push(setTimeout(() => this.forceDone({ code: null, signal: 'SIGKILL' }), KILL_GRACE_MS));
      },
    });
  }

  private feedStdin(): void {
    const { cmd } = this;
    const source = this.opts.stdin;
    if (source === undefined) cmd.stdin.end();
    else if (typeof source === 'string' || Buffer.isBuffer(source)) cmd.stdin.end(source);
    else {
      source.once('error', (err) => {
        // Stop the command before it sees EOF, so a partial input is never taken as whole.
        this.failure ??= err;
        cmd.terminate();
        cmd.stdin.end();
      });
      source.pipe(cmd.stdin);
    }
  }

  /** Answer at once with what arrived so far: the transport may take a while to confirm. */
  private timeOut(): void {
    this.timedOut = true;
    this.cmd.kill();
    this.forceDone({ code: null, signal: 'SIGKILL' });
  }

  private countEnd(stream: Readable): void {
    let counted = false;
    const ended = (): void => {
      if (counted) return;
      counted = true;
      this.openStreams--;
      this.maybeDone();
    };
    stream.once('end', ended).once('close', ended).once('error', ended);
  }

  private maybeDone(): void {
    if (this.exit && this.openStreams === 0) this.settle();
  }

  private forceDone(exit: ExitInfo): void {
    this.exit ??= exit;
    this.openStreams = 0;
    this.settle();
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    const { cmd, opts, exit, timedOut } = this;
    this.timers.forEach(clearTimeout);
    if (opts.stdout) cmd.stdout.unpipe(opts.stdout);
    if (isReadable(opts.stdin)) opts.stdin.unpipe(cmd.stdin);
    this.watcher?.flush();
    if (this.failure) return this.reject(this.failure);
    if (exit?.lost && !timedOut) return this.reject(new UnreachableError(this.host, exit.lost));
    this.resolve({
      code: timedOut ? null : (exit?.code ?? null),
      ...(exit?.signal || timedOut ? { signal: exit?.signal ?? 'SIGKILL' } : {}),
      stdout: Buffer.concat(this.stdoutChunks),
      stderr: Buffer.concat(this.stderrChunks),
      timedOut,
    });
  }
}

function isReadable(value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function';
}

interface WatcherHooks {
  output(chunk: Buffer): void;
  answer(password: string): void;
  started(): void;
  rejected(): void;
}

/**
 * Reads sudo's stderr until our success marker: answers the first prompt with the password,
 * treats a second prompt as a wrong password, and strips both markers from what the caller sees.
 * Markers may arrive split across chunks, so everything before success is buffered.
 */
export class SudoPromptWatcher {
  private pending = Buffer.alloc(0);
  private prompts = 0;
  private running = false;
  private done = false;

  constructor(
    private readonly sudo: SudoPassword,
    private readonly hooks: WatcherHooks,
  ) {}

  push(chunk: Buffer): void {
    if (this.running) return this.hooks.output(chunk);
    if (this.done) return;
    this.pending = Buffer.concat([this.pending, chunk]);
    for (;;) {
      const ok = this.pending.indexOf(`${this.sudo.okMarker}\n`);
      const prompt = this.pending.indexOf(this.sudo.promptMarker);
      if (ok >= 0 && (prompt < 0 || ok < prompt)) {
        const before = this.pending.subarray(0, ok);
        const after = this.pending.subarray(ok + this.sudo.okMarker.length + 1);
        this.pending = Buffer.alloc(0);
        this.running = true;
        if (before.length) this.hooks.output(before);
        this.hooks.started();
        if (after.length) this.hooks.output(after);
        return;
      }
      if (prompt < 0) return;
      this.pending = Buffer.concat([
        this.pending.subarray(0, prompt),
        this.pending.subarray(prompt + this.sudo.promptMarker.length),
      ]);
      if (++this.prompts > 1) {
        this.done = true;
        return this.hooks.rejected();
      }
      this.hooks.answer(this.sudo.password);
    }
  }

  /** The command ended before sudo let it run: pass on what sudo said (e.g. "not in sudoers"). */
  flush(): void {
    if (!this.running && this.pending.length) this.hooks.output(this.pending);
    this.pending = Buffer.alloc(0);
  }
}
