import type { Duplex, Readable, Writable } from 'node:stream';

/** Everything needed to reach one host; built from inventory vars by `connectionSpecFromVars`. */
export interface ConnectionSpec {
  /** Inventory name of the host: starts every message. */
  name: string;
  /** 'ssh' for remote hosts, 'local' for the controller itself. */
  transport: 'ssh' | 'local';
  address: string;
  port: number;
  user: string;
  privateKeyFile?: string;
  passphrase?: string;
  password?: string;
  /** Path of an ssh-agent socket, when the agent should be offered. */
  agent?: string;
  connectTimeoutMs: number;
  keepaliveMs: number;
  become: boolean;
  becomeUser: string;
  becomePassword?: string;
  /** Our own known_hosts file (never ~/.ssh/known_hosts: we record into it). */
  knownHostsFile: string;
  /** Refuse hosts whose key is not yet recorded (default: trust on first use and record). */
  strictHostKeys: boolean;
  /** Reach this host through another one (ssh ProxyJump). */
  jump?: ConnectionSpec;
  /** Commands running at once on this connection; more wait their turn (OpenSSH's MaxSessions is 10). Default 8. */
  maxChannels?: number;
}

export interface ExecOptions {
  /** Bytes or a stream to feed the command's standard input. */
  stdin?: string | Buffer | Readable;
  /** Kill the command after this long; the result then has timedOut = true. */
  timeoutMs?: number;
  /** Override the connection's become setting for this command. */
  become?: boolean;
  /** Override the connection's become user for this command (the task's `become_user`). */
  becomeUser?: string;
  /** Stream stdout here instead of collecting it (the result's stdout is then empty). */
  stdout?: Writable;
  /**
   * Run on a channel of its own, never on the connection's shared shell: for an operator's command
   * or script, which may leave processes behind that hold its output open.
   */
  ownChannel?: boolean;
}

export interface ExecResult {
  /** Exit status; null when the command was killed by a signal or timed out. */
  code: number | null;
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

export interface PutOptions {
  /** Octal string ('0644') or number. Default: 0644. */
  mode?: string | number;
  owner?: string;
  group?: string;
  /** Override the connection's become setting for this transfer. */
  become?: boolean;
  /** Override the connection's become user for this transfer. */
  becomeUser?: string;
}

export interface GetOptions {
  /** Override the connection's become setting for this transfer (reading root-only files). */
  become?: boolean;
  becomeUser?: string;
}

/**
 * What to upload. A stream with a known `size` is installed in one round trip; without it, the
 * bytes are counted as they go and checked in a second one (a truncated upload never lands).
 */
export type PutSource = { content: string | Buffer } | { path: string } | { stream: Readable; size?: number };

/** One open channel to one host; every task of a run reuses it. */
export interface Connection {
  readonly spec: ConnectionSpec;
  open(): Promise<void>;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Atomic: a temp file in the target's directory, mode and owner set, then renamed over dest. */
  put(dest: string, source: PutSource, opts?: PutOptions): Promise<void>;
  /** Copies a remote file to a local path, streaming (a temp file beside it, then renamed). */
  get(src: string, localPath: string, opts?: GetOptions): Promise<void>;
  close(): Promise<void>;
  /**
   * A TCP stream from this host to address:port (SSH direct-tcpip; a plain socket on the
   * controller): how the controller talks to a service only the host can reach, such as the
   * apiserver behind the host's kube-lb.
   */
  tunnel(address: string, port: number): Promise<Duplex>;
  /** What the user must hear about this connection since last asked (a first-use host key, checking off). */
  takeNotices?(): string[];
}
