import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ensureAuthorities, loadAuthority } from '../../../src/pki/authority.js';
import { ensureLeaf, renewLeaves } from '../../../src/pki/leaf.js';
import { CA, type LeafSpec } from '../../../src/pki/spec.js';

/** ensureLeaf keeps a good leaf byte for byte and re-issues exactly when it must, saying why. */
const DAY = 86_400_000;
const spec: LeafSpec = {
  name: 'etcd/server-etcd1',
  ca: CA.etcd,
  commonName: 'etcd1',
  sans: { dns: ['etcd1'], ips: ['10.0.0.1'] },
  usages: ['server'],
};

let dir: string;
const read = (name: string) => readFileSync(path.join(dir, name), 'utf8');
const mode = (name: string) => (statSync(path.join(dir, name)).mode & 0o777).toString(8);

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-pki-leaf-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('ensureLeaf', () => {
  test('missing: creates the CA and issues; a second call keeps the same bytes', async () => {
    const first = await ensureLeaf(dir, spec);
    expect(first).toMatchObject({
      name: 'etcd/server-etcd1',
      action: 'issued',
      reason: `${dir}/etcd/server-etcd1.crt is missing`,
      newKey: true,
      certPath: `${dir}/etcd/server-etcd1.crt`,
      keyPath: `${dir}/etcd/server-etcd1.key`,
    });
    expect(first.description).toMatchObject({
      subject: 'CN=etcd1',
      issuer: 'CN=etcd-ca',
      sans: ['DNS:etcd1', 'IP:10.0.0.1'],
      usages: ['server'],
      isCa: false,
    });
    expect(JSON.stringify(first)).not.toContain('PRIVATE KEY');
    const [crt, key, ca] = [read('etcd/server-etcd1.crt'), read('etcd/server-etcd1.key'), read('etcd/ca.crt')];
    const second = await ensureLeaf(dir, { ...spec, sans: { ips: ['10.0.0.1'], dns: ['etcd1', 'etcd1'] } });
    expect(second.action).toBe('kept');
    expect(second.reason).toMatch(/^valid until \d{4}-\d\d-\d\d \(364 days left\)$/);
    expect(second.previous).toBeUndefined();
    expect([read('etcd/server-etcd1.crt'), read('etcd/server-etcd1.key'), read('etcd/ca.crt')]).toEqual([crt, key, ca]);
    expect([mode('etcd/server-etcd1.key'), mode('etcd/ca.key'), mode('etcd/server-etcd1.crt')]).toEqual([
      '600',
      '600',
      '644',
    ]);
  });

  test('a SAN change re-issues with the same key, and says what changed', async () => {
    await ensureLeaf(dir, spec);
    const key = read('etcd/server-etcd1.key');
    const crt = read('etcd/server-etcd1.crt');
    const result = await ensureLeaf(dir, { ...spec, sans: { dns: ['etcd1'], ips: ['10.0.0.1', '10.0.0.9'] } });
    expect(result.action).toBe('issued');
    expect(result.reason).toBe('SANs are [DNS:etcd1, IP:10.0.0.1], want [DNS:etcd1, IP:10.0.0.1, IP:10.0.0.9]');
    expect(result.newKey).toBe(false);
    expect(result.previous?.sans).toEqual(['DNS:etcd1', 'IP:10.0.0.1']);
    expect(result.description.sans).toEqual(['DNS:etcd1', 'IP:10.0.0.1', 'IP:10.0.0.9']);
    expect(read('etcd/server-etcd1.key')).toBe(key);
    expect(read('etcd/server-etcd1.crt')).not.toBe(crt);
  });

  test.each([
    [{ commonName: 'etcd2' }, 'subject is CN=etcd1, wants CN=etcd2'],
    [{ organization: 'system:nodes' }, 'subject is CN=etcd1, wants O=system:nodes, CN=etcd1'],
    [{ usages: ['peer'] }, 'extended key usage is server, wants peer'],
    [{ ca: CA.cluster }, 'issuer is CN=etcd-ca, wants CN=kubernetes'],
  ] as [Partial<LeafSpec>, string][])('re-issues when the spec changes: %j', async (change, reason) => {
    await ensureLeaf(dir, spec);
    const result = await ensureLeaf(dir, { ...spec, ...change });
    expect(result).toMatchObject({ action: 'issued', reason });
  });

  test('a new lifetime alone is no reason to re-issue', async () => {
    await ensureLeaf(dir, spec);
    expect((await ensureLeaf(dir, { ...spec, days: 700 })).action).toBe('kept');
  });

  test('a replaced CA (same name, new key) re-issues the leaf under the new CA', async () => {
    await ensureLeaf(dir, spec);
    rmSync(path.join(dir, 'etcd/ca.crt'));
    rmSync(path.join(dir, 'etcd/ca.key'));
    const result = await ensureLeaf(dir, spec);
    expect(result).toMatchObject({
      action: 'issued',
      reason: "not signed by the current CA 'etcd/ca' (the CA was replaced)",
      newKey: false,
    });
    const ca = await loadAuthority(dir, CA.etcd);
    const { x509 } = await import('../../../src/pki/x509.js');
    expect(
      await new x509.X509Certificate(read('etcd/server-etcd1.crt')).verify({
        publicKey: ca!.cert as never,
        signatureOnly: true,
      }),
    ).toBe(true);
  });

  test('expiring within the renew window, or expired: re-issued; outside it: kept', async () => {
    await ensureLeaf(dir, { ...spec, days: 40 });
    expect((await ensureLeaf(dir, spec, { renewWithinDays: 30 })).action).toBe('kept');
    const soon = await ensureLeaf(dir, spec, { renewWithinDays: 45 });
    expect(soon.action).toBe('issued');
    expect(soon.reason).toMatch(/^expires on \d{4}-\d\d-\d\d, within the renew window of 45 days$/);
    expect(Math.round((Date.parse(soon.description.notAfter) - Date.now()) / DAY)).toBe(365);
    const later = new Date(Date.now() + 400 * DAY);
    const expired = await ensureLeaf(dir, spec, { now: later });
    expect(expired.reason).toMatch(/^expired on \d{4}-\d\d-\d\d$/);
  });

  test('a missing key: a new key and certificate', async () => {
    await ensureLeaf(dir, spec);
    const oldKey = read('etcd/server-etcd1.key');
    rmSync(path.join(dir, 'etcd/server-etcd1.key'));
    const result = await ensureLeaf(dir, spec);
    expect(result).toMatchObject({ action: 'issued', reason: `${dir}/etcd/server-etcd1.key is missing`, newKey: true });
    expect(read('etcd/server-etcd1.key')).not.toBe(oldKey);
    expect(mode('etcd/server-etcd1.key')).toBe('600');
  });

  test('a key of another type than wanted: a new key', async () => {
    await ensureLeaf(dir, spec);
    const result = await ensureLeaf(dir, spec, { keyType: 'ecdsa' });
    expect(result).toMatchObject({ action: 'issued', reason: 'key type is rsa, wants ecdsa', newKey: true });
    expect((await ensureLeaf(dir, spec, { keyType: 'ecdsa' })).action).toBe('kept');
  });

  test('dry run (check mode): decides and describes, writes nothing, not even the CA', async () => {
    const pki = path.join(dir, 'pki');
    const result = await ensureLeaf(pki, spec, { dryRun: true });
    expect(result).toMatchObject({ action: 'would-issue', reason: "CA 'etcd/ca' does not exist yet", newKey: true });
    expect(result.description).toMatchObject({
      subject: 'CN=etcd1',
      sans: ['DNS:etcd1', 'IP:10.0.0.1'],
      serial: '(new)',
    });
    expect(existsSync(pki)).toBe(false);
    await ensureLeaf(pki, spec);
    const before = readdirSync(path.join(pki, 'etcd')).map((f) => [f, read(`pki/etcd/${f}`)]);
    const changed = await ensureLeaf(pki, { ...spec, commonName: 'x' }, { dryRun: true });
    expect(changed).toMatchObject({
      action: 'would-issue',
      reason: 'subject is CN=etcd1, wants CN=x',
      newKey: false,
      previous: { subject: 'CN=etcd1' },
    });
    expect(readdirSync(path.join(pki, 'etcd')).map((f) => [f, read(`pki/etcd/${f}`)])).toEqual(before);
  });

  test('hosts planned in parallel issue a shared leaf once', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => ensureLeaf(dir, spec)));
    expect(results.map((r) => r.action).sort()).toEqual(['issued', 'kept', 'kept', 'kept']);
    expect(new Set(results.map((r) => r.description.serial)).size).toBe(1);
  });

  test('leaves of different hosts issued in parallel under a new CA: one CA, each leaf signed by it', async () => {
    const specs = ['etcd1', 'etcd2', 'etcd3'].flatMap((h, i) =>
      (['server', 'peer'] as const).map((kind) => ({
        ...spec,
        name: `etcd/${kind}-${h}`,
        commonName: h,
        sans: { dns: [h], ips: [`10.0.0.${i + 1}`] },
      })),
    );
    const results = await Promise.all(specs.map((s) => ensureLeaf(dir, s)));
    expect(results.map((r) => r.action)).toEqual(specs.map(() => 'issued'));
    const ca = new X509Certificate(readFileSync(path.join(dir, 'etcd/ca.crt')));
    for (const r of results) expect(new X509Certificate(readFileSync(r.certPath)).verify(ca.publicKey)).toBe(true);
    expect(readdirSync(path.join(dir, 'etcd')).filter((f) => f.startsWith('ca.'))).toEqual(['ca.crt', 'ca.key']);
  });

  test.each([
    [{ name: '../x' }, `certificate '../x': name "../x" is not a path under pki/`],
    [{ usages: [] }, "certificate 'etcd/server-etcd1': usages is empty"],
    [{ sans: { ips: ['etcd1'] } }, `certificate 'etcd/server-etcd1': "etcd1" is not an IP address`],
    [{ sans: { dns: ['10.0.0.1/8'] } }, "certificate 'etcd/server-etcd1': '10.0.0.1/8' is not a DNS name"],
    [{ days: 0 }, "certificate 'etcd/server-etcd1': days 0 is not a positive whole number"],
    [{ ca: 'etcd/server-etcd1' }, "certificate 'etcd/server-etcd1': a leaf cannot be its own CA"],
  ] as [Partial<LeafSpec>, string][])(
    'bad spec %j: input error before anything is written',
    async (change, message) => {
      await expect(ensureLeaf(dir, { ...spec, ...change })).rejects.toThrow(message);
      expect(readdirSync(dir)).toEqual([]);
    },
  );
});

