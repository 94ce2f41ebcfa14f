import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { Connection } from '../../src/engine/connections/types.js';
import { generateSshKeyPair } from '../../src/engine/connections/keygen.js';
import { loadInventory } from '../../src/engine/inventory/index.js';
import { LAB_SUDO_PASSWORD } from '../../src/lab/rootfs.js';
import { describeLab, expectExit, furrow, labHostConnection, labTestName } from './support.js';

const NAME = labTestName('t-exec');

/** Writes a variant of the lab inventory: same hosts, other connection vars. */
function variant(
  cwd: string,
  base: string,
  file: string,
  vars: Record<string, unknown>,
  hostVarsOverride: Record<string, Record<string, unknown>> = {},
): string {
  const inv = YAML.parse(readFileSync(base, 'utf8'));
  Object.assign(inv.all.vars, vars);
  for (const [h, v] of Object.entries(hostVarsOverride)) Object.assign(inv.all.hosts[h], v);
  const out = path.join(cwd, file);
  writeFileSync(out, YAML.stringify(inv));
  return out;
}

describeLab('furrow exec and SSH connections on the lab', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-exec-test-'));
  const inventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  let conn: Connection | undefined;

  beforeAll(async () => {
    expectExit(await furrow(['lab', 'up', '--hosts', '3', '--name', NAME], { cwd }), 0);
  }, 600_000);

  afterAll(async () => {
    await conn?.close();
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  });

  async function connectTo(host: string): Promise<Connection> {
    const inv = await loadInventory(inventory);
    const c = labHostConnection(inv, host, cwd);
    await c.open();
    return c;
  }

  test('exec all runs on every host in parallel and prints each name', async () => {
    const r = await furrow(['exec', 'all', '-i', inventory, '--', 'hostname'], { cwd });
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^h1 \| h1$/m);
    expect(r.stdout).toMatch(/^h2 \| h2$/m);
    expect(r.stdout).toMatch(/^h3 \| h3$/m);
    expect(r.stdout).toMatch(/RECAP[\s\S]*h1\s+ok[\s\S]*h3\s+ok/);
  });

  test('patterns: a group and a union of a host and a group', async () => {
    const r = await furrow(['exec', 'kube_master:h3', '-i', inventory, '--json', '--', 'hostname'], { cwd });
    expectExit(r, 0);
    const hosts = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).host)
      .sort();
    expect(hosts).toEqual(['h1', 'h3']);
  });

  test('become: a non-root user gets root through sudo, without and with a sudo password', async () => {
    const plain = await furrow(['exec', 'h1', '-i', inventory, '-u', 'furrow', '--', 'id -u'], { cwd });
    expect(plain.stdout).not.toMatch(/^h1 \| 0$/m);
    const nopw = await furrow(['exec', 'all', '-i', inventory, '-u', 'furrow', '--become', '--', 'id -u'], { cwd });
    expectExit(nopw, 0);
    expect(nopw.stdout.match(/^h\d \| 0$/gm)).toHaveLength(3);

    const withPw = variant(cwd, inventory, 'pw.yml', {
      ansible_user: 'furrowpw',
      ansible_become: true,
      ansible_become_password: LAB_SUDO_PASSWORD,
    });
    const pw = await furrow(['exec', 'h2', '-i', withPw, '--', 'id -un'], { cwd });
    expectExit(pw, 0);
    expect(pw.stdout).toMatch(/^h2 \| root$/m);

    const badPw = variant(cwd, inventory, 'badpw.yml', {
      ansible_user: 'furrowpw',
      ansible_become: true,
      ansible_become_password: 'wrong',
    });
    const bad = await furrow(['exec', 'h2', '-i', badPw, '--', 'id -un'], { cwd, timeoutMs: 60_000 });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/h2.*(sudo|password)/i);
  });

  test('a wrong key is an authentication error naming the host and the user', async () => {
    const key = generateSshKeyPair('stranger');
    const keyFile = path.join(cwd, 'stranger_key');
    writeFileSync(keyFile, key.privateKey, { mode: 0o600 });
    const r = await furrow(
      [
        'exec',
        'h1',
        '-i',
        variant(cwd, inventory, 'wrongkey.yml', { ansible_ssh_private_key_file: keyFile }),
        '--',
        'true',
      ],
      { cwd },
    );
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/h1: authentication failed for user 'root'/);
  });

  test('a changed host key is refused, naming the host and both fingerprints', async () => {
    const inv = YAML.parse(readFileSync(inventory, 'utf8'));
    const knownHosts = path.join(cwd, 'known_hosts_changed');
    const other = generateSshKeyPair('other').publicKey.split(' ').slice(0, 2).join(' ');
    writeFileSync(knownHosts, `${inv.all.hosts.h1.ansible_host} ${other}\n`);
    const r = await furrow(
      [
        'exec',
        'h1',
        '-i',
        variant(cwd, inventory, 'changed.yml', { furrow_known_hosts_file: knownHosts }),
        '--',
        'true',
      ],
      { cwd },
    );
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/h1:.*host key/i);
    expect(r.stdout.match(/SHA256:[A-Za-z0-9+/]{43}/g)?.length).toBeGreaterThanOrEqual(2);
  });

  test('a 20 MB upload arrives whole with its mode; a 50 MB stdout is received whole', async () => {
    conn = await connectTo('h2');
    const data = randomBytes(20 * 1024 * 1024);
    await conn.put('/root/big.bin', { content: data }, { mode: '0640' });
    const check = await conn.exec(
      'sha256sum /root/big.bin; stat -c %a /root/big.bin; ls -a /root | grep -c furrow || true',
    );
    const [sum, mode, temps] = check.stdout.toString().trim().split('\n');
    expect(sum!.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
    expect(mode).toBe('640');
    expect(temps).toBe('0');

    const big = await conn.exec(
      'head -c 52428800 /dev/urandom > /root/out.bin; sha256sum /root/out.bin >&2; cat /root/out.bin',
    );
    expect(big.code).toBe(0);
    expect(big.stdout.length).toBe(52428800);
    expect(big.stderr.toString().split(' ')[0]).toBe(createHash('sha256').update(big.stdout).digest('hex'));
    // The 50 MB stdout comes through the host's shell session: 200 s at load 8 while the session joined the output and
    // searched it whole per chunk, 3 s since it stopped doing so.
  }, 300_000);

  test('ProxyJump: h2 is reached through h1 while the controller cannot reach it directly', async () => {
    const inv = YAML.parse(readFileSync(inventory, 'utf8'));
    const gateway = (inv.all.hosts.h1.ansible_host as string).replace(/\.\d+$/, '.1');
    const block = `iptables -I INPUT -p tcp --dport 22 -s ${gateway} -j DROP`;
    // Cut the controller off from h2 (the rule only drops packets from the controller's address).
    expectExit(await furrow(['exec', 'h2', '-i', inventory, '--', `${block} && echo blocked`], { cwd }), 0);
    try {
      const fast = variant(cwd, inventory, 'direct.yml', { furrow_connect_timeout: 3 });
      const direct = await furrow(['exec', 'h2', '-i', fast, '--', 'hostname'], { cwd });
      expect(direct.code).toBe(3);
      expect(direct.stdout).toMatch(/h2\s+unreachable/);

      const jumped = variant(cwd, inventory, 'jump.yml', { furrow_connect_timeout: 3 }, { h2: { furrow_jump: 'h1' } });
      const r = await furrow(['exec', 'h2', '-i', jumped, '--', 'hostname'], { cwd });
      expectExit(r, 0);
      expect(r.stdout).toMatch(/^h2 \| h2$/m);
    } finally {
      const jumped = variant(cwd, inventory, 'jump.yml', {}, { h2: { furrow_jump: 'h1' } });
      await furrow(['exec', 'h2', '-i', jumped, '--', block.replace('-I', '-D')], { cwd });
    }
  });

  test('one host stopped: it is reported unreachable, the others succeed, the exit status is not zero', async () => {
    expectExit(await furrow(['lab', 'stop', 'h3', '--name', NAME], { cwd }), 0);
    const fast = variant(cwd, inventory, 'fast.yml', { furrow_connect_timeout: 3 });
    const r = await furrow(['exec', 'all', '-i', fast, '--', 'hostname'], { cwd });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^h1 \| h1$/m);
    expect(r.stdout).toMatch(/^h2 \| h2$/m);
    expect(r.stdout).toMatch(/h3\s+unreachable/);
    expect(r.stdout).toMatch(/h1\s+ok/);
  });
});
