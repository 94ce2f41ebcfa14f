/**
 * One SSH connection per host: a single ssh2 client, opened once and reused by every exec, put
 * and get as separate channels. Reconnects lazily if the host dropped the connection (a reboot).
 */
import type { Duplex } from 'node:stream';
import PQueue from 'p-queue';
import type { ClientChannel } from 'ssh2';
import { HostKeyError, InputError, UnreachableError } from '../errors.js';
import { driveCommand, type ExitInfo, type RunningCommand } from './exec-driver.js';
import { becomeFor, planCommand } from './remote-commands.js';
import { SESSION_COMMAND, sessionInput, ShellSession } from './shell-session.js';
import { connectClient, HandshakeDroppedError, tunnel, type SshClient } from './ssh-connect.js';
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

/** Below OpenSSH's default MaxSessions (10), leaving room for a tunnel or an interactive login. */
export const DEFAULT_MAX_CHANNELS = 8;
/** How long a killed channel may keep its slot while the server closes it. */
const CLOSE_WAIT_MS = 5000;
/** Connection attempts when the server drops the handshake, the pause growing by this each time. */
const HANDSHAKE_ATTEMPTS = 3;
const HANDSHAKE_RETRY_MS = 250;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface SshConnectionOptions {
  /** A shared connection to spec.jump (the pool shares one per jump host); else one is owned. */
  jump?: SshConnection;
}

export class SshConnection implements Connection {
  private client: SshClient | undefined;
  private opening: Promise<SshClient> | undefined;
  private readonly jump: SshConnection | undefined;
  private readonly ownsJump: boolean;
  /** A slot is held for a channel's whole life: MaxSessions counts open channels. */
  private readonly channels: PQueue;
  /** The host-side shell that runs plain commands without a channel each (see shell-session.ts). */
  private session: ShellSession | undefined;
  private sessionOpening = false;
  /** The host refused the extra channel: every command takes its own, as before. */
  private sessionRefused = false;
  /** What the user must hear about this connection (host keys), until taken. */
  private notices: string[] = [];

  constructor(
    readonly spec: ConnectionSpec,
    options: SshConnectionOptions = {},
  ) {
    this.jump = options.jump ?? (spec.jump ? new SshConnection(spec.jump) : undefined);
    this.ownsJump = options.jump === undefined;
    this.channels = new PQueue({ concurrency: spec.maxChannels ?? DEFAULT_MAX_CHANNELS });
  }

