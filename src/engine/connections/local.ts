/**
 * The controller itself as a host: same interface and same shell commands as SSH, run through
 * `sh -c` child processes. Used for `ansible_connection=local` and localhost.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import type { Duplex } from 'node:stream';
import { driveCommand, type ExitInfo, type RunningCommand } from './exec-driver.js';
import { becomeFor, planCommand } from './remote-commands.js';
import { getFile, putFile } from './transfer.js';
import type {
  Connection,
  ConnectionSpec,
  ExecOptions,
  ExecResult,
  GetOptions,
  PutOptions,
  PutSource,
} from './types.js';

export class LocalConnection implements Connection {
  /** Who we really are: become compares against this, not the spec's user. */
  private readonly loginUser = userInfo().username;

  constructor(readonly spec: ConnectionSpec) {}

  /** Nothing to open: every command is its own process. */
  async open(): Promise<void> {}

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const watchdog = opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs, when: 'become' as const } : undefined;
    const plan = planCommand(command, becomeFor(this.spec, this.loginUser, opts.become, opts.becomeUser), watchdog);
    return driveCommand(startLocal(plan.command), plan, opts, this.spec.name);
  }

  put(dest: string, source: PutSource, opts?: PutOptions): Promise<void> {
    return putFile((c, o) => this.exec(c, o), this.spec.name, dest, source, opts);
  }

  get(src: string, localPath: string, opts?: GetOptions): Promise<void> {
    return getFile((c, o) => this.exec(c, o), this.spec.name, src, localPath, opts);
  }

  /** The controller reaches address:port itself: a plain socket, once connected. */
  tunnel(address: string, port: number): Promise<Duplex> {
    return new Promise<Duplex>((resolve, reject) => {
      const socket = connect({ host: address, port });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', (err) => reject(new Error(`cannot connect to ${address}:${port}: ${err.message}`)));
    });
  }

  async close(): Promise<void> {}
}

function startLocal(command: string): RunningCommand {
  // Own process group, so a timeout kills the whole pipeline, not just the outer sh.
  const child = spawn('sh', ['-c', command], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<ExitInfo>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, ...(signal ? { signal } : {}) }));
  });
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      child.kill(signal); // the group may be gone already, or belong to root under sudo
    }
  };
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    kill: () => signalGroup('SIGKILL'),
    // Only the outer sh: its trap must run while `cat` still waits for the end of its input.
    terminate: () => {
      child.kill('SIGTERM');
    },
  };
}
