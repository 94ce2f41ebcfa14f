import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from '../../src/engine/connections/types.js';
import { hostVars, loadInventory } from '../../src/engine/inventory/index.js';
import { cert, type CertParams } from '../../src/modules/cert.js';
import { etcdPeerSpec, etcdServerSpec, type Member } from '../../src/pki/presets.js';
import { moduleContext, runModule } from '../support/modules.js';
import { describeLab, expectExit, furrow, labHostConnection, labTestName } from './support.js';

/**
 * One etcd member's certificates from the controller's pki/ to a real host: first run puts them
 * there, the re-run changes nothing, check mode changes nothing, drift is repaired. Lab hosts have
 * no openssl: the host side is checked with sha256sum and stat.
 */
const NAME = labTestName('t-cert');
const DEST = '/etc/furrow-cert-lab/ssl';
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describeLab('cert module on a real lab host', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-cert-lab-'));
  const pki = path.join(cwd, 'cluster', 'pki');
  const inventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  let conn: Connection;
  let member: Member;

  async function onHost(command: string): Promise<string> {
    const r = await conn.exec(command);
    if (r.code !== 0) throw new Error(`${command}: exit ${r.code}: ${r.stderr.toString()}`);
    return r.stdout.toString().trim();
  }

  const server = (m: Member): CertParams => ({
    spec: etcdServerSpec(m),
    src_dir: pki,
    dest: DEST,
    cert_file: 'server.crt',
    key_file: 'server.key',
    ca: true,
    owner: 'root',
    group: 'root',
  });
  const peer = (m: Member): CertParams => ({
    spec: etcdPeerSpec(m),
    src_dir: pki,
    dest: DEST,
    cert_file: 'peer.crt',
    key_file: 'peer.key',
  });
  const run = (params: CertParams, check = false) => runModule(cert, moduleContext(conn, { check }), params);
  const hostState = () => onHost(`cd ${DEST} && stat -c '%n %a %U' * && sha256sum *`);
  const controllerState = () =>
    readdirSync(pki, { recursive: true })
      .map(String)
      .sort()
      .map((f) => (statSync(path.join(pki, f)).isFile() ? `${f} ${sha(path.join(pki, f))}` : f));

  beforeAll(async () => {
    expectExit(await furrow(['lab', 'up', '--hosts', '1', '--name', NAME], { cwd }), 0);
    const inv = await loadInventory(inventory);
    const vars = hostVars(inv, 'h1');
    conn = labHostConnection(inv, 'h1', cwd);
    await conn.open();
    member = { name: 'h1', ip: String(vars.ansible_host) };
    await onHost(`rm -rf ${path.posix.dirname(DEST)}`);
  }, 600_000);

  afterAll(async () => {
    await conn?.close();
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  });

  test('first run distributes the member certificates, the re-run changes nothing', async () => {
    const first = await run(server(member));
    expect(first.plan.action).toBe('create');
    expect((await run(peer(member))).plan.action).toBe('create');
    expect(
      await onHost(`stat -c '%n %a %U %G' ${DEST}/server.crt ${DEST}/server.key ${DEST}/ca.crt ${DEST}/peer.key`),
    ).toBe(
      [
        `${DEST}/server.crt 644 root root`,
        `${DEST}/server.key 600 root root`,
        `${DEST}/ca.crt 644 root root`,
        `${DEST}/peer.key 600 root root`,
      ].join('\n'),
    );
    const hostSums = await onHost(`cd ${DEST} && sha256sum server.crt server.key ca.crt peer.crt peer.key`);
    expect(hostSums).toBe(
      [
        `${sha(path.join(pki, 'etcd/server-h1.crt'))}  server.crt`,
        `${sha(path.join(pki, 'etcd/server-h1.key'))}  server.key`,
        `${sha(path.join(pki, 'etcd/ca.crt'))}  ca.crt`,
        `${sha(path.join(pki, 'etcd/peer-h1.crt'))}  peer.crt`,
        `${sha(path.join(pki, 'etcd/peer-h1.key'))}  peer.key`,
      ].join('\n'),
    );
    const again = await run(server(member));
    expect(again).toMatchObject({
      changed: false,
      plan: { action: 'none', reason: `server.crt, server.key, ca.crt up to date in ${DEST}` },
    });
    expect((await run(peer(member))).changed).toBe(false);
  });

  test('check mode with a new SAN: the diff shows it, nothing changes on the host or the controller', async () => {
    const [hostBefore, controllerBefore] = [await hostState(), controllerState()];
    const moved = { ...member, ip: '10.255.0.9' };
    const checked = await run(server(moved), true);
    expect(checked.changed).toBe(true);
    expect(checked.plan.diff?.values).toContainEqual({
      key: `${DEST}/server.crt: SANs`,
      before: `DNS:h1, DNS:localhost, IP:${member.ip}, IP:127.0.0.1`,
      after: expect.stringContaining('IP:10.255.0.9'),
    });
    expect(JSON.stringify(checked.plan)).not.toContain('PRIVATE KEY');
    expect([await hostState(), controllerState()]).toEqual([hostBefore, controllerBefore]);
  });

  test('drift: a deleted key and a loosened mode are repaired, then nothing changes', async () => {
    await onHost(`rm ${DEST}/server.key && chmod 0666 ${DEST}/server.crt`);
    const repaired = await run(server(member));
    expect(repaired.plan.action).toBe('update');
    expect(repaired.plan.diff?.values).toEqual([
      { key: `${DEST}/server.crt: mode`, before: '0666', after: '0644' },
      { key: `${DEST}/server.key: state`, before: 'absent', after: 'file' },
      { key: `${DEST}/server.key: content`, before: '(secret)', after: '(secret changed)' },
      { key: `${DEST}/server.key: mode`, before: null, after: '0600' },
    ]);
    expect(await onHost(`stat -c '%a' ${DEST}/server.key ${DEST}/server.crt`)).toBe('600\n644');
    expect(await onHost(`sha256sum < ${DEST}/server.key | cut -c1-64`)).toBe(sha(path.join(pki, 'etcd/server-h1.key')));
    expect((await run(server(member))).changed).toBe(false);
  });
});
