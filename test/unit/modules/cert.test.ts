import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cert, type CertData, type CertParams } from '../../../src/modules/cert.js';
import { ensureLeaf } from '../../../src/pki/leaf.js';
import { CA, type LeafSpec } from '../../../src/pki/spec.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { cannedConnection, localConnection, probeContent, tempDir } from './support/hosts.js';

const tmp = tempDir('cert');
const pki = path.join(tmp.dir, 'pki');
const otherPki = path.join(tmp.dir, 'other-pki');
afterAll(() => tmp.cleanup());

const spec: LeafSpec = {
  name: 'etcd/server-etcd1',
  ca: CA.etcd,
  commonName: 'etcd1',
  sans: { dns: ['etcd1'], ips: ['10.0.0.1'] },
  usages: ['server'],
};
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const dest = '/etc/etcd/ssl';
const base: CertParams = {
  name: 'etcd/server-etcd1',
  src_dir: pki,
  dest,
  cert_file: 'server.crt',
  key_file: 'server.key',
  ca: true,
};

let want: { crt: string; key: string; ca: string; notAfter: string };
let old: { pem: string; notAfter: string };

beforeAll(async () => {
  const issued = await ensureLeaf(pki, spec);
  want = {
    crt: sha(issued.certPath),
    key: sha(issued.keyPath),
    ca: sha(path.join(pki, 'etcd/ca.crt')),
    notAfter: issued.description.notAfter,
  };
  // What an older run left on the host: another CA, one SAN fewer.
  const older = await ensureLeaf(otherPki, { ...spec, sans: { dns: ['etcd1'] } });
  old = { pem: readFileSync(older.certPath, 'utf8'), notAfter: older.description.notAfter };
});

const file = (mode: string, hash: string) => `@ file ${mode} 0 0 1200 root root\nsha256 ${hash}\n`;
const dir = '@ directory 755 0 0 4096 root root\n';
/** The probe's answers for the staging names beside n files: none left by a cut-off run. */
const noStaging = (n: number) => '@ absent\n'.repeat(n);

