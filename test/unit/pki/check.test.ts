import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { certificateStatus, checkCertificates, needsAttention } from '../../../src/pki/check.js';
import { ensureLeaf } from '../../../src/pki/leaf.js';
import { CA } from '../../../src/pki/spec.js';

/** The expiry report of `furrow certs check`, with the clock moved instead of waiting. */
const DAY = 86_400_000;
const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-pki-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  await ensureLeaf(dir, { name: 'etcd/server-etcd1', ca: CA.etcd, commonName: 'etcd1', usages: ['server'], days: 100 });
  await ensureLeaf(dir, {
    name: 'admin',
    ca: CA.cluster,
    commonName: 'kubernetes-admin',
    organization: 'system:masters',
    usages: ['client'],
    days: 20,
  });
});

test('every certificate under pki/, CAs included, sorted by name, with days left and status', async () => {
  const checks = await checkCertificates(dir, { renewWithinDays: 30 });
  expect(checks.map((c) => [c.name, c.subject, c.isCa, c.daysLeft, c.status])).toEqual([
    ['admin', 'O=system:masters, CN=kubernetes-admin', false, 19, 'expiring'],
    ['ca', 'CN=kubernetes', true, 3649, 'ok'],
    ['etcd/ca', 'CN=etcd-ca', true, 3649, 'ok'],
    ['etcd/server-etcd1', 'CN=etcd1', false, 99, 'ok'],
  ]);
  expect(checks[3]!.path).toBe(path.join(dir, 'etcd/server-etcd1.crt'));
  expect(checks[3]!.issuer).toBe('CN=etcd-ca');
  expect(needsAttention(checks)).toBe(true);
  expect(needsAttention(await checkCertificates(dir, { renewWithinDays: 10 }))).toBe(false);
});

test('later: expired and expiring', async () => {
  const checks = await checkCertificates(dir, { renewWithinDays: 30, now: new Date(Date.now() + 80 * DAY) });
  expect(checks.map((c) => [c.name, c.daysLeft, c.status])).toEqual([
    ['admin', -61, 'expired'],
    ['ca', 3569, 'ok'],
    ['etcd/ca', 3569, 'ok'],
    ['etcd/server-etcd1', 19, 'expiring'],
  ]);
});

test('a file that is not a certificate is reported, not fatal; a missing folder is empty', async () => {
  const other = mkdtempSync(path.join(os.tmpdir(), 'furrow-pki-check-bad-'));
  try {
    writeFileSync(path.join(other, 'broken.crt'), 'not a certificate\n');
    const [broken] = await checkCertificates(other);
    expect(broken).toMatchObject({ name: 'broken', status: 'unreadable' });
    expect(broken!.problem).toContain(`${other}/broken.crt is not a readable PEM certificate`);
    expect(await checkCertificates(path.join(other, 'nope'))).toEqual([]);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('certificateStatus judges a PEM read from a host the same way', async () => {
  const [, , , server] = await checkCertificates(dir);
  const { readFileSync } = await import('node:fs');
  const pem = readFileSync(server!.path, 'utf8');
  expect(
    certificateStatus('h1:/etc/etcd/ssl/server.crt', '/etc/etcd/ssl/server.crt', pem, { renewWithinDays: 120 }),
  ).toMatchObject({
    name: 'h1:/etc/etcd/ssl/server.crt',
    status: 'expiring',
    daysLeft: 99,
  });
});
