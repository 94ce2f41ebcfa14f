/**
 * A run's hold on its hosts (connections/host-lock.ts): every host of every play is locked before
 * the first task, so a second run on any of them waits for this one to end instead of interleaving
 * with it. Locks are taken in one order (host names sorted) by every run, so two runs that share
 * several hosts can never each hold one the other waits for.
 *
 * Several inventory names may reach one machine (the same address and port): it is locked once.
 * Hosts reached with a local connection (the controller itself) are not locked: they stand for
 * folders on the controller far more often than for a machine to provision (tests, delegate_to
 * localhost), and every such host would be the same one lock.
 *
 * Check mode takes no lock: it changes nothing, so it cannot corrupt a host, and an operator looks
 * with --check at a host precisely while something else is at work on it; blocking the look
 * behind a long deploy (or a deploy behind a look) would help no one. What it reports may then
 * change under it, as it may with any tool that changes hosts meanwhile.
 */
import { hostname } from 'node:os';
import { HostBusyError, lockHost, type HostLock, type LockHolder } from '../connections/host-lock.js';
import type { Connection, ConnectionSpec } from '../connections/types.js';
import type { Reporter } from '../events.js';

export interface LockRunOptions {
  /** false (--no-wait): fail at once, naming the holder, when another run holds a host. */
  wait: boolean;
  started: Date;
  reporter: Reporter;
  /** The host's open connection; a host that cannot be reached is left to the run to report. */
  connect(host: string): Promise<Connection>;
}

/** Who this run is, as a waiting run will read it. */
export function thisRun(started: Date): LockHolder {
  return { controller: hostname(), pid: process.pid, started: started.toISOString().replace(/\.\d+Z$/, 'Z') };
}

/**
 * Locks every host, waiting for other runs unless told not to. Returns what releases them; on
 * HostBusyError, the hosts already locked are released first.
 */
export async function lockRunHosts(hosts: string[], opts: LockRunOptions): Promise<() => Promise<void>> {
  const names = [...new Set(hosts)].sort();
  const holder = thisRun(opts.started);
  // Connect in parallel; only the locking goes in order.
  const conns = new Map(
    await Promise.all(names.map(async (n) => [n, await opts.connect(n).catch(() => undefined)] as const)),
  );
  const held: HostLock[] = [];
  const release = async (): Promise<void> => {
    await Promise.all(held.map((l) => l.release()));
  };
  const endpoints = new Set<string>();
  for (const name of names) {
    const conn = conns.get(name);
    if (!conn) continue; // unreachable: the run reports it where the host's first task is
    if (conn.spec.transport === 'local') continue;
    const endpoint = endpointOf(conn.spec);
    if (endpoints.has(endpoint)) continue;
    endpoints.add(endpoint);
    try {
      const waitedFrom = Date.now();
      let waited = false;
      const lock = await lockHost(conn, {
        holder,
        wait: opts.wait,
        onWait: (who, file) => {
          waited = true;
          opts.reporter.onEvent({ kind: 'lock_wait', host: name, file, holder: who });
        },
      });
      held.push(lock);
      if (lock.warning) opts.reporter.onEvent({ kind: 'warning', host: name, message: lock.warning });
      if (waited)
        opts.reporter.onEvent({
          kind: 'lock_acquired',
          host: name,
          file: lock.file ?? '',
          waitedMs: Date.now() - waitedFrom,
        });
    } catch (err) {
      if (err instanceof HostBusyError) {
        await release();
        throw err;
      }
      // The lock shell failed or the link went: the host's first task meets the same problem and says so.
      opts.reporter.onEvent({
        kind: 'warning',
        host: name,
        message: `could not take the run lock: ${(err as Error).message}`,
      });
    }
  }
  return release;
}

/** One machine, however many inventory names reach it. */
function endpointOf(spec: ConnectionSpec): string {
  return `${spec.jump ? `${endpointOf(spec.jump)} -> ` : ''}${spec.address}:${spec.port}`;
}
