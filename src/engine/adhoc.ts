import path from 'node:path';
import PQueue from 'p-queue';
import { connectionSpecFromVars, DEFAULT_KNOWN_HOSTS, openConnection, type SpecDefaults } from './connections/index.js';
import { FurrowError, UnreachableError } from './errors.js';
import { hostVars, loadInventory, selectHosts } from './inventory/index.js';

/** Ad-hoc commands (`furrow exec`): one command on every matching host, in parallel. */
export interface AdhocOptions {
  inventory: string;
  pattern: string;
  command: string;
  forks?: number;
  become?: boolean;
  user?: string;
  timeoutMs?: number;
  strictHostKeys?: boolean;
  /** Below each host's inventory variables, as a run's (-k, -K, and deploy's -u and -b). */
  connection?: Pick<SpecDefaults, 'user' | 'become' | 'password' | 'becomePassword'>;
  onResult?: (result: AdhocResult) => void;
}

export type AdhocStatus = 'ok' | 'failed' | 'unreachable';

export interface AdhocResult {
  host: string;
  status: AdhocStatus;
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why the host failed or was unreachable, when not by the command's own exit status. */
  error?: string;
  durationMs: number;
}

/** Loads the inventory and resolves the pattern before any connection is made: bad input touches no host. */
export async function runAdhoc(opts: AdhocOptions): Promise<AdhocResult[]> {
  const inv = await loadInventory(opts.inventory);
  const names = selectHosts(inv, opts.pattern);
  const baseDir = path.dirname(path.resolve(opts.inventory));
  const specFor = (name: string) => {
    const vars = {
      ...hostVars(inv, name),
      ...(opts.user ? { ansible_user: opts.user } : {}),
      ...(opts.become ? { ansible_become: true } : {}),
    };
    return connectionSpecFromVars(name, vars, {
      ...opts.connection,
      knownHostsFile: DEFAULT_KNOWN_HOSTS,
      strictHostKeys: !!opts.strictHostKeys,
      baseDir,
      resolveHost: (jump: string) =>
        inv.hosts.has(jump)
          ? connectionSpecFromVars(jump, hostVars(inv, jump), {
              knownHostsFile: DEFAULT_KNOWN_HOSTS,
              strictHostKeys: !!opts.strictHostKeys,
              baseDir,
            })
          : undefined,
    });
  };
  const specs = names.map(specFor);
  const queue = new PQueue({ concurrency: Math.max(1, opts.forks ?? names.length) });
  const results = await Promise.all(
    specs.map((spec) =>
      queue.add(async (): Promise<AdhocResult> => {
        const started = Date.now();
        const conn = openConnection(spec);
        let result: AdhocResult;
        try {
          await conn.open();
          const r = await conn.exec(opts.command, { timeoutMs: opts.timeoutMs });
          const error = r.timedOut
            ? `timed out after ${opts.timeoutMs} ms`
            : r.code === null
              ? `killed by signal ${r.signal ?? '?'}`
              : undefined;
          result = {
            host: spec.name,
            status: r.code === 0 ? 'ok' : 'failed',
            code: r.code,
            stdout: r.stdout.toString(),
            stderr: r.stderr.toString(),
            ...(error ? { error } : {}),
            durationMs: Date.now() - started,
          };
        } catch (err) {
          const unreachable = err instanceof UnreachableError;
          const message = err instanceof FurrowError || err instanceof Error ? err.message : String(err);
          result = {
            host: spec.name,
            status: unreachable ? 'unreachable' : 'failed',
            code: null,
            stdout: '',
            stderr: '',
            error: message,
            durationMs: Date.now() - started,
          };
        } finally {
          await conn.close().catch(() => undefined);
        }
        opts.onResult?.(result);
        return result;
      }),
    ),
  );
  return results as AdhocResult[];
}
