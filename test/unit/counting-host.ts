/**
 * A stand-in host for "no host was touched" tests: a TCP listener on loopback that counts the
 * connections made to it and drops each at once (so a run that does connect finds it unreachable).
 */
import net from 'node:net';

export interface CountingHost {
  /** Connections made since start or the last reset(). */
  readonly connections: number;
  reset(): void;
  /** Inventory variables that point a host at it, with a short connect timeout. */
  readonly hostVars: string;
  close(): Promise<void>;
}

export async function countingHost(): Promise<CountingHost> {
  let connections = 0;
  const server = net.createServer((sock) => {
    connections++;
    sock.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    get connections() {
      return connections;
    },
    reset: () => {
      connections = 0;
    },
    hostVars: `ansible_host=127.0.0.1 ansible_port=${port} furrow_connect_timeout=2`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
