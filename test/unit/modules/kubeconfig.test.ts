import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { kubeconfig, type KubeconfigParams } from '../../../src/modules/kubeconfig.js';
import { serviceAccountKey } from '../../../src/modules/service_account_key.js';
import { CA, type LeafSpec } from '../../../src/pki/spec.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { localConnection, tempDir } from './support/hosts.js';

const tmp = tempDir('kubeconfig');
afterAll(() => tmp.cleanup());
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
const snapshot = (folder: string) =>
  existsSync(folder) ? readdirSync(folder, { recursive: true }).map(String).sort() : [];

describe('kubeconfig: real runs on the controller (LocalConnection)', () => {
  const pki = path.join(tmp.dir, 'pki');
  const dest = path.join(tmp.dir, 'host', 'etc', 'kubernetes', 'scheduler.kubeconfig');
  const spec: LeafSpec = { name: 'scheduler', ca: CA.cluster, commonName: 'system:kube-scheduler', usages: ['client'] };
  const params: KubeconfigParams = { spec, src_dir: pki, dest, server: 'https://127.0.0.1:6443' };
  const run = (p: KubeconfigParams, check = false) =>
    runModule(kubeconfig, moduleContext(localConnection(), { check }), p);

  test('check mode before anything exists writes nothing, on either side', async () => {
    const checked = await run(params, true);
    expect(checked.changed).toBe(true);
    expect(checked.plan.reason).toMatch(/^would issue scheduler on the controller \(CA 'ca' does not exist yet\); /);
    expect(checked.plan.reason).toMatch(/scheduler\.kubeconfig does not exist$/);
    expect(snapshot(pki)).toEqual([]);
    expect(existsSync(dest)).toBe(false);
  });

  test(
    'issues, writes 0600 with the certificate, key and CA embedded; a re-run changes nothing; ' + 'drift is repaired',
    async () => {
      const first = await run(params);
      expect(first.changed).toBe(true);
      expect(mode(dest)).toBe('600');
      const doc = YAML.parse(readFileSync(dest, 'utf8'));
      expect(doc['current-context']).toBe('system:kube-scheduler@kubernetes');
      expect(doc.clusters[0].cluster.server).toBe('https://127.0.0.1:6443');
      const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
      expect(decode(doc.clusters[0].cluster['certificate-authority-data'])).toBe(
        readFileSync(path.join(pki, 'ca.crt'), 'utf8'),
      );
      expect(decode(doc.users[0].user['client-certificate-data'])).toBe(
        readFileSync(path.join(pki, 'scheduler.crt'), 'utf8'),
      );
      expect(decode(doc.users[0].user['client-key-data'])).toBe(readFileSync(path.join(pki, 'scheduler.key'), 'utf8'));
      expect(JSON.stringify(first.plan.diff)).not.toContain('PRIVATE KEY');

      expect(await run(params)).toMatchObject({ changed: false, plan: { action: 'none' } });

      writeFileSync(dest, 'tampered');
      const repaired = await run(params);
      expect(repaired.plan.diff?.values).toEqual([{ key: 'content', before: '(secret)', after: '(secret changed)' }]);
      expect((await run(params)).changed).toBe(false);
    },
  );

  test('a new server address rewrites only the file; the certificate is kept', async () => {
    const crt = sha(path.join(pki, 'scheduler.crt'));
    const moved = await run({ ...params, server: 'https://10.0.0.1:6443' });
    expect(moved.changed).toBe(true);
    expect(moved.plan.reason).not.toMatch(/issued/);
    expect(sha(path.join(pki, 'scheduler.crt'))).toBe(crt);
  });
});

describe('service_account_key: real runs on the controller (LocalConnection)', () => {
  const pki = path.join(tmp.dir, 'sa-pki');
  const dest = path.join(tmp.dir, 'host', 'etc', 'kubernetes', 'pki');
  const run = (p: { dest: string; key?: boolean }, check = false) =>
    runModule(serviceAccountKey, moduleContext(localConnection(), { check }), { src_dir: pki, ...p });

  test(
    'check mode makes nothing; the first run makes the pair on the controller and puts it; a re-run ' +
      'changes nothing',
    async () => {
      const checked = await run({ dest }, true);
      expect(checked.plan.reason).toMatch(/^would make the service-account key pair/);
      expect(snapshot(pki)).toEqual([]);
      expect(existsSync(dest)).toBe(false);

      const first = await run({ dest });
      expect(first.changed).toBe(true);
      expect(sha(path.join(dest, 'sa.key'))).toBe(sha(path.join(pki, 'sa.key')));
      expect(sha(path.join(dest, 'sa.pub'))).toBe(sha(path.join(pki, 'sa.pub')));
      expect([mode(path.join(dest, 'sa.key')), mode(path.join(dest, 'sa.pub'))]).toEqual(['600', '644']);
      expect(JSON.stringify(first.plan)).not.toContain('PRIVATE KEY');
      // Only the pair: no CA key is made or copied.
      expect(snapshot(pki)).toEqual(['sa.key', 'sa.pub']);

      const second = await run({ dest });
      expect(second.changed).toBe(false);
    },
  );

  test('a staging file a cut-off run left beside the pair is removed', async () => {
    await run({ dest });
    writeFileSync(path.join(dest, '.sa.key.furrow-new'), 'half a pair', { mode: 0o600 });
    const cleaned = await run({ dest });
    expect(cleaned.changed).toBe(true);
    expect(cleaned.plan.reason).toContain('removes .sa.key.furrow-new, left by a run cut off mid-write');
    expect(snapshot(dest)).toEqual(['sa.key', 'sa.pub']);
    expect((await run({ dest })).changed).toBe(false);
  });

  test('key: false puts the public key only', async () => {
    const pubOnly = path.join(tmp.dir, 'host2');
    await run({ dest: pubOnly, key: false });
    expect(snapshot(pubOnly)).toEqual(['sa.pub']);
  });
});
