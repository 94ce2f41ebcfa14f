import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { wait_for } from '../../../src/modules/wait_for.js';
import { listenCheck, waitScript } from '../../../src/modules/support/wait-script.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { localConnection, tempDir } from './support/hosts.js';

const { dir, cleanup } = tempDir('wait-for');
afterAll(cleanup);
const ctx = (check = false) => moduleContext(localConnection(), { check });
const later = (ms: number, fn: () => void) => setTimeout(fn, ms);

function listen(): Promise<net.Server> {
  return new Promise((resolve) => {
    const server = net.createServer((s) => s.end());
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
const portOf = (s: net.Server | http.Server) => (s.address() as net.AddressInfo).port;
const close = (s: net.Server | http.Server) => new Promise<void>((r) => s.close(() => r()));

describe('wait_for on the controller', () => {
  test('a path that appears while waiting: plan is none, nothing is a change', async () => {
    const file = path.join(dir, 'ready');
    later(1200, () => writeFileSync(file, 'x'));
    const run = await runModule(wait_for, ctx(), { path: file, timeout: 20 });
    expect(run.changed).toBe(false);
    expect(run.plan.action).toBe('none');
    expect(run.plan.reason).toMatch(new RegExp(`^waiting is not a change: ${file} present \\(after [1-3] s\\)$`));
    expect(run.plan.data).toMatchObject({ state: 'started', path: file });
  });

  test('absent, and search_regex in a file', async () => {
    const gone = path.join(dir, 'lock');
    writeFileSync(gone, '');
    later(500, () => rmSync(gone));
    expect((await wait_for.plan(ctx(), { path: gone, state: 'absent', timeout: 20 })).reason).toMatch(
      /^waiting is not a change: .*lock absent \(after \d s\)$/,
    );
    const log = path.join(dir, 'log');
    writeFileSync(log, 'starting\n');
    later(500, () => writeFileSync(log, 'starting\nserver ready on :8080\n'));
    expect((await wait_for.plan(ctx(), { path: log, search_regex: 'ready on :[0-9]+', timeout: 20 })).reason).toMatch(
      /matching \/ready on :\[0-9\]\+\/ \(after \d s\)$/,
    );
  });

  test('a timeout fails with a message that says what was awaited (or the msg given)', async () => {
    const missing = path.join(dir, 'never');
    await expect(wait_for.plan(ctx(), { path: missing, timeout: 1 })).rejects.toThrow(
      `localhost: wait_for: timed out after 1 s waiting for ${missing} to be present`,
    );
    await expect(wait_for.plan(ctx(), { path: missing, timeout: '1', msg: 'the app did not come up' })).rejects.toThrow(
      'localhost: the app did not come up',
    );
  });

  test('check mode looks once and does not wait', async () => {
    const started = Date.now();
    const plan = await wait_for.plan(ctx(true), { path: path.join(dir, 'never'), timeout: 30 });
    expect(plan).toMatchObject({
      action: 'none',
      reason: `waiting is not a change: check mode does not wait for ${path.join(dir, 'never')} to be present`,
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('a local port: listening is read from /proc/net/tcp, closed after the server stops', async () => {
    const server = await listen();
    const port = portOf(server);
    expect((await wait_for.plan(ctx(), { port, timeout: 5 })).reason).toMatch(
      new RegExp(`^waiting is not a change: port ${port} on 127\\.0\\.0\\.1 listening \\(after [01] s\\)$`),
    );
    later(300, () => server.close());
    expect((await wait_for.plan(ctx(), { port, host: 'localhost', state: 'stopped', timeout: 10 })).reason).toMatch(
      new RegExp(`port ${port} on localhost closed`),
    );
  });

  test("another host's port: tried with nc or bash /dev/tcp", async () => {
    const server = await listen();
    const script = waitScript(
      {
        check: { kind: 'tcp', host: '127.0.0.1', port: portOf(server), absent: false, connectTimeout: 2 },
        timeout: 5,
        delay: 0,
        sleep: 1,
      },
      false,
    );
    const r = await localConnection().exec(script);
    await close(server);
    expect(r.stdout.toString()).toMatch(/^@ok [01]\n$/);
    expect(listenCheck(22)).toBe(
      `furrow_check() { grep -Eq '^ *[0-9]+: [0-9A-F]+:0016 [0-9A-F]+:[0-9A-F]+ 0A ' /proc/net/tcp ` +
        `/proc/net/tcp6 2>/dev/null; }`,
    );
  });

  test('a URL answering with the wanted status', async () => {
    const server = http.createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? 204 : 500;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${portOf(server)}/healthz`;
    try {
      const { reason } = await wait_for.plan(ctx(), { url, status_code: [200, 204], timeout: 5 });
      expect(reason.replace(/ \(after [01] s\)$/, '')).toBe(
        `waiting is not a change: ${url} answering with status 200 or 204`,
      );
      await expect(wait_for.plan(ctx(), { url, timeout: 1 })).rejects.toThrow(
        `timed out after 1 s waiting for ${url} to be answering with status 200`,
      );
    } finally {
      await close(server);
    }
  });

  test('input errors', async () => {
    await expect(wait_for.plan(ctx(), { port: 22, path: '/x' })).rejects.toThrow(
      'wait_for: port and path cannot go together',
    );
    await expect(wait_for.plan(ctx(), { port: 'ssh' })).rejects.toThrow(
      'wait_for: port is "ssh", not a whole number >= 1',
    );
    await expect(wait_for.plan(ctx(), { port: 22, search_regex: 'x' })).rejects.toThrow(
      'wait_for: search_regex works with path only here',
    );
  });

  test('timeout alone just sleeps', async () => {
    const started = Date.now();
    expect((await wait_for.plan(ctx(), { timeout: 1 })).reason).toBe('waiting is not a change: 1 s over (after 1 s)');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });
});