describe('leaves remembered as checked (pki/.furrow-checked.json)', () => {
  const CHECKED = '.furrow-checked.json';
  /** A copy of `dir`, with a leaf that was kept once (so remembered), whose memory says 'CN=from-memory'. */
  async function rememberedCopy(): Promise<string> {
    await ensureLeaf(dir, spec);
    expect((await ensureLeaf(dir, spec)).action).toBe('kept');
    const copy = `${dir}-copy`; // a folder this process has not read yet: it reads the file afresh
    cpSync(dir, copy, { recursive: true });
    const file = path.join(copy, CHECKED);
    const entries = JSON.parse(readFileSync(file, 'utf8'));
    entries['etcd/server-etcd1'].description.subject = 'CN=from-memory';
    writeFileSync(file, JSON.stringify(entries));
    return copy;
  }
  afterEach(() => rmSync(`${dir}-copy`, { recursive: true, force: true }));

  test('a kept leaf is remembered: 0600, no key material; the next check answers from it', async () => {
    const copy = await rememberedCopy();
    expect(mode(CHECKED)).toBe('600');
    expect(read(CHECKED)).not.toMatch(/BEGIN|PRIVATE/);
    expect(Object.keys(JSON.parse(read(CHECKED)))).toEqual(['etcd/server-etcd1']);
    const again = await ensureLeaf(copy, spec);
    expect(again).toMatchObject({ action: 'kept', description: { subject: 'CN=from-memory' } });
  });

  const otherLeaf = async (copy: string, ext: 'crt' | 'key') => {
    await ensureLeaf(copy, { ...spec, name: 'etcd/server-etcd2' });
    cpSync(path.join(copy, `etcd/server-etcd2.${ext}`), path.join(copy, `etcd/server-etcd1.${ext}`));
  };
  test.each([
    ['its certificate replaced by another', (copy: string) => otherLeaf(copy, 'crt'), {}, /is not the key of/],
    ['its key replaced by another', (copy: string) => otherLeaf(copy, 'key'), {}, /is not the key of/],
    ['a SAN added to its spec', async () => undefined, { sans: { dns: ['etcd1', 'x'] } }, /^SANs are/],
    [
      'its CA replaced',
      async (copy: string) => {
        for (const f of ['etcd/ca.crt', 'etcd/ca.key']) rmSync(path.join(copy, f)); // the next leaf makes a new one
      },
      {},
      /^not signed by the current CA/,
    ],
  ] as [string, (copy: string) => Promise<void>, Partial<LeafSpec>, RegExp][])(
    'remembered, then %s: inspected and re-issued',
    async (_what, change, specChange, reason) => {
      const copy = await rememberedCopy();
      await change(copy);
      const result = await ensureLeaf(copy, { ...spec, ...specChange });
      expect(result.action).toBe('issued');
      expect(result.reason).toMatch(reason);
      expect(result.description.subject).toBe('CN=etcd1');
    },
  );

  test('remembered, then inside the renew window or forced: re-issued', async () => {
    const copy = await rememberedCopy();
    const soon = await ensureLeaf(copy, spec, { renewWithinDays: 400 });
    expect(soon).toMatchObject({ action: 'issued', description: { subject: 'CN=etcd1' } });
    expect(soon.reason).toMatch(/within the renew window of 400 days$/);
    const again = await rememberedCopy();
    expect((await renewLeaves(again, [spec]))[0]!.action).toBe('issued');
  });

  test('a broken memory file is ignored: the leaf is inspected, kept, and the file written anew', async () => {
    await ensureLeaf(dir, spec);
    const copy = `${dir}-copy`;
    cpSync(dir, copy, { recursive: true });
    writeFileSync(path.join(copy, CHECKED), '{"etcd/server-etcd1": {"digest": ');
    expect(await ensureLeaf(copy, spec)).toMatchObject({ action: 'kept', description: { subject: 'CN=etcd1' } });
    expect(Object.keys(JSON.parse(readFileSync(path.join(copy, CHECKED), 'utf8')))).toEqual(['etcd/server-etcd1']);
  });

  test('check mode remembers nothing', async () => {
    await ensureLeaf(dir, spec);
    const copy = `${dir}-copy`; // without the memory its issue wrote: the check inspects it
    cpSync(dir, copy, { recursive: true });
    rmSync(path.join(copy, CHECKED));
    expect((await ensureLeaf(copy, spec, { dryRun: true })).action).toBe('kept');
    expect(existsSync(path.join(copy, CHECKED))).toBe(false);
  });

  test('a leaf is remembered when issued: the first re-run answers from memory', async () => {
    expect((await ensureLeaf(dir, spec)).action).toBe('issued');
    const copy = `${dir}-copy`;
    cpSync(dir, copy, { recursive: true });
    const file = path.join(copy, CHECKED);
    const entries = JSON.parse(readFileSync(file, 'utf8'));
    expect(entries['etcd/server-etcd1'].description.subject).toBe('CN=etcd1');
    entries['etcd/server-etcd1'].description.subject = 'CN=from-memory';
    writeFileSync(file, JSON.stringify(entries));
    expect(await ensureLeaf(copy, spec)).toMatchObject({ action: 'kept', description: { subject: 'CN=from-memory' } });
    // Re-issued by a renewal (a new digest): remembered again, as the renewed certificate.
    const renewed = (await renewLeaves(copy, [spec]))[0]!;
    expect(renewed.action).toBe('issued');
    const after = JSON.parse(readFileSync(file, 'utf8'))['etcd/server-etcd1'];
    expect(after.description).toEqual(JSON.parse(JSON.stringify(renewed.description)));
  });
});