describe('cert: plan from canned probe output (one round trip)', () => {
  test('nothing on the host: create the folder and all three files; the key shows as a secret', async () => {
    const conn = cannedConnection(`@ absent\n@ absent\n@ absent\n@ absent\n${noStaging(3)}`);
    const plan = await cert.plan(moduleContext(conn), base);
    expect(plan.action).toBe('create');
    expect(plan.reason).toBe(
      `${dest}/server.crt does not exist; ${dest}/server.key does not exist; ${dest}/ca.crt does not exist`,
    );
    expect(plan.diff?.values).toEqual([
      { key: `${dest}/server.crt: state`, before: 'absent', after: 'file' },
      { key: `${dest}/server.crt: subject`, before: null, after: 'CN=etcd1' },
      { key: `${dest}/server.crt: SANs`, before: null, after: 'DNS:etcd1, IP:10.0.0.1' },
      { key: `${dest}/server.crt: not after`, before: null, after: want.notAfter },
      { key: `${dest}/server.crt: mode`, before: null, after: '0644' },
      { key: `${dest}/server.key: state`, before: 'absent', after: 'file' },
      { key: `${dest}/server.key: content`, before: '(secret)', after: '(secret changed)' },
      { key: `${dest}/server.key: mode`, before: null, after: '0600' },
      { key: `${dest}/ca.crt: state`, before: 'absent', after: 'file' },
      { key: `${dest}/ca.crt: subject`, before: null, after: 'CN=etcd-ca' },
      { key: `${dest}/ca.crt: SANs`, before: null, after: '' },
      { key: `${dest}/ca.crt: not after`, before: null, after: expect.stringMatching(/^20\d\d-/) },
      { key: `${dest}/ca.crt: mode`, before: null, after: '0644' },
    ]);
    expect(plan.data?.mkdir).toBe(dest);
    expect(plan.data?.writes.map((w) => [w.path, w.write?.mode, w.write?.source])).toEqual([
      [`${dest}/server.crt`, '0644', { localPath: path.join(pki, 'etcd/server-etcd1.crt') }],
      [`${dest}/server.key`, '0600', { localPath: path.join(pki, 'etcd/server-etcd1.key') }],
      [`${dest}/ca.crt`, '0644', { localPath: path.join(pki, 'etcd/ca.crt') }],
    ]);
    expect(conn.commands).toHaveLength(1);
    expect(JSON.stringify(plan)).not.toContain('PRIVATE KEY');
  });

  test('all three in place with the right hashes and modes: nothing to do', async () => {
    const conn = cannedConnection(
      dir + file('644', want.crt) + file('600', want.key) + file('644', want.ca) + noStaging(3),
    );
    const plan = await cert.plan(moduleContext(conn), { ...base, owner: 'root', group: 0 });
    expect(plan).toEqual({ action: 'none', reason: `server.crt, server.key, ca.crt up to date in ${dest}` });
    expect(conn.commands).toHaveLength(1);
  });

  test('another certificate on the host: subject, SANs and expiry of both; the key is never read back', async () => {
    const hostCert =
      `@ file 644 0 0 ${Buffer.byteLength(old.pem)} root root\nsha256 ` + `${'b'.repeat(64)}\n${probeContent(old.pem)}`;
    const conn = cannedConnection(dir + hostCert + file('600', want.key) + noStaging(2));
    const plan = await cert.plan(moduleContext(conn), { ...base, ca: false });
    expect(plan).toMatchObject({
      action: 'update',
      reason: `content of ${dest}/server.crt differs (sha256 bbbbbbbbbbbb -> ${want.crt.slice(0, 12)})`,
    });
    expect(plan.diff?.values).toEqual([
      { key: `${dest}/server.crt: subject`, before: 'CN=etcd1', after: 'CN=etcd1' },
      { key: `${dest}/server.crt: SANs`, before: 'DNS:etcd1', after: 'DNS:etcd1, IP:10.0.0.1' },
      { key: `${dest}/server.crt: not after`, before: old.notAfter, after: want.notAfter },
    ]);
    expect(plan.data?.writes.map((w) => w.path)).toEqual([`${dest}/server.crt`]);
    const command = conn.commands[0]!;
    expect(command).toContain(`[ "$h" != '${want.crt}' ]`);
    expect(command).not.toMatch(/furrow_content '?\/etc\/etcd\/ssl\/server\.key/);
  });

  test('a key that differs: "(secret changed)"; a key with a loose mode: only the mode', async () => {
    const differs = await cert.plan(
      moduleContext(cannedConnection(dir + file('644', want.crt) + file('600', 'c'.repeat(64)) + noStaging(2))),
      {
        ...base,
        ca: false,
      },
    );
    expect(differs.diff?.values).toEqual([
      { key: `${dest}/server.key: content`, before: '(secret)', after: '(secret changed)' },
    ]);
    expect(differs.reason).toBe(
      `content of ${dest}/server.key differs (sha256 cccccccccccc -> ${want.key.slice(0, 12)})`,
    );
    const loose = await cert.plan(
      moduleContext(cannedConnection(dir + file('644', want.crt) + file('644', want.key) + noStaging(2))),
      {
        ...base,
        ca: false,
      },
    );
    expect(loose).toMatchObject({
      action: 'update',
      reason: `mode of ${dest}/server.key is 0644, wants 0600`,
      diff: { values: [{ key: `${dest}/server.key: mode`, before: '0644', after: '0600' }] },
    });
    expect(loose.data).toEqual({
      writes: [
        {
          path: `${dest}/server.key`,
          attrs: [{ key: 'mode', before: '0644', after: '0600' }],
          sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          size: expect.any(Number),
        },
      ],
    });
  });

  test('a host certificate that does not parse is named as such', async () => {
    const junk = `@ file 644 0 0 4 root root\nsha256 ${'d'.repeat(64)}\n${probeContent('junk')}`;
    const plan = await cert.plan(moduleContext(cannedConnection(dir + junk + noStaging(1))), {
      ...base,
      ca: false,
      key: false,
    });
    expect(plan.diff?.values?.[0]).toEqual({
      key: `${dest}/server.crt: subject`,
      before: '(not a certificate)',
      after: 'CN=etcd1',
    });
  });

  test(
    'check mode with a spec and no pki yet: says what would be issued, writes nothing ' + 'on the controller',
    async () => {
      const empty = path.join(tmp.dir, 'empty-pki');
      const plan = await cert.plan(
        moduleContext(cannedConnection(`@ absent\n@ absent\n@ absent\n@ absent\n${noStaging(3)}`), { check: true }),
        {
          spec,
          src_dir: empty,
          dest,
          ca: true,
        },
      );
      expect(plan.action).toBe('create');
      expect(plan.reason).toBe(
        `would issue etcd/server-etcd1 on the controller (CA 'etcd/ca' does ` +
          `not exist yet); ${dest}/server-etcd1.crt does not exist; ${dest}/server-etcd1.key does not exist; ` +
          `${dest}/ca.crt does not exist`,
      );
      expect(plan.diff?.values).toContainEqual({
        key: `${dest}/server-etcd1.crt: SANs`,
        before: null,
        after: 'DNS:etcd1, IP:10.0.0.1',
      });
      expect(plan.diff?.values).toContainEqual({
        key: `${dest}/ca.crt: subject`,
        before: null,
        after: "CA 'etcd/ca' (would be created)",
      });
      expect(existsSync(empty)).toBe(false);
    },
  );

  test.each([
    [{ dest }, 'cert: name or spec is required'],
    [{ name: 'a', dest }, 'cert: src_dir is not given and the variable pki_dir is not set'],
    [{ name: 'other', spec, src_dir: pki, dest }, "cert: name 'other' and spec.name 'etcd/server-etcd1' differ"],
    [{ name: 'nope', src_dir: pki, dest }, `certificate 'nope' is not in ${pki}`],
    [{ ...base, key_mode: 'rw' }, 'cert: mode "rw" is not a file mode'],
  ] as [CertParams, string][])('bad params %j', async (params, message) => {
    await expect(
      cert.plan(moduleContext(cannedConnection(`@ absent\n@ absent\n@ absent\n@ absent\n${noStaging(3)}`)), params),
    ).rejects.toThrow(message);
  });

  test('dest that is a file fails naming the host', async () => {
    await expect(
      cert.plan(
        moduleContext(cannedConnection(`${file('644', 'a'.repeat(64))}@ absent\n@ absent\n@ absent\n${noStaging(3)}`)),
        base,
      ),
    ).rejects.toThrow(`h1: cert: ${dest} is a file, not a folder`);
  });

  test('src_dir defaults to the variable pki_dir', async () => {
    const plan = await cert.plan(
      moduleContext(cannedConnection(dir + file('644', want.crt) + noStaging(1)), { vars: { pki_dir: pki } }),
      {
        name: 'etcd/server-etcd1',
        dest,
        cert_file: 'server.crt',
        key: false,
      },
    );
    expect(plan.action).toBe('none');
  });
});

describe('cert: real runs on the controller (LocalConnection)', () => {
  const hostDir = path.join(tmp.dir, 'host', 'etc', 'etcd', 'ssl');
  const localPki = path.join(tmp.dir, 'local-pki');
  const params = (s: LeafSpec = spec): CertParams => ({
    spec: s,
    src_dir: localPki,
    dest: hostDir,
    cert_file: 'server.crt',
    key_file: 'server.key',
    ca: true,
  });
  const run = (p: CertParams, check = false) => runModule(cert, moduleContext(localConnection(), { check }), p);
  const snapshot = (folder: string) =>
    readdirSync(folder, { recursive: true })
      .map(String)
      .sort()
      .map((f) => [f, statSync(path.join(folder, f)).isFile() ? sha(path.join(folder, f)) : 'dir']);

  test(
    'first run issues and distributes; second changes nothing; check mode changes nothing anywhere; a SAN ' +
      'change rolls out',
    async () => {
      const first = await run(params());
      expect(first.changed).toBe(true);
      expect(first.plan.reason).toMatch(
        /^issued etcd\/server-etcd1 on the controller \(.*server-etcd1\.crt is missing\); /,
      );
      expect(sha(path.join(hostDir, 'server.crt'))).toBe(sha(path.join(localPki, 'etcd/server-etcd1.crt')));
      expect(sha(path.join(hostDir, 'server.key'))).toBe(sha(path.join(localPki, 'etcd/server-etcd1.key')));
      expect(sha(path.join(hostDir, 'ca.crt'))).toBe(sha(path.join(localPki, 'etcd/ca.crt')));
      expect(
        ['server.crt', 'server.key', 'ca.crt'].map((f) => (statSync(path.join(hostDir, f)).mode & 0o777).toString(8)),
      ).toEqual(['644', '600', '644']);

      const second = await run(params());
      expect(second).toMatchObject({
        changed: false,
        plan: { action: 'none', reason: `server.crt, server.key, ca.crt up to date in ${hostDir}` },
      });

      const moved = { ...spec, sans: { dns: ['etcd1'], ips: ['10.0.0.1', '10.0.0.2'] } };
      const [controllerBefore, hostBefore] = [snapshot(localPki), snapshot(hostDir)];
      const checked = await run(params(moved), true);
      expect(checked.changed).toBe(true);
      expect(checked.plan.reason).toMatch(
        /^would issue etcd\/server-etcd1 on the controller \(SANs are \[DNS:etcd1, IP:10\.0\.0\.1\], want /,
      );
      expect(checked.plan.reason).toContain('want [DNS:etcd1, IP:10.0.0.1, IP:10.0.0.2]); ');
      expect(checked.plan.diff?.values).toContainEqual({
        key: `${hostDir}/server.crt: SANs`,
        before: 'DNS:etcd1, IP:10.0.0.1',
        after: 'DNS:etcd1, IP:10.0.0.1, IP:10.0.0.2',
      });
      expect([snapshot(localPki), snapshot(hostDir)]).toEqual([controllerBefore, hostBefore]);

      const applied = await run(params(moved));
      expect(applied.plan.action).toBe('update');
      // Same key, same CA: only the certificate moves.
      expect((applied.plan.data as CertData).writes.map((w) => path.basename(w.path))).toEqual(['server.crt']);
      expect((await run(params(moved))).changed).toBe(false);
    },
  );

  test('drift on the host is repaired: a changed key is put back, a changed mode is reset', async () => {
    const moved = { ...spec, sans: { dns: ['etcd1'], ips: ['10.0.0.1', '10.0.0.2'] } };
    writeFileSync(path.join(hostDir, 'server.key'), 'tampered');
    const repaired = await run(params(moved));
    expect(repaired.plan.diff?.values).toEqual([
      { key: `${hostDir}/server.key: content`, before: '(secret)', after: '(secret changed)' },
    ]);
    expect(sha(path.join(hostDir, 'server.key'))).toBe(sha(path.join(localPki, 'etcd/server-etcd1.key')));
    expect((statSync(path.join(hostDir, 'server.key')).mode & 0o777).toString(8)).toBe('600');
    chmodSync(path.join(hostDir, 'ca.crt'), 0o600);
    const reset = await run(params(moved));
    expect(reset.plan.diff?.values).toEqual([{ key: `${hostDir}/ca.crt: mode`, before: '0600', after: '0644' }]);
    expect((statSync(path.join(hostDir, 'ca.crt')).mode & 0o777).toString(8)).toBe('644');
    expect((await run(params(moved))).changed).toBe(false);
  });

  test('a new certificate and key reach the host as a pair: after every command, the two there match', async () => {
    await run(params());
    const [crt, key] = [path.join(hostDir, 'server.crt'), path.join(hostDir, 'server.key')];
    const publicKeyOf = (pem: Buffer) => createPublicKey(pem).export({ type: 'spki', format: 'der' });
    const together = () =>
      publicKeyOf(readFileSync(key)).equals(
        new X509Certificate(readFileSync(crt)).publicKey.export({ type: 'spki', format: 'der' }),
      );
    expect(together()).toBe(true);
    const keyBefore = sha(key);
    // Issued again with a new key: both files change on the host.
    for (const f of ['server-etcd1.crt', 'server-etcd1.key']) rmSync(path.join(localPki, 'etcd', f));
    const real = localConnection();
    const seen: boolean[] = [];
    const watched = new Proxy(real, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== 'function') return value;
        if (prop !== 'exec' && prop !== 'put') return value.bind(target);
        return async (...args: unknown[]) => {
          const result = await value.apply(target, args);
          seen.push(together());
          return result;
        };
      },
    });
    const renewed = await runModule(cert, moduleContext(watched), params());
    expect((renewed.plan.data as CertData).writes.map((w) => path.basename(w.path))).toEqual([
      'server.crt',
      'server.key',
    ]);
    expect(sha(key)).not.toBe(keyBefore);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every(Boolean)).toBe(true);
    // Nothing of the staging is left beside them.
    expect(readdirSync(hostDir).sort()).toEqual(['ca.crt', 'server.crt', 'server.key']);
  });

  test(
    'staging files a cut-off run left are removed, even from an up-to-date set; check mode only says ' + 'so',
    async () => {
      await run(params());
      expect((await run(params())).changed).toBe(false);
      // What a run killed between its staged puts and its rename leaves: a key among them.
      const left = ['.server.key.furrow-new', '.server.crt.furrow-new'];
      for (const f of left) writeFileSync(path.join(hostDir, f), 'half a rotation', { mode: 0o600 });
      const checked = await run(params(), true);
      expect(checked.changed).toBe(true);
      expect(checked.plan.reason).toBe(
        `server.crt, server.key, ca.crt up to date in ${hostDir}; removes .server.crt.furrow-new, ` +
          '.server.key.furrow-new, left by a run cut off mid-write',
      );
      expect(readdirSync(hostDir).sort()).toEqual([...left, 'ca.crt', 'server.crt', 'server.key'].sort());
      const cleaned = await run(params());
      expect(cleaned.changed).toBe(true);
      expect((cleaned.plan.data as CertData).writes).toEqual([]);
      expect(readdirSync(hostDir).sort()).toEqual(['ca.crt', 'server.crt', 'server.key']);
      expect((await run(params())).changed).toBe(false);
    },
  );
});
