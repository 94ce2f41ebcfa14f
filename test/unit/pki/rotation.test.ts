import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { distributionSources } from '../../../src/pki/distribute.js';
import { kubeconfigFromPki } from '../../../src/pki/kubeconfig.js';
import { ensureLeaf } from '../../../src/pki/leaf.js';
import { advanceRotation, beginRotation, readRotation, type RotationState } from '../../../src/pki/rotation.js';
import { CA, type LeafSpec } from '../../../src/pki/spec.js';
import { bundle, fingerprints } from '../../../src/pki/trust.js';

/**
 * A CA rotation on a real pki/ folder, phase by phase: what the hosts would be given (CA files
 * and kubeconfigs), which CA signs, which leaves are kept or issued again, and that each move
 * can be repeated after a cut.
 */
const server: LeafSpec = { name: 'etcd/server-h1', ca: CA.etcd, commonName: 'h1', usages: ['server', 'client'] };
const admin: LeafSpec = {
  name: 'admin',
  ca: CA.cluster,
  commonName: 'kubernetes-admin',
  organization: 'system:masters',
  usages: ['client'],
};
const proxyClient: LeafSpec = {
  name: 'front-proxy-client',
  ca: CA.frontProxy,
  commonName: 'front-proxy-client',
  usages: ['client'],
};