describe('CAs are never replaced quietly', () => {
  test('a CA certificate without its key is an error that says what to do', async () => {
    await ensureAuthorities(dir);
    rmSync(path.join(dir, 'ca.key'));
    await expect(ensureLeaf(dir, { ...spec, ca: CA.cluster })).rejects.toThrow(
      `CA 'ca': ${dir}/ca.crt exists but ${dir}/ca.key does not; restore it from a backup`,
    );
  });

  test("a CA key that is not the certificate's", async () => {
    await ensureAuthorities(dir);
    writeFileSync(path.join(dir, 'ca.key'), read('front-proxy-ca.key'));
    await expect(loadAuthority(dir, CA.cluster)).rejects.toThrow(
      `CA 'ca': ${dir}/ca.key is not the key of ${dir}/ca.crt`,
    );
  });

  test('ensureAuthorities twice: created, then kept; sa.pub rewritten from sa.key when lost', async () => {
    expect((await ensureAuthorities(dir)).map((r) => `${r.name}:${r.action}`)).toEqual([
      'etcd/ca:created',
      'ca:created',
      'front-proxy-ca:created',
      'sa:created',
    ]);
    const pub = read('sa.pub');
    rmSync(path.join(dir, 'sa.pub'));
    expect((await ensureAuthorities(dir)).map((r) => `${r.name}:${r.action}`)).toEqual([
      'etcd/ca:kept',
      'ca:kept',
      'front-proxy-ca:kept',
      'sa:kept',
    ]);
    expect(read('sa.pub')).toBe(pub);
  });
});

