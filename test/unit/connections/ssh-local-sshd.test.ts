/**
 * SshConnection against a real OpenSSH server started on 127.0.0.1 for this file (see
 * sshd-fixture.ts; needs root and the Debian package openssh-server, skipped otherwise).
 * become with a sudo password needs a sudoer: set FURROW_TEST_SUDO_USER/_PASSWORD to run it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { AuthError, HostKeyError, InputError, UnreachableError } from '../../../src/engine/errors.js';
import { ConnectionPool } from '../../../src/engine/connections/pool.js';
import { SshConnection } from '../../../src/engine/connections/ssh.js';
import type { ConnectionSpec } from '../../../src/engine/connections/types.js';
import { freePort, sshdAvailable, startSshd, type Sshd } from './sshd-fixture.js';

const suite = sshdAvailable() ? describe : describe.skip;
const sudoUser = process.env.FURROW_TEST_SUDO_USER;
const sudoPassword = process.env.FURROW_TEST_SUDO_PASSWORD;

suite('SshConnection against a local sshd', () => {
  let sshd: Sshd;
  let work: string;
  const open: SshConnection[] = [];
  const spec = (extra: Partial<ConnectionSpec> = {}): ConnectionSpec => ({
    name: 'node1',
    transport: 'ssh',
    address: '127.0.0.1',
    port: sshd.port,
    user: 'root',
    privateKeyFile: sshd.clientKeyFile,
    connectTimeoutMs: 5000,
    keepaliveMs: 15000,
    become: false,
    becomeUser: 'root',
    knownHostsFile: join(work, 'furrow', 'known_hosts'),
    strictHostKeys: false,
    ...extra,
  });
  const connect = (extra: Partial<ConnectionSpec> = {}): SshConnection => {
    const c = new SshConnection(spec(extra));
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'furrow-ssh-test-'));
    sshd = await startSshd();
  });
  afterAll(async () => {
    try {
      await Promise.allSettled(open.map((c) => c.close()));
    } finally {
      await sshd?.stop(); // by PID, even when tests failed
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('refuses an unknown host key under strict checking, saying how to add it', async () => {
    const err = await connect({ strictHostKeys: true })
      .open()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect((err as Error).message).toMatch(/node1: host key for \[127\.0\.0\.1\]:\d+ is not known/);
    expect(existsSync(spec().knownHostsFile)).toBe(false);
  });

  it('records the host key on first use (many hosts at once: one line), then runs commands', async () => {
    const conns = Array.from({ length: 12 }, (_, i) => connect({ name: `n${i}` }));
    await Promise.all(conns.map((c) => c.open()));
    expect(readFileSync(spec().knownHostsFile, 'utf8').trim().split('\n')).toHaveLength(1);
    const r = await conns[0]!.exec('echo out; echo err >&2; exit 5');
    expect(r).toEqual({ code: 5, stdout: Buffer.from('out\n'), stderr: Buffer.from('err\n'), timedOut: false });
    await connect({ strictHostKeys: true }).open();
  });

  it('names host, user and what was tried when authentication fails', async () => {
    const err = await connect({ privateKeyFile: sshd.strangerKeyFile })
      .open()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toBe(
      `node1: authentication failed for user 'root': ` +
        `tried publickey(${sshd.strangerKeyFile}); server accepts publickey, password`,
    );
    const pw = await connect({ privateKeyFile: sshd.strangerKeyFile, password: 'wrong' })
      .open()
      .catch((e: unknown) => e);
    expect((pw as Error).message).toContain(`tried publickey(${sshd.strangerKeyFile}), password`);
  });

  it('needs the passphrase of an encrypted key, and uses it', async () => {
    const err = await connect({ privateKeyFile: sshd.encryptedKeyFile })
      .open()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(sshd.encryptedKeyFile);
    const c = connect({ privateKeyFile: sshd.encryptedKeyFile, passphrase: sshd.passphrase });
    expect((await c.exec('id -un')).stdout.toString()).toBe('root\n');
  });

  it('reports a closed port as unreachable', async () => {
    const err = await connect({ port: await freePort() })
      .open()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/^node1: unreachable: 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
  });

  /**
   * A port in front of sshd that hangs up on the first `drops` connections, at once (before the
   * server's banner, as MaxStartups does) or just after the banner, and passes the rest through.
   */
  async function droppingFront(
    drops: number,
    when: 'at-once' | 'after-banner',
  ): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
    let accepted = 0;
    const sockets = new Set<Socket>();
    const track = (sock: Socket): void => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => undefined);
    };
    const server = createServer((client) => {
      track(client);
      const drop = ++accepted <= drops;
      if (drop && when === 'at-once') return void client.end();
      const upstream = netConnect(sshd.port, '127.0.0.1');
      track(upstream);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      if (!drop) return void upstream.pipe(client);
      upstream.once('data', (banner: Buffer) => client.end(banner));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      accepted: () => accepted,
      close: () =>
        new Promise<void>((resolve) => {
          for (const sock of sockets) sock.destroy();
          server.close(() => resolve());
        }),
    };
  }

  it.each([
    ['at-once', "connection closed before the server's SSH banner"],
    ['after-banner', 'connection closed during the SSH handshake'],
  ] as const)('connects again when the server hangs up (%s), up to 3 attempts', async (when, message) => {
    const twice = await droppingFront(2, when);
    try {
      const c = connect({ port: twice.port });
      expect((await c.exec('echo hi')).stdout.toString()).toBe('hi\n');
      expect(twice.accepted()).toBe(3);
    } finally {
      await twice.close();
    }
    const always = await droppingFront(Infinity, when);
    try {
      const err = await connect({ port: always.port })
        .open()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnreachableError);
      expect((err as Error).message).toBe(`node1: unreachable: 127.0.0.1:${always.port}: ${message}`);
      expect(always.accepted()).toBe(3);
    } finally {
      await always.close();
    }
  });

  it('keeps one connection: open() is idempotent and 30 parallel commands share it beyond MaxSessions', async () => {
    const c = connect();
    await Promise.all([c.open(), c.open()]);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => c.exec(`sleep 0.2; echo $PPID ${i}`)));
    expect(results.map((r) => r.code)).toEqual(Array(30).fill(0));
    expect(results.map((r) => Number(r.stdout.toString().split(' ')[1]))).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
  });

  it('collects a 50 MB stdout whole and puts 20 MB atomically', async () => {
    const c = connect();
    const big = await c.exec('head -c 50000000 /dev/zero | tr "\\0" y');
    expect(big.stdout.length).toBe(50_000_000);
    const content = Buffer.alloc(20_000_000, 9);
    const dest = join(work, 'big file');
    await c.put(dest, { content }, { mode: '0600' });
    const sum = await c.exec(`sha256sum '${dest}' | cut -d' ' -f1; stat -c %a '${dest}'`);
    expect(sum.stdout.toString()).toBe(`${createHash('sha256').update(content).digest('hex')}\n600\n`);
    await c.get(dest, join(work, 'fetched', 'copy'));
    expect(readFileSync(join(work, 'fetched', 'copy')).equals(content)).toBe(true);
  });

  it('puts small binary files through the shared shell as base64, larger ones on a channel of their own', async () => {
    const c = connect();
    const own = c as unknown as {
      openChannel: (client: unknown, command: string) => Promise<unknown>;
      session?: { idle: boolean };
    };
    // The shared shell opens in the background after the first command.
    for (let i = 0; i < 100 && !own.session?.idle; i++) await c.exec('true');
    expect(own.session?.idle).toBe(true);
    const channels: string[] = [];
    const openChannel = own.openChannel.bind(c);
    own.openChannel = (client, command) => {
      channels.push(command);
      return openChannel(client, command);
    };
    // Random bytes (NUL bytes and invalid UTF-8 among them): not text the shell could carry as it is.
    const small = randomBytes(200_000);
    const large = randomBytes(300_000);
    await c.put(join(work, 'small.bin'), { content: small }, { mode: '0640' });
    expect(channels).toEqual([]);
    await c.put(join(work, 'large.bin'), { content: large });
    expect(channels).toHaveLength(1);
    expect(readFileSync(join(work, 'small.bin')).equals(small)).toBe(true);
    expect((statSync(join(work, 'small.bin')).mode & 0o777).toString(8)).toBe('640');
    expect(readFileSync(join(work, 'large.bin')).equals(large)).toBe(true);
  });

  it('feeds stdin and times out promptly, killing what the command started', async () => {
    const c = connect();
    expect((await c.exec('wc -c', { stdin: Buffer.alloc(2_000_000) })).stdout.toString().trim()).toBe('2000000');
    const marker = join(work, 'survivor');
    const started = Date.now();
    const r = await c.exec(`(sleep 3; touch '${marker}') & sleep 30`, { timeoutMs: 500 });
    expect(r).toMatchObject({ timedOut: true, code: null });
    expect(Date.now() - started).toBeLessThan(2000);
    await new Promise((res) => setTimeout(res, 3500));
    expect(existsSync(marker)).toBe(false);
  });

  it('reports a dropped connection as unreachable and reconnects on the next command', async () => {
    const c = connect();
    await expect(c.exec('kill -9 $PPID; sleep 5')).rejects.toThrow(UnreachableError);
    expect((await c.exec('echo back')).stdout.toString()).toBe('back\n');
  });

  it('becomes another user with sudo -n', async () => {
    if (!existsSync('/usr/bin/sudo')) return;
    const r = await connect({ become: true, becomeUser: 'nobody' }).exec('id -un');
    expect(r.stdout.toString()).toBe('nobody\n');
  });

  it('reaches a host through jump hosts, and names the jump when that fails', async () => {
    const bastion = spec({ name: 'bastion' });
    const viaOne = connect({ jump: bastion });
    expect((await viaOne.exec('echo via')).stdout.toString()).toBe('via\n');
    const viaTwo = connect({ jump: spec({ name: 'inner', jump: bastion }) });
    expect((await viaTwo.exec('echo chain')).stdout.toString()).toBe('chain\n');
    const deadJump = await connect({ jump: spec({ name: 'bastion', port: await freePort() }) })
      .open()
      .catch((e: unknown) => e);
    expect(deadJump).toBeInstanceOf(UnreachableError);
    expect((deadJump as Error).message).toMatch(/^node1: unreachable: via bastion: bastion: unreachable: /);
  });

  it('pools connections: one per host, shared jump, closeAll', async () => {
    const pool = new ConnectionPool();
    const bastion = spec({ name: 'bastion' });
    const specs = Array.from({ length: 15 }, (_, i) => spec({ name: `w${i}`, jump: bastion }));
    const outcomes = await pool.openAll([...specs, spec({ name: 'down', port: await freePort() })]);
    expect(outcomes.filter((o) => o.error).map((o) => o.name)).toEqual(['down']);
    expect(pool.get(specs[0]!)).toBe(outcomes[0]!.connection);
    const names = await Promise.all(
      specs.map(async (s) => (await pool.get(s).exec(`echo ${s.name}`)).stdout.toString().trim()),
    );
    expect(names).toEqual(specs.map((s) => s.name));
    await pool.closeAll();
    expect(pool.size).toBe(0);
  });

  (sudoUser && sudoPassword ? it : it.skip)(
    'becomes root with a sudo password, and fails clearly on a wrong one',
    async () => {
      const base = { user: sudoUser!, password: sudoPassword!, become: true };
      delete (base as Partial<ConnectionSpec>).privateKeyFile;
      const good = connect({ ...base, privateKeyFile: undefined, becomePassword: sudoPassword! });
      const r = await good.exec('id -un; cat; echo done >&2', { stdin: 'piped\n' });
      expect([r.stdout.toString(), r.stderr.toString()]).toEqual(['root\npiped\n', 'done\n']);
      const bad = connect({ ...base, privateKeyFile: undefined, becomePassword: 'wrong' });
      await expect(bad.exec('id -un')).rejects.toThrow(
        new RegExp(`node1: authentication failed for user '${sudoUser}': sudo rejected`),
      );
    },
  );

  // Last: it gives the server a new host key.
  it('refuses a changed host key naming both fingerprints and the line to remove', async () => {
    await sshd.regenerateHostKey();
    const err = await connect()
      .open()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    const message = (err as Error).message;
    expect(message.match(/SHA256:[A-Za-z0-9+/]{43}/g)).toHaveLength(2);
    expect(message).toContain(`remove line 1 from ${spec().knownHostsFile}`);
  });
});
