/**
 * One connection per host for a whole run: created on first use, opened in parallel, closed
 * together at the end. Jump hosts are shared: a hundred nodes behind one bastion make one
 * connection to it (and its sshd's MaxStartups never sees a burst of a hundred handshakes).
 */
import PQueue from 'p-queue';
import { LocalConnection } from './local.js';
import { SshConnection } from './ssh.js';
import type { Connection, ConnectionSpec } from './types.js';

export interface OpenOutcome {
  name: string;
  connection: Connection;
  /** Why it could not be opened (UnreachableError, AuthError, HostKeyError, InputError). */
  error?: Error;
}

/** A standalone connection (it owns its jump hosts). Nothing happens on the network until used. */
export function openConnection(spec: ConnectionSpec): Connection {
  return spec.transport === 'local' ? new LocalConnection(spec) : new SshConnection(spec);
}

export class ConnectionPool {
  private readonly byHost = new Map<string, Connection>();
  /** Shared jump connections by endpoint, with how deep each sits in its chain. */
  private readonly jumps = new Map<string, { connection: SshConnection; depth: number }>();
  private readonly opening: PQueue;

  /** `concurrency`: handshakes in flight at once (each costs the server a process or two). */
  constructor(options: { concurrency?: number } = {}) {
    this.opening = new PQueue({ concurrency: options.concurrency ?? 32 });
  }

  /** The host's connection (the same object on every call for the same host name). */
  get(spec: ConnectionSpec): Connection {
    let connection = this.byHost.get(spec.name);
    if (!connection) {
      connection = spec.transport === 'local' ? new LocalConnection(spec) : this.sshConnection(spec);
      this.byHost.set(spec.name, connection);
    }
    return connection;
  }

  /** Opens these hosts in parallel; never throws: each outcome says whether its host is usable. */
  openAll(specs: ConnectionSpec[]): Promise<OpenOutcome[]> {
    return Promise.all(
      specs.map(async (spec) => {
        const connection = this.get(spec);
        try {
          await this.opening.add(() => connection.open(), { throwOnTimeout: true });
          return { name: spec.name, connection };
        } catch (err) {
          return { name: spec.name, connection, error: err as Error };
        }
      }),
    );
  }

  /** Closes every host, then the jump hosts from the nearest hop outwards. */
  async closeAll(): Promise<void> {
    const hosts = [...this.byHost.values()];
    this.byHost.clear();
    await Promise.allSettled(hosts.map((c) => c.close()));
    const jumps = [...this.jumps.values()].sort((a, b) => b.depth - a.depth);
    this.jumps.clear();
    for (const depth of new Set(jumps.map((j) => j.depth))) {
      await Promise.allSettled(jumps.filter((j) => j.depth === depth).map((j) => j.connection.close()));
    }
  }

  get size(): number {
    return this.byHost.size;
  }

  private sshConnection(spec: ConnectionSpec): SshConnection {
    return spec.jump
      ? new SshConnection(spec, { jump: this.jumpConnection(spec.jump).connection })
      : new SshConnection(spec);
  }

  private jumpConnection(spec: ConnectionSpec): { connection: SshConnection; depth: number } {
    const key = endpointKey(spec);
    let entry = this.jumps.get(key);
    if (!entry) {
      const behind = spec.jump ? this.jumpConnection(spec.jump) : undefined;
      const connection = behind ? new SshConnection(spec, { jump: behind.connection }) : new SshConnection(spec);
      entry = { connection, depth: behind ? behind.depth + 1 : 0 }; // hops further out have lower depth
      this.jumps.set(key, entry);
    }
    return entry;
  }
}

/** Two specs reach the same jump endpoint the same way: share one connection. */
function endpointKey(spec: ConnectionSpec): string {
  return [
    spec.user,
    spec.address,
    spec.port,
    spec.privateKeyFile ?? '',
    spec.jump ? `(${endpointKey(spec.jump)})` : '',
  ].join('|');
}