describe('renewLeaves', () => {
  const client: LeafSpec = {
    name: 'apiserver-etcd-client',
    ca: CA.etcd,
    commonName: 'kube-apiserver-etcd-client',
    usages: ['client'],
  };

  test('re-issues the chosen valid leaves with the existing CA and keys', async () => {
    await ensureLeaf(dir, spec);
    await ensureLeaf(dir, client);
    const [ca, key, clientCrt] = [
      read('etcd/ca.crt'),
      read('etcd/server-etcd1.key'),
      read('apiserver-etcd-client.crt'),
    ];
    const results = await renewLeaves(dir, [spec, client], { only: ['etcd/server-etcd1'] });
    expect(results.map((r) => [r.name, r.action, r.reason, r.newKey])).toEqual([
      ['etcd/server-etcd1', 'issued', 'renewal requested', false],
    ]);
    expect(results[0]!.previous!.serial).not.toBe(results[0]!.description.serial);
    expect([read('etcd/ca.crt'), read('etcd/server-etcd1.key'), read('apiserver-etcd-client.crt')]).toEqual([
      ca,
      key,
      clientCrt,
    ]);
    expect((await ensureLeaf(dir, spec)).action).toBe('kept');
  });

  test('an unknown name, or a missing CA, is an error', async () => {
    await expect(renewLeaves(dir, [spec], { only: ['nope'] })).rejects.toThrow("no certificate named 'nope'");
    await expect(renewLeaves(dir, [spec])).rejects.toThrow(
      `certificate 'etcd/server-etcd1': its CA 'etcd/ca' does not exist in ${dir}`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  test('modes do not depend on the umask: keys 0600, certificates 0644', async () => {
    const old = process.umask(0o077);
    try {
      await ensureLeaf(dir, spec);
    } finally {
      process.umask(old);
    }
    expect([
      mode('etcd/server-etcd1.key'),
      mode('etcd/server-etcd1.crt'),
      mode('etcd/ca.key'),
      mode('etcd/ca.crt'),
    ]).toEqual(['600', '644', '600', '644']);
  });
});
