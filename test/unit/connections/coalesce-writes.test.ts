import { once } from 'node:events';
import net from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { coalesceWrites } from '../../../src/engine/connections/ssh-connect.js';

/** A socket to a local server; `calls` gets one entry per write or writev the socket made: its chunk count. */
async function connectedPair() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const received: Buffer[] = [];
  server.on('connection', (s) => s.on('data', (d: Buffer) => received.push(d)));
  const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(sock, 'connect');
  sock.setNoDelay(true);
  const calls: number[] = [];
  const internals = sock as unknown as Record<'_write' | '_writev', (...a: unknown[]) => void>;
  const [write, writev] = [internals._write.bind(sock), internals._writev.bind(sock)];
  internals._write = (...a) => {
    calls.push(1);
    write(...a);
  };
  internals._writev = (...a) => {
    calls.push((a[0] as unknown[]).length);
    writev(...a);
  };
  return { server, sock, calls, received };
}

test('writes made in one turn of the event loop leave in one writev, in order; a later turn writes again', async () => {
  const { server, sock, calls, received } = await connectedPair();
  try {
    coalesceWrites(sock);
    sock.write('a');
    sock.write('b');
    await Promise.resolve(); // a promise's continuation is the same turn
    sock.write('c');
    await nextTurn();
    sock.write('d');
    await nextTurn();
    await new Promise<void>((done) => sock.end(() => done()));
    await new Promise((done) => setTimeout(done, 50));
    expect(calls).toEqual([3, 1]);
    expect(Buffer.concat(received).toString()).toBe('abcd');
  } finally {
    sock.destroy();
    server.close();
  }
});

test('without it, every write is its own', async () => {
  const { server, sock, calls } = await connectedPair();
  try {
    sock.write('a');
    sock.write('b');
    await nextTurn();
    expect(calls).toEqual([1, 1]);
  } finally {
    sock.destroy();
    server.close();
  }
});
