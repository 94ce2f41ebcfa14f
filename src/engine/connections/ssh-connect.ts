/**
 * One SSH handshake: host key check against our known_hosts, authentication, and the mapping of
 * ssh2's low-level errors onto Furrow's error tree (unreachable, auth, host key).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { Client as ClientType, ConnectConfig, HostVerifier } from 'ssh2';
import { AuthError, FurrowError, UnreachableError } from '../errors.js';
import {
  hostFieldMatches,
  hostKeyAlgorithmsFor,
  hostKeyNotice,
  knownHostName,
  readKnownHosts,
  verifyHostKey,
} from './known-hosts.js';
import { describeAuthFailure, planAuth } from './ssh-auth.js';
import type { ConnectionSpec } from './types.js';

export type SshClient = ClientType;

/** Unanswered keepalives before the connection counts as dead (with 15 s: about 45 s). */
const KEEPALIVE_COUNT_MAX = 3;

/**
 * Connects and authenticates. `sock` is a tunnel through a jump host (then `via` names it for
 * messages). Resolves with a ready client whose later errors are the caller's to watch.
 */
/**
 * The server took the TCP connection, then dropped it before the session was ready: what sshd
 * does when shedding load (MaxStartups) or while it restarts. Nothing ran on the host, so the
 * connection may be tried again.
 */
export class HandshakeDroppedError extends UnreachableError {}

/** `notice` hears what the user must be told about the host key (hostKeyNotice). */
export async function connectClient(
  spec: ConnectionSpec,
  sock?: Duplex,
  via?: string,
  notice?: (message: string) => void,
): Promise<SshClient> {
  const auth = planAuth(spec); // bad key files are input errors, before any network traffic
  const name = knownHostName(spec.address, spec.port);
  const recordedTypes = (await readKnownHosts(spec.knownHostsFile))
    .filter((e) => e.marker === undefined && hostFieldMatches(e.hosts, name))
    .map((e) => e.keyType);
  const where = `${spec.address}:${spec.port}${via ? ` via ${via}` : ''}`;

  return new Promise<SshClient>((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKeyFailure: FurrowError | undefined;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      client.end();
      sock?.destroy();
      reject(err);
    };
    const onError = (err: Error & { level?: string; code?: string }): void => {
      if (err.level === 'agent') return; // a broken agent: ssh2 goes on with the next method
      if (hostKeyFailure) return fail(hostKeyFailure);
      if (err.level === 'client-authentication')
        return fail(new AuthError(spec.name, spec.user, describeAuthFailure(auth)));
      if (err.level === 'client-timeout')
        return fail(
          new UnreachableError(spec.name, `no SSH handshake within ${spec.connectTimeoutMs / 1000} s (${where})`, {
            cause: err,
          }),
        );
      if (err.code === 'ECONNRESET')
        return fail(
          new HandshakeDroppedError(spec.name, `${where}: connection reset during the SSH handshake`, { cause: err }),
        );
      // ssh2's words for a server that hung up before its banner, as sshd's MaxStartups does.
      if (err.message === 'Connection lost before handshake')
        return fail(
          new HandshakeDroppedError(spec.name, `${where}: connection closed before the server's SSH banner`, {
            cause: err,
          }),
        );
      fail(new UnreachableError(spec.name, `${where}: ${err.message}`, { cause: err }));
    };
    const onClose = (): void =>
      fail(
        hostKeyFailure ?? new HandshakeDroppedError(spec.name, `${where}: connection closed during the SSH handshake`),
      );
    client.on('error', onError);
    client.on('close', onClose);
    client.on('ready', () => {
      settled = true;
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      client.on('error', () => undefined); // until the caller adds its own: never an unhandled 'error'
      resolve(client);
    });

    // ssh2 hands us the raw key blob; we must return nothing (an async answer goes through verify).
    const hostVerifier: HostVerifier = (key, verify) => {
      const check = { host: spec.name, name, file: spec.knownHostsFile, strict: spec.strictHostKeys };
      verifyHostKey(check, key).then(
        (outcome) => {
          const message = hostKeyNotice(outcome, check, key);
          if (message) notice?.(message);
          verify(true);
        },
        (err: unknown) => {
          hostKeyFailure =
            err instanceof FurrowError
              ? err
              : new UnreachableError(spec.name, `host key check failed: ${(err as Error).message}`);
          verify(false);
        },
      );
    };
    const config: ConnectConfig = {
      host: spec.address,
      port: spec.port,
      username: spec.user,
      readyTimeout: spec.connectTimeoutMs,
      keepaliveInterval: spec.keepaliveMs,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      algorithms: {
        serverHostKey: hostKeyAlgorithmsFor(recordedTypes) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'],
      },
      hostVerifier,
      authHandler: auth.handler,
      ...(sock ? { sock } : {}),
    };
    try {
      client.connect(config);
      // Every task is a few small request/reply packets: with Nagle's algorithm on, each exchange
      // waits out the peer's delayed ACK (40 ms on Linux), which made a no-op exec cost ~47 ms.
      client.setNoDelay(true);
      coalesceWrites((client as unknown as { _sock?: Socket })._sock);
    } catch (err) {
      fail(new UnreachableError(spec.name, `${where}: ${(err as Error).message}`, { cause: err }));
    }
  });
}

/** Opens a TCP tunnel through `client` to address:port (for the next hop of a jump chain). */
export function tunnel(client: SshClient, address: string, port: number): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    client.forwardOut('127.0.0.1', 0, address, port, (err, stream) => {
      if (err) reject(new Error(`cannot open a tunnel to ${address}:${port}: ${err.message}`));
      else resolve(stream);
    });
  });
}

/**
 * Everything written to the socket in one turn of the event loop (the probes of several tasks,
 * a channel's data with its window adjust) leaves in one writev. Each write costs the controller
 * a pass through the network stack (about 0.5 ms into a lab host), whatever its size, and a
 * no-change deploy all wrote about 1,080 times, 325 of them in the turn of an earlier write.
 */
export function coalesceWrites(sock: Socket | undefined): void {
  if (!sock) return;
  const write = sock.write.bind(sock) as (...args: unknown[]) => boolean;
  let corked = false;
  sock.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      sock.cork();
      setImmediate(() => {
        corked = false;
        sock.uncork();
      });
    }
    return write(...args);
  }) as Socket['write'];
}