let dir: string;
const read = (name: string) => readFileSync(path.join(dir, name), 'utf8');
const printOf = (name: string) => new X509Certificate(read(name)).fingerprint256;
const caData = async () => {
  const text = await kubeconfigFromPki(dir, 'admin', { cluster: 'k', server: 'https://127.0.0.1:6443', user: 'a' });
  const b64 = YAML.parse(text).clusters[0].cluster['certificate-authority-data'] as string;
  return fingerprints(Buffer.from(b64, 'base64').toString('utf8'));
};
const hostCa = async (spec: LeafSpec) => {
  const leaf = await ensureLeaf(dir, spec);
  const ca = (await distributionSources(dir, { name: spec.name, leaf, caName: spec.ca, key: true, ca: true })).find(
    (s) => s.kind === 'ca',
  )!;
  return { leaf, ca, prints: fingerprints(readFileSync(ca.localPath, 'utf8')) };
};

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-pki-rotation-'));
  for (const spec of [server, admin, proxyClient]) await ensureLeaf(dir, spec);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('CA rotation on pki/', () => {
  test(
    'trust, reissue, drop: the hosts trust old and new, then leaves move to the new CA with new keys, then the ' +
      'old CA goes',
    async () => {
      const old = { etcd: printOf('etcd/ca.crt'), ca: printOf('ca.crt'), proxy: printOf('front-proxy-ca.crt') };
      const oldKey = read('admin.key');
      const oldServer = read('etcd/server-h1.crt');
      expect(await readRotation(dir)).toBeUndefined();

      // trust: a new CA beside each old one; the old one still signs and every leaf is kept.
      let state: RotationState = await beginRotation(dir, [CA.etcd, CA.cluster, CA.frontProxy]);
      expect(state).toMatchObject({ phase: 'trust', rolledOut: false, cas: ['etcd/ca', 'ca', 'front-proxy-ca'] });
      expect(await readRotation(dir)).toEqual(state);
      const next = { etcd: printOf('etcd/ca.next.crt'), ca: printOf('ca.next.crt') };
      expect(next.etcd).not.toBe(old.etcd);
      expect(new X509Certificate(read('ca.next.crt')).subject).toMatch(/^CN=kubernetes-\d{4}-\d\d-\d\d-\d{4}$/);
      expect(printOf('etcd/ca.crt')).toBe(old.etcd);
      const trust = await hostCa(server);
      expect(trust.leaf.action).toBe('kept');
      expect(trust.prints).toEqual([old.etcd, next.etcd]);
      expect(trust.ca.description?.subject).toContain('and 1 more CA in the trust bundle');
      expect(await caData()).toEqual([old.ca, next.ca]);
      expect(read('etcd/server-h1.crt')).toBe(oldServer);
      // Begun again (a cut before the rollout): the same new CA, not another.
      await beginRotation(dir, [CA.etcd, CA.cluster, CA.frontProxy]);
      expect(printOf('etcd/ca.next.crt')).toBe(next.etcd);

      await expect(advanceRotation(dir, state)).rejects.toThrow('phase trust has not been rolled out');
      // reissue: the new CA signs; the old CA's leaves are gone from pki/ and come back new, with new keys.
      state = (await advanceRotation(dir, { ...state, rolledOut: true }))!;
      expect(state).toMatchObject({ phase: 'reissue', rolledOut: false });
      expect(printOf('etcd/ca.crt')).toBe(next.etcd);
      expect(existsSync(path.join(dir, 'etcd/ca.next.crt'))).toBe(false);
      expect(existsSync(path.join(dir, 'admin.key'))).toBe(false);
      expect(existsSync(path.join(dir, 'etcd/server-h1.crt'))).toBe(false);
      const reissued = await hostCa(server);
      expect(reissued.leaf).toMatchObject({ action: 'issued', newKey: true });
      expect(reissued.prints).toEqual([next.etcd, old.etcd]);
      const leaf = new X509Certificate(read('etcd/server-h1.crt'));
      expect(leaf.verify(new X509Certificate(read('etcd/ca.crt')).publicKey)).toBe(true);
      await ensureLeaf(dir, admin);
      expect(read('admin.key')).not.toBe(oldKey);
      expect(await caData()).toEqual([next.ca, old.ca]);
      // Moved again (a cut after the move): nothing changes.
      const again = await advanceRotation(dir, { ...state, phase: 'trust', rolledOut: true });
      expect(again?.phase).toBe('reissue');
      expect(read('etcd/server-h1.crt')).toBe(leaf.toString());

      // drop: the hosts trust the new CA alone; the leaves stay.
      state = (await advanceRotation(dir, { ...state, rolledOut: true }))!;
      expect(state).toMatchObject({ phase: 'drop', rolledOut: false });
      const dropped = await hostCa(server);
      expect(dropped.leaf.action).toBe('kept');
      expect(dropped.prints).toEqual([next.etcd]);
      expect(await caData()).toEqual([next.ca]);
      expect(printOf('front-proxy-ca.crt')).not.toBe(old.proxy);

      expect(await advanceRotation(dir, { ...state, rolledOut: true })).toBeUndefined();
      expect(await readRotation(dir)).toBeUndefined();
    },
  );

  test("a swap cut off after the bundle was rewritten (new CA first) still takes the old CA's leaves out", async () => {
    const state = await beginRotation(dir, [CA.etcd]);
    writeFileSync(path.join(dir, 'etcd/ca.trust.crt'), bundle([read('etcd/ca.next.crt'), read('etcd/ca.crt')]));
    await advanceRotation(dir, { ...state, rolledOut: true });
    expect(existsSync(path.join(dir, 'etcd/server-h1.crt'))).toBe(false);
    expect(existsSync(path.join(dir, 'etcd/server-h1.key'))).toBe(false);
  });

  test('only the CAs named move; the others and their leaves stay', async () => {
    const before = { ca: read('ca.crt'), admin: read('admin.crt') };
    let state = await beginRotation(dir, [CA.etcd]);
    expect(existsSync(path.join(dir, 'ca.trust.crt'))).toBe(false);
    state = (await advanceRotation(dir, { ...state, rolledOut: true }))!;
    expect(existsSync(path.join(dir, 'etcd/server-h1.crt'))).toBe(false);
    expect(read('ca.crt')).toBe(before.ca);
    expect(read('admin.crt')).toBe(before.admin);
  });

  test('a CA that does not exist cannot be rotated; a damaged state file is named', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'furrow-pki-rotation-empty-'));
    try {
      await expect(beginRotation(empty, [CA.cluster])).rejects.toThrow(
        `CA 'ca' does not exist in ${empty}: there is nothing to rotate; deploy first`,
      );
      writeFileSync(path.join(empty, 'rotation.json'), '{"phase": "later"}');
      await expect(readRotation(empty)).rejects.toThrow(
        `${path.join(empty, 'rotation.json')} is not a rotation state Furrow wrote`,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
