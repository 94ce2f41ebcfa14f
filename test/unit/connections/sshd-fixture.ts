/**
 * A throwaway OpenSSH server on 127.0.0.1 for the SSH tests: its own host key (made by Furrow's
 * key generator, never ssh-keygen), config and authorized_keys in a temp folder. Stopped by its
 * PID. Needs the Debian package openssh-server (for /usr/sbin/sshd).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { generateSshKeyPair } from '../../../src/engine/connections/keygen.js';

export const SSHD = '/usr/sbin/sshd';

export function sshdAvailable(): boolean {
  return existsSync(SSHD) && process.getuid?.() === 0;
}

export interface Sshd {
  port: number;
  pid: number;
  dir: string;
  /** Private key (OpenSSH format) accepted for root, unencrypted. */
  clientKeyFile: string;
  /** The same kind of key, encrypted with `passphrase`, also accepted. */
  encryptedKeyFile: string;
  passphrase: string;
  /** A key that is not in authorized_keys. */
  strangerKeyFile: string;
  /** Restart with a new host key (a "reinstalled" host). */
  regenerateHostKey(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function writeKey(dir: string, name: string, passphrase?: string): { file: string; publicKey: string } {
  const pair = passphrase ? encryptedKeyPair(passphrase) : generateSshKeyPair(name);
  const file = join(dir, name);
  writeFileSync(file, pair.privateKey, { mode: 0o600 });
  return { file, publicKey: pair.publicKey };
}

/**
 * Furrow's generator writes no encrypted keys, so ssh2's does; about one of its keys in 256 has a
 * truncated public half (mscdex/ssh2#1390), which parseKey refuses, so such a key is made again.
 */
function encryptedKeyPair(passphrase: string): { privateKey: string; publicKey: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { passphrase, cipher: 'aes256-ctr', rounds: 4 });
    if (!(ssh2.utils.parseKey(pair.public) instanceof Error))
      return { privateKey: pair.private, publicKey: pair.public };
  }
}

export async function startSshd(extraConfig: string[] = []): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'furrow-sshd-'));
  // sshd insists on its privilege separation folder; systemd normally makes it.
  const madePrivsep = !existsSync('/run/sshd');
  if (madePrivsep) mkdirSync('/run/sshd', { mode: 0o755 });
  const client = writeKey(dir, 'client_ed25519');
  const encrypted = writeKey(dir, 'client_encrypted', 'open sesame');
  const stranger = writeKey(dir, 'stranger_ed25519');
  writeFileSync(join(dir, 'authorized_keys'), `${client.publicKey}\n${encrypted.publicKey}\n`, { mode: 0o600 });
  const port = await freePort();
  const configFile = join(dir, 'sshd_config');
  writeFileSync(
    configFile,
    [
      ...extraConfig, // first: sshd takes the first value of each keyword
      `ListenAddress 127.0.0.1`,
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'PermitRootLogin yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'MaxSessions 10',
      'MaxStartups 100:30:200',
      'LogLevel ERROR',
      // sshd runs each command through root's login shell, and Debian's bash sources ~/.bashrc
      // when started by sshd unless it is a nested shell. This machine's root .bashrc is not the
      // host under test (one with pyenv init waited 60 s per command on a stale lock), so the
      // session's bash is told it is nested and skips it.
      'SetEnv SHLVL=1',
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    writeKey(dir, 'host_ed25519');
    child = spawn(SSHD, ['-D', '-e', '-f', configFile, '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (process.env.FURROW_SSHD_LOG) process.stderr.write(d);
    });
    await waitForPort(port, () => (child!.exitCode !== null ? `sshd exited: ${stderr}` : undefined));
  };
  const kill = async (): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null || running.pid === undefined) return;
    // Let sshd reap its session processes first: orphaned, they would linger as zombies on
    // machines whose PID 1 does not reap. Sessions still open after a while are ended by PID.
    if (!(await childrenGone(running.pid, 3000))) {
      for (const pid of childrenOf(running.pid)) signal(pid, 'SIGTERM');
      await childrenGone(running.pid, 2000);
    }
    const exited = new Promise((r) => running.once('exit', r));
    process.kill(running.pid, 'SIGTERM');
    await exited;
  };
  await launch();

  return {
    port,
    get pid() {
      return child?.pid ?? 0;
    },
    dir,
    clientKeyFile: client.file,
    encryptedKeyFile: encrypted.file,
    passphrase: 'open sesame',
    strangerKeyFile: stranger.file,
    async regenerateHostKey() {
      await kill();
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
      if (madePrivsep && readdirSync('/run/sshd').length === 0) rmdirSync('/run/sshd');
    },
  };
}

async function waitForPort(port: number, failed: () => string | undefined): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const problem = failed();
    if (problem) throw new Error(problem);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port} within 10 s`);
}

/** PIDs whose parent is `pid`, read from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent; the command name (field 2) may contain spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

async function childrenGone(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (childrenOf(pid).length > 0) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