  /** Idempotent: concurrent callers share one handshake; after a failure the next call retries. */
  async open(): Promise<void> {
    await this.connected();
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const watchdog = opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs, when: 'always' as const } : undefined;
    const plan = planCommand(command, becomeFor(this.spec, this.spec.user, opts.become, opts.becomeUser), watchdog);
    const input =
      opts.stdin === undefined
        ? undefined
        : typeof opts.stdin === 'string' || Buffer.isBuffer(opts.stdin)
          ? sessionInput(opts.stdin)
          : undefined;
    if (
      !plan.sudo &&
      !opts.ownChannel &&
      (opts.stdin === undefined || input !== undefined) &&
      !opts.stdout &&
      opts.timeoutMs === undefined
    ) {
      const session = this.idleSession();
      if (session) return session.run(plan.command, input);
    }
    return new Promise<ExecResult>((resolve, reject) => {
      void this.channels.add(async () => {
        try {
          const channel = await this.openChannel(await this.connected(), plan.command);
          const result = driveCommand(channel, plan, opts, this.spec.name);
          result.then(resolve, reject);
          await result.catch(() => undefined);
          // A timed-out command returns at once, but its channel still counts against the
          // server's MaxSessions until it closes: keep its slot until then (or a while).
          await waitAtMost(channel.exited, CLOSE_WAIT_MS);
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  takeNotices(): string[] {
    const notices = [...(this.jump?.takeNotices() ?? []), ...this.notices];
    this.notices = [];
    return notices;
  }

  put(dest: string, source: PutSource, opts?: PutOptions): Promise<void> {
    return putFile((c, o) => this.exec(c, o), this.spec.name, dest, source, opts);
  }

  get(src: string, localPath: string, opts?: GetOptions): Promise<void> {
    return getFile((c, o) => this.exec(c, o), this.spec.name, src, localPath, opts);
  }

  /** A TCP tunnel from this host to address:port: a jump host's next hop, a module's API calls. */
  async tunnel(address: string, port: number): Promise<Duplex> {
    return tunnel(await this.connected(), address, port);
  }

  /** Closes this host's client, then (if it owns it) the jump connection behind it. */
  async close(): Promise<void> {
    this.session?.close();
    this.session = undefined;
    const client = this.client ?? (await this.opening?.catch(() => undefined));
    this.client = undefined;
    if (client) await endClient(client);
    if (this.jump && this.ownsJump) await this.jump.close();
  }

  /**
   * The session if it is free; otherwise undefined, and one is started in the background when
   * there is none (the command in hand takes a channel of its own meanwhile).
   */
  private idleSession(): ShellSession | undefined {
    if (this.session?.idle) return this.session;
    if (this.session?.alive || this.sessionOpening || this.sessionRefused || !this.client) return undefined;
    this.sessionOpening = true;
    const client = this.client;
    this.openChannel(client, SESSION_COMMAND)
      .then(
        (channel) => {
          this.session = new ShellSession(channel, this.spec.name);
          if (this.client !== client) this.session.close(); // reconnected meanwhile: this one is gone
        },
        () => {
          this.sessionRefused = true;
        },
      )
      .finally(() => {
        this.sessionOpening = false;
      });
    return undefined;
  }

  private connected(): Promise<SshClient> {
    if (this.client) return Promise.resolve(this.client);
    this.opening ??= this.connect().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** A handshake the server dropped is tried again, twice, after a short pause. */
  private async connect(): Promise<SshClient> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.connectOnce();
      } catch (err) {
        if (!(err instanceof HandshakeDroppedError) || attempt >= HANDSHAKE_ATTEMPTS) throw err;
        await delay(HANDSHAKE_RETRY_MS * attempt);
      }
    }
  }

  private async connectOnce(): Promise<SshClient> {
    let sock: Duplex | undefined;
    if (this.jump) {
      try {
        sock = await this.jump.tunnel(this.spec.address, this.spec.port);
      } catch (err) {
        if (err instanceof InputError) throw err; // a bad key file for the jump host is bad input
        // A changed key on the way is a security event, not an outage: keep it visible as such.
        if (err instanceof HostKeyError)
          throw new HostKeyError(this.spec.name, `via ${this.jump.spec.name}: ${err.message}`);
        throw new UnreachableError(this.spec.name, `via ${this.jump.spec.name}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    const client = await connectClient(this.spec, sock, this.jump?.spec.name, (message) => this.notices.push(message));
    client.on('close', () => {
      if (this.client === client) this.client = undefined; // the next exec reconnects
    });
    this.client = client;
    return client;
  }

  private async openChannel(client: SshClient, command: string): Promise<RunningCommand> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await new Promise<RunningCommand>((resolve, reject) => {
          // Wrap inside the callback: ssh2 may parse the command's exit status from the same
          // packet batch right after this returns, before a promise continuation could listen.
          client.exec(command, (err, channel) => (err ? reject(err) : resolve(wrapChannel(channel))));
        });
      } catch (err) {
        const message = (err as Error).message;
        if (/not connected|no response from server/i.test(message)) {
          throw new UnreachableError(this.spec.name, `connection lost: ${message}`, { cause: err });
        }
        // A server with a MaxSessions below ours refuses extra channels: wait for one to free up.
        if (attempt >= 5 || !/open failed|channel open failure/i.test(message)) {
          throw new UnreachableError(this.spec.name, `cannot open an SSH channel: ${message}`, { cause: err });
        }
        await delay(200 * attempt);
      }
    }
  }
}

function wrapChannel(channel: ClientChannel): RunningCommand {
  let exit: ExitInfo | undefined;
  let killed = false;
  channel.on('exit', (code: number | null, signal?: string) => {
    exit = code === null ? { code: null, ...(signal ? { signal } : {}) } : { code };
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    channel.once('close', () => {
      if (exit) return resolve(exit);
      resolve(
        killed
          ? { code: null, signal: 'SIGKILL' }
          : { code: null, lost: 'the connection was lost while a command was running' },
      );
    });
  });
  // ssh2's channel.signal() does nothing once our side sent EOF (stdin ended), yet the command
  // still runs then: send the request through its protocol object while the channel is open.
  const internals = channel as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, name: string): void } };
  };
  const signal = (name: string): void => {
    const out = internals.outgoing;
    if (!out || (out.state !== 'open' && out.state !== 'eof')) return;
    try {
      internals._client?._protocol?.signal(out.id, name);
    } catch {
      // connection already gone: nothing left to signal
    }
  };
  return {
    stdin: channel,
    stdout: channel,
    stderr: channel.stderr,
    exited,
    kill: () => {
      killed = true;
      signal('KILL');
      channel.close();
    },
    terminate: () => signal('TERM'),
  };
}

function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}

function endClient(client: SshClient): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      // A dead or firewalled peer never answers the disconnect. ssh2's destroy() skips a socket
      // that end() already half-closed, so destroy the socket itself or it keeps the process alive.
      client.destroy();
      (client as unknown as { _sock?: { destroy(): void } })._sock?.destroy();
      resolve();
    }, 2000);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    client.end();
  });
}
