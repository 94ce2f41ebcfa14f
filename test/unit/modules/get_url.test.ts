import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decideGetUrl, getUrl, parseChecksum, type GetUrlParams } from '../../../src/modules/get_url.js';
import { serveRepo, type RepoServer } from '../../../src/repo/serve.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { cannedConnection, localConnection, tempDir } from './support/hosts.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const SHA = sha256('payload\n');

describe('get_url decisions', () => {
  const params: GetUrlParams = { url: 'http://10.213.7.1:8080/tool.tgz', dest: '/opt/tool.tgz' };
  const file = (sha: string) => ({
    type: 'file' as const,
    mode: 0o644,
    uid: 0,
    gid: 0,
    owner: 'root',
    group: 'root',
    size: 8,
    sha256: sha,
  });

  test('checksum: only sha256:<hex> is accepted', () => {
    expect(parseChecksum(`sha256:${SHA.toUpperCase()}`)).toBe(SHA);
    expect(() => parseChecksum('md5:abc')).toThrow("get_url: checksum 'md5:abc' is not 'sha256:<64 hex digits>'");
  });

  test('absent: create; matching checksum: none; other content: update with old/new hashes', () => {
    const absent = decideGetUrl(params, '/opt/tool.tgz', { type: 'absent' }, SHA);
    expect([absent.action, absent.reason, absent.data?.download]).toEqual([
      'create',
      '/opt/tool.tgz does not exist: download http://10.213.7.1:8080/tool.tgz',
      { mode: '0644', compare: false },
    ]);
    expect(decideGetUrl(params, '/opt/tool.tgz', file(SHA), SHA)).toEqual({
      action: 'none',
      reason: `/opt/tool.tgz matches sha256 ${SHA.slice(0, 12)}`,
    });
    const other = decideGetUrl(params, '/opt/tool.tgz', file('0'.repeat(64)), SHA);
    expect([other.action, other.diff]).toEqual([
      'update',
      { values: [{ key: 'content', before: `sha256:${'0'.repeat(64)}`, after: `sha256:${SHA}` }] },
    ]);
  });

  test('no checksum: an existing file is kept unless force, which downloads and compares', () => {
    expect(decideGetUrl(params, '/opt/tool.tgz', file('1'.repeat(64)), undefined).action).toBe('none');
    const forced = decideGetUrl({ ...params, force: 'yes' }, '/opt/tool.tgz', file('1'.repeat(64)), undefined);
    expect([forced.action, forced.data?.download?.compare]).toEqual(['update', true]);
  });

  test('bad URLs are input errors', async () => {
    const ctx = moduleContext(cannedConnection('@ absent\n'));
    await expect(getUrl.plan(ctx, { url: 'ftp://x/y', dest: '/tmp/y' })).rejects.toThrow(
      "get_url: scheme 'ftp:' is not supported",
    );
    await expect(getUrl.plan(ctx, { url: 'not a url', dest: '/tmp/y' })).rejects.toThrow(
      "get_url: url 'not a url' is not a URL",
    );
  });
});

describe('get_url on a real shell (LocalConnection) from a loopback server', () => {
  const tmp = tempDir('get-url');
  const conn = localConnection();
  let server: RepoServer;
  const run = (params: GetUrlParams, check = false) => runModule(getUrl, moduleContext(conn, { check }), params);

  beforeAll(async () => {
    mkdirSync(path.join(tmp.dir, 'www'));
    writeFileSync(path.join(tmp.dir, 'www', 'payload.txt'), 'payload\n');
    server = await serveRepo(path.join(tmp.dir, 'www'), { host: '127.0.0.1' });
  });

  afterAll(async () => {
    await server.close();
    await conn.close();
    tmp.cleanup();
  });

  test(
    'download with checksum and mode; re-run does nothing; check mode changes nothing; ' + 'drift is repaired',
    async () => {
      const dest = path.join(tmp.dir, 'payload.txt');
      const params = { url: `${server.url}payload.txt`, dest, checksum: `sha256:${SHA}`, mode: '0600' };
      const first = await run(params);
      expect([first.changed, first.result?.output]).toEqual([true, { dest, checksum_dest: `sha256:${SHA}` }]);
      expect(readFileSync(dest, 'utf8')).toBe('payload\n');
      expect(statSync(dest).mode & 0o7777).toBe(0o600);
      expect((await run(params)).plan).toEqual({
        action: 'none',
        reason: `${dest} matches sha256 ${SHA.slice(0, 12)}`,
      });

      writeFileSync(dest, 'tampered\n');
      const checked = await run(params, true);
      expect([checked.changed, readFileSync(dest, 'utf8')]).toEqual([true, 'tampered\n']);
      expect((await run(params)).changed).toBe(true);
      expect(readFileSync(dest, 'utf8')).toBe('payload\n');

      chmodSync(dest, 0o644);
      expect((await run(params)).plan.reason).toBe(`mode of ${dest} is 0644, wants 0600`);
      expect(statSync(dest).mode & 0o7777).toBe(0o600);
    },
  );

  test('a wrong checksum fails, names both hashes, and leaves no file behind', async () => {
    const dest = path.join(tmp.dir, 'bad.txt');
    const r = await run({ url: `${server.url}payload.txt`, dest, checksum: `sha256:${'a'.repeat(64)}` });
    expect(r.result?.failed).toBe(true);
    expect(r.result?.msg).toContain(`checksum mismatch: downloaded sha256 ${SHA}, expected ${'a'.repeat(64)}`);
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith('bad') || f.startsWith('.furrow-get_url'))).toEqual([]);
  });

  test('a missing URL fails with the downloader error; dest a directory takes the URL file name', async () => {
    const missing = await run({ url: `${server.url}nope.txt`, dest: path.join(tmp.dir, 'nope.txt') });
    expect(missing.result?.failed).toBe(true);
    expect(missing.result?.msg).toMatch(/404/);
    mkdirSync(path.join(tmp.dir, 'into'));
    const into = await run({ url: `${server.url}payload.txt`, dest: path.join(tmp.dir, 'into') });
    expect(into.result?.output?.dest).toBe(path.join(tmp.dir, 'into', 'payload.txt'));
    expect(readFileSync(path.join(tmp.dir, 'into', 'payload.txt'), 'utf8')).toBe('payload\n');
  });

  test(
    'force without checksum downloads and reports unchanged when the content is the ' + 'same; file:// URLs',
    async () => {
      const dest = path.join(tmp.dir, 'forced.txt');
      expect((await run({ url: `${server.url}payload.txt`, dest })).changed).toBe(true);
      expect((await run({ url: `${server.url}payload.txt`, dest })).plan.action).toBe('none');
      const forced = await run({ url: `${server.url}payload.txt`, dest, force: true });
      expect([forced.plan.action, forced.changed]).toEqual(['update', false]);
      const local = path.join(tmp.dir, 'copied.txt');
      const viaFile = await run({
        url: `file://${path.join(tmp.dir, 'www', 'payload.txt')}`,
        dest: local,
        checksum: `sha256:${SHA}`,
      });
      expect([viaFile.changed, readFileSync(local, 'utf8')]).toEqual([true, 'payload\n']);
    },
  );
});
